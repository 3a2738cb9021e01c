"""No code, comment or test may be drawn from the development or benchmark sets.

SpaceQA is scored on questions and articles it has never seen; text copied from the sets
it is developed on (a question, a sentence of an article) would make a rule or a test fit
them rather than the task.  Any run of ``RUN`` words that a file under ``src/``, ``tests/``
or ``questions/`` shares with ``../shared/eval`` or ``../shared/benchmarks`` fails this test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import PROJECT, SHARED

RUN = 8
WORD = re.compile(r"[^\W_]+")
CHECKED = ("src", "tests", "questions")  # questions/: our own sets must be our own words too
SUFFIXES = {".py", ".js", ".html", ".css", ".md", ".json", ".jsonl", ".txt", ".toml", ".cfg"}


def runs(text: str) -> set[int]:
    words = [w.lower() for w in WORD.findall(text)]
    return {hash(" ".join(words[i : i + RUN])) for i in range(len(words) - RUN + 1)}


def strings(value) -> list[str]:
    """Every string inside a parsed JSON value (contexts, questions, answers, ids)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


@pytest.fixture(scope="module")
def development_runs() -> set[int]:
    folders = [SHARED / "eval", SHARED / "benchmarks"]
    files = [p for folder in folders if folder.is_dir() for p in sorted(folder.rglob("*")) if p.suffix in (".json", ".jsonl")]
    if not files:
        pytest.skip("../shared is not here: nothing to compare with")
    found: set[int] = set()
    for path in files:
        text = path.read_text(encoding="utf-8")
        rows = [json.loads(line) for line in text.splitlines() if line.strip()] if path.suffix == ".jsonl" else [json.loads(text)]
        for value in strings(rows):
            found |= runs(value)
    return found


def project_files() -> list[Path]:
    return [
        p for folder in CHECKED for p in sorted((PROJECT / folder).rglob("*"))
        if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts and p.stat().st_size < 2_000_000
    ]


def test_no_project_file_shares_a_run_of_words_with_the_development_sets(development_runs):
    shared = []
    for path in project_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        words = [w.lower() for w in WORD.findall(text)]
        for i in range(len(words) - RUN + 1):
            if hash(" ".join(words[i : i + RUN])) in development_runs:
                shared.append(f"{path.relative_to(PROJECT)}: {' '.join(words[i : i + RUN])}")
                break
    assert not shared, "text drawn from ../shared/eval or ../shared/benchmarks:\n" + "\n".join(shared)


def test_the_check_finds_a_copied_run():
    assert runs("one two three four five six seven eight nine") & runs("zero one two three four five six seven eight")
    assert not runs("one two three four five six seven") & runs("one two three four five six seven")
