"""bench/RESULTS.md holds one section per benchmark script; each rewrites only its own."""

from __future__ import annotations

from pathlib import Path

TITLE = "# Benchmark results"


def replace_section(path: Path, name: str, text: str) -> None:
    """Put ``text`` between ``<!-- name -->`` markers in ``path``, replacing what was there, or at the end."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{begin}\n{text.rstrip()}\n{end}\n"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if not old.startswith(TITLE):
        old = f"{TITLE}\n\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + block
    path.write_text(new, encoding="utf-8")
