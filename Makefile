# Two commands for a fresh machine with Python 3.11:
#   make serve   set everything up, then serve the bundled corpus at http://127.0.0.1:8000
#   make test    set everything up, then run the whole test suite
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray

.PHONY: install install-ray chromium serve test index eval clean

install: $(STAMP)

# torch comes from the pinned lock file first, so nothing can resolve it to a CUDA build.
$(STAMP): pyproject.toml requirements.lock
	@echo "Setting up $(VENV): installing the pinned packages (the first time takes a minute or two)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)
	@echo "$(VENV) is ready."

# The `ray` extra (`spaceqa index --ray`): the tests need it, serving never does.  The main lock
# is a constraint, so a Ray pin that would move one of its packages fails here instead.
install-ray: $(RAY_STAMP)

$(RAY_STAMP): $(STAMP) requirements-ray.lock
	$(BIN)/pip install --quiet -r requirements-ray.lock -c requirements.lock
	touch $(RAY_STAMP)

serve: install
	$(BIN)/spaceqa serve

index: install
	$(BIN)/spaceqa index

# The browser tests drive Debian's Chromium through Playwright (never `playwright install`);
# the reverse-proxy test runs the README's nginx configuration in front of SpaceQA.
chromium:
	@[ -x /usr/bin/chromium ] && [ -x /usr/sbin/nginx ] || { \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && $$SUDO apt-get install -y chromium nginx; }

test: install install-ray chromium
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) index/*/ index/CURRENT .pytest_cache
