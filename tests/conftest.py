"""Fixtures: fast ones with a fake embedder for unit tests, and the real model for integration tests."""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import signal
import sys
from pathlib import Path

import pytest

from fakes import HashEmbedder, fake_reader

PROJECT = Path(__file__).resolve().parents[1]
BUNDLED_CORPUS = PROJECT / "corpus"
SHARED = PROJECT.parent / "shared"

TINY_DOCUMENTS = {
    "apollo.txt": (
        "The Apollo Program\n\n"
        "The Apollo program was run by NASA between 1961 and 1972. "
        "Neil Armstrong became the first person to walk on the Moon in July 1969. "
        "He spent about two and a half hours outside the lunar module.\n\n"
        "The last mission, Apollo 17, landed in the Taurus-Littrow valley in December 1972."
    ),
    "mir.txt": (
        "Mir Space Station\n\n"
        "Mir was a space station operated in low Earth orbit from 1986 to 2001. "
        "The core module was launched on February 20, 1986 from the Baikonur Cosmodrome. "
        "Valeri Polyakov stayed aboard Mir for 437 days, the longest single spaceflight."
    ),
    "notes/gardening.txt": (
        "Growing Tomatoes\n\n"
        "Tomatoes need at least six hours of sun a day. "
        "Water them deeply twice a week and stake the plants when they reach 30 centimetres."
    ),
}


@contextlib.contextmanager
def script_module(name: str):
    """``scripts/<name>.py`` imported as a module for the duration (scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, PROJECT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


def write_corpus(folder: Path, documents: dict[str, str]) -> Path:
    for name, text in documents.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def make_app(settings: dict, embedder, reader=None):
    """The app over ``settings`` with ``embedder`` and ``reader`` (default: the shipped one), in Flask's testing mode."""
    from spaceqa import create_app

    app = create_app(settings, embedder=embedder, reader=reader)
    app.config["TESTING"] = True
    return app


@contextlib.contextmanager
def hang_detector(seconds: float):
    """Fail with TimeoutError, rather than hang, when the block is still running after ``seconds``.

    A detector of runaway work, never a speed check: ``seconds`` must be far above what the
    block takes even on a loaded machine. Main thread only (SIGALRM), where pytest runs tests.
    """

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def fake_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", TINY_DOCUMENTS)


@pytest.fixture
def tiny_app(tmp_path: Path, tiny_corpus: Path, fake_embedder: HashEmbedder):
    return make_app({"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index"}, fake_embedder, fake_reader())


@pytest.fixture
def tiny_client(tiny_app):
    return tiny_app.test_client()


# --- the real model, loaded once per test session ------------------------------------------


@pytest.fixture(scope="session")
def real_embedder():
    """The embedder `spaceqa serve` runs by default (ONNX Runtime, int8), so the tests answer as the service does."""
    from spaceqa.config import Settings
    from spaceqa.pipeline import load_embedder

    return load_embedder(Settings())


@pytest.fixture(scope="session")
def tokenizer():
    """The bundled model's tokenizer, as the embedder, the reader and training use it."""
    from spaceqa.embed import bundled_model_path
    from spaceqa.tokens import Tokenizer

    return Tokenizer.of_model(bundled_model_path())


@pytest.fixture(scope="session")
def torch_embedder():
    """PyTorch in float32: the reference the ONNX Runtime embedders are checked against."""
    from spaceqa.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def bundled_copy(tmp_path_factory) -> Path:
    """A private copy of the bundled corpus, so no test can change the real one."""
    target = tmp_path_factory.mktemp("bundled") / "corpus"
    shutil.copytree(BUNDLED_CORPUS, target)
    return target


@pytest.fixture(scope="session")
def real_app(tmp_path_factory, bundled_copy: Path, real_embedder):
    return make_app({"corpus_dir": bundled_copy, "index_dir": tmp_path_factory.mktemp("bundled-index")}, real_embedder)


@pytest.fixture
def real_client(real_app):
    return real_app.test_client()
