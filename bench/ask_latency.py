"""Measure /ask latency over HTTP against a running `spaceqa serve`.

Usage: python bench/ask_latency.py [--url http://127.0.0.1:8000] [QUESTIONS.jsonl ...]

Sends every distinct question of the files (default: our own questions in
questions/) once, one at a time, after a short warm-up on other questions, and prints
p50/p95 in milliseconds.  Each question is sent once because the engine caches query
vectors: a repeated question would measure the cache, not the service.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from pathlib import Path

QUESTIONS = Path(__file__).resolve().parents[1] / "questions"
DEFAULT_QUESTIONS = [QUESTIONS / "bundled.jsonl", QUESTIONS / "general" / "questions.jsonl"]
WARM_UP = ["What is this collection about?", "Which documents mention a treaty?", "When did it start?"]


def load_questions(paths: list[Path]) -> list[str]:
    """The distinct questions of JSONL files, in order, without the warm-up ones."""
    questions = [json.loads(line)["question"] for path in paths for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [q for q in dict.fromkeys(questions) if q not in WARM_UP]


def ask(url: str, question: str) -> float:
    body = json.dumps({"question": question}).encode()
    request = urllib.request.Request(f"{url}/ask", data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description="Measure /ask latency over HTTP.")
    parser.add_argument("questions", nargs="*", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    for question in WARM_UP:  # first-request costs (lazy imports, allocator) are not what we measure
        ask(args.url, question)
    timings = [ask(args.url, question) for question in questions]
    quantiles = statistics.quantiles(timings, n=20)
    print(f"{len(timings)} requests: p50 {statistics.median(timings):.1f} ms, p95 {quantiles[18]:.1f} ms")


if __name__ == "__main__":
    main()
