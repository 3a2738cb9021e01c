"""Benchmark the reader's runtimes: PyTorch float32 against ONNX Runtime int8, same weights.

Usage: python bench/reader_bench.py [--reader DIR] [--data FILE] [--questions N] [--out bench/RESULTS.md]

Measures, on this machine, for the shipped reader (or --reader):

1. Quality: reader-only F1/EM (``evaluate_reader_only``: each question's own paragraph) on
   N questions sampled from --data (default ../shared/eval/dev-squad1-extra.json), with each
   runtime; the goal for int8 is at most 1 point of F1 lost.
2. Speed: the same tokenised inputs (every window of those questions, batched by question as
   /ask batches them) through each runtime, in interleaved rounds so that both meet the same
   state of this noisy machine; windows per second, medians compared (goal: int8 >= 2x).
3. Memory: the peak RSS of a fresh process that loads the reader with each runtime and reads.

Writes its section of bench/RESULTS.md (between the reader-runtimes markers), leaving the rest.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

from results import replace_section

DATA = PROJECT.parent / "shared" / "eval" / "dev-squad1-extra.json"
ROUNDS = 5
SPEED_GOAL, F1_LOSS_LIMIT = 2.0, 1.0
SECTION = "reader-runtimes"


def question_batches(reader, data: Path, questions: int, seed: int = 0) -> list[tuple[str, list[str]]]:
    """(question, the window texts of its paragraph) for a sample of questions, as the reader-only mode reads them."""
    from spaceqa.chunk import split_sentences
    from spaceqa.reader.windows import window_range

    rows = [(p["context"], qa["question"]) for a in json.loads(data.read_text())["data"] for p in a["paragraphs"] for qa in p["qas"]]
    batches = []
    for context, question in random.Random(seed).sample(rows, min(questions, len(rows))):
        spans = split_sentences(context)
        counts = reader.token_counts([context[s:e] for s, e in spans])
        budget = reader.settings.window_budget(reader.question_tokens(question))
        ranges = sorted({window_range(c, counts, budget) for c in range(len(spans))})
        batches.append((question, [context[spans[f][0] : spans[l - 1][1]] for f, l in ranges]))
    return batches


def windows_per_second(reader, batches) -> float:
    from spaceqa.reader.reading import encode

    encoded = [encode(reader.tokenizer, question, texts, reader.settings) for question, texts in batches]
    started = time.perf_counter()
    for inputs in encoded:
        reader.runtime(inputs)
    return sum(len(texts) for _, texts in batches) / (time.perf_counter() - started)


def peak_rss_mib(folder: Path, runtime: str) -> float:
    """Peak RSS of a fresh process that loads the reader and reads one question."""
    code = (
        "import resource, sys; from pathlib import Path; from spaceqa.reader import load_reader; "
        f"r, _ = load_reader(Path({str(folder)!r}), runtime={runtime!r}); r.read('Who wrote it?', ['It was written by Ann Lee in 1901.'] * 8); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(PROJECT / "src"), "PATH": ""})
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    from spaceqa.evaluate import evaluate_reader_only
    from spaceqa.reader import SHIPPED_READER, load_reader
    from spaceqa.reader.runtime import RUNTIMES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader", type=Path, default=SHIPPED_READER)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--out", type=Path, default=PROJECT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} is not here: the quality half of this benchmark needs a SQuAD file")

    readers = {runtime: load_reader(args.reader, runtime=runtime)[0] for runtime in RUNTIMES}
    quality = {}
    for runtime, reader in readers.items():
        quality[runtime] = evaluate_reader_only(reader, args.data, limit=args.questions)
        print(f"{runtime}: {quality[runtime]}", flush=True)
    batches = question_batches(readers["torch"], args.data, args.questions)
    speed = {runtime: [] for runtime in RUNTIMES}
    windows_per_second(readers["torch"], batches[:10])  # warm both up
    windows_per_second(readers["onnx-int8"], batches[:10])
    for round_number in range(ROUNDS):
        for runtime in (RUNTIMES if round_number % 2 == 0 else tuple(reversed(RUNTIMES))):
            speed[runtime].append(windows_per_second(readers[runtime], batches))
        print(f"round {round_number + 1}: " + ", ".join(f"{r} {speed[r][-1]:.1f} windows/s" for r in RUNTIMES), flush=True)
    memory = {runtime: peak_rss_mib(args.reader, runtime) for runtime in RUNTIMES}

    torch_speed, int8_speed = statistics.median(speed["torch"]), statistics.median(speed["onnx-int8"])
    ratio, loss = int8_speed / torch_speed, quality["torch"]["f1"] - quality["onnx-int8"]["f1"]
    windows = sum(len(texts) for _, texts in batches)
    rows = [
        ("reader-only F1 / EM, PyTorch float32", f"{quality['torch']['f1']} / {quality['torch']['em']}", ""),
        ("reader-only F1 / EM, ONNX Runtime int8", f"{quality['onnx-int8']['f1']} / {quality['onnx-int8']['em']}", ""),
        ("F1 lost by int8", f"{loss:+.1f}", f"<= {F1_LOSS_LIMIT}: {'met' if loss <= F1_LOSS_LIMIT else '**not met**'}"),
        (f"PyTorch float32, median of {ROUNDS} rounds", f"{torch_speed:.1f} windows/s", ""),
        (f"ONNX Runtime int8, median of {ROUNDS} rounds", f"{int8_speed:.1f} windows/s", ""),
        ("int8 / float32 throughput", f"{ratio:.2f}x", f">= {SPEED_GOAL}x: {'met' if ratio >= SPEED_GOAL else '**not met**'}"),
        ("peak memory of a process reading, PyTorch / int8", f"{memory['torch']:.0f} MiB / {memory['onnx-int8']:.0f} MiB", ""),
    ]
    chosen = "onnx-int8" if ratio >= SPEED_GOAL and loss <= F1_LOSS_LIMIT else "torch"
    text = "\n".join([
        "## Reader runtimes",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/reader_bench.py` on {args.questions} questions sampled from "
        f"`{args.data.name}` (reader only: each question's own paragraph, {windows} windows in all).",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        *[f"| {name} | {value} | {goal} |" for name, value, goal in rows],
        "",
        f"Rule: the service runs int8 when it is at least {SPEED_GOAL}x faster for at most {F1_LOSS_LIMIT} F1 lost; by "
        f"these figures that is **{chosen}**, which the reader's card names (`runtime`). Speed: the same tokenised "
        f"inputs, one batch per question as /ask sends them, through each runtime, {ROUNDS} interleaved rounds. "
        "The int8 copy is exported from the shipped float16 weights on first use (dynamic quantisation of the "
        "matrix products, `onnxruntime.quantization.quantize_dynamic`).",
        "",
        "```sh",
        ".venv/bin/python bench/reader_bench.py   # rewrites this section of bench/RESULTS.md",
        "```",
    ])
    replace_section(args.out, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
