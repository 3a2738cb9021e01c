"""Benchmark the reader's runtimes: PyTorch float32 against ONNX Runtime (float32, int8), same weights.

Usage: python bench/reader_bench.py [--reader DIR] [--data FILE] [--questions N] [--out bench/RESULTS.md]

Measures, on this machine, for the shipped reader (or --reader):

1. Quality: reader-only F1/EM (``evaluate_reader_only``: each question's own paragraph) on
   N questions sampled from --data (default ../shared/eval/dev-squad1-extra.json), with each
   runtime; the goal for int8 is at most 1 point of F1 lost.
2. Speed: the same tokenised inputs (every window of those questions, batched by question as
   /ask batches them) through each runtime, in interleaved rounds so that all meet the same
   state of this noisy machine; windows per second, medians compared (goal: int8 >= 2x).
3. Memory: the peak RSS of a fresh process that loads the reader with each runtime and reads.

Writes its section of bench/RESULTS.md (between the reader-runtimes markers), leaving the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

from results import replace_section
from serve_bench import machine, revision  # bench/ is on the path: the script's own folder

DATA = PROJECT.parent / "shared" / "eval" / "dev-squad1-extra.json"
ROUNDS = 5
SPEED_GOAL, F1_LOSS_LIMIT = 2.0, 1.0
FLOAT_NOISE = 0.2  # F1 points by which two float32 runtimes may differ through rounding alone
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
    # VmHWM, not ru_maxrss: the latter survives exec, so a child would report this process's peak.
    code = (
        "import re; from pathlib import Path; from spaceqa.reader import load_reader; "
        f"r, _ = load_reader(Path({str(folder)!r}), runtime={runtime!r}); r.read('Who wrote it?', ['It was written by Ann Lee in 1901.'] * 8); "
        "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(PROJECT / "src")})
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    import onnxruntime

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
    for reader in readers.values():
        windows_per_second(reader, batches[:10])  # warm up
    for round_number in range(ROUNDS):
        order = RUNTIMES if round_number % 2 == 0 else tuple(reversed(RUNTIMES))
        for runtime in order:
            speed[runtime].append(windows_per_second(readers[runtime], batches))
        print(f"round {round_number + 1}: " + ", ".join(f"{r} {speed[r][-1]:.1f} windows/s" for r in RUNTIMES), flush=True)
    memory = {runtime: peak_rss_mib(args.reader, runtime) for runtime in RUNTIMES}

    median = {runtime: statistics.median(speed[runtime]) for runtime in RUNTIMES}
    ratio = {runtime: median[runtime] / median["torch"] for runtime in RUNTIMES}
    loss = {runtime: quality["torch"]["f1"] - quality[runtime]["f1"] for runtime in RUNTIMES}
    windows = sum(len(texts) for _, texts in batches)
    names = {"torch": "PyTorch float32", "onnx": "ONNX Runtime float32", "onnx-int8": "ONNX Runtime int8"}
    rows = []
    for runtime in RUNTIMES:
        rows.append((f"{names[runtime]}: reader-only F1 / EM", f"{quality[runtime]['f1']} / {quality[runtime]['em']}", ""))
    for runtime in RUNTIMES:
        rows.append((f"{names[runtime]}: throughput, median of {ROUNDS} rounds", f"{median[runtime]:.1f} windows/s ({ratio[runtime]:.2f}x PyTorch)", ""))
    int8_fast, int8_close = ratio["onnx-int8"] >= SPEED_GOAL, loss["onnx-int8"] <= F1_LOSS_LIMIT
    rows += [
        ("int8: F1 lost against PyTorch float32", f"{loss['onnx-int8']:+.1f}", f"<= {F1_LOSS_LIMIT}: {'met' if int8_close else '**not met**'}"),
        ("int8: throughput against PyTorch float32", f"{ratio['onnx-int8']:.2f}x", f">= {SPEED_GOAL}x: {'met' if int8_fast else '**not met**'}"),
        ("peak memory of a process that loads the reader and reads", " / ".join(f"{names[r]} {memory[r]:.0f} MiB" for r in RUNTIMES), ""),
    ]
    # int8 when it earns it; else float32 ONNX when it is faster at the same F1 (the same
    # arithmetic, so only rounding differs); else PyTorch.
    if int8_fast and int8_close:
        chosen = "onnx-int8"
    elif ratio["onnx"] > 1.0 and abs(loss["onnx"]) <= FLOAT_NOISE:
        chosen = "onnx"
    else:
        chosen = "torch"
    text = "\n".join([
        "## Reader runtimes",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/reader_bench.py` on {args.questions} questions sampled from "
        f"`{args.data.name}` (reader only: each question's own paragraph, {windows} windows in all), at commit {revision()}.",
        "",
        f"Machine: {machine()}, onnxruntime {onnxruntime.__version__} (the ratios depend on the CPU's vector instructions).",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        *[f"| {name} | {value} | {goal} |" for name, value, goal in rows],
        "",
        f"Rule: int8 when it is at least {SPEED_GOAL}x faster than PyTorch float32 for at most {F1_LOSS_LIMIT} F1 lost; "
        f"else ONNX Runtime float32 when it is faster at the same F1 (within {FLOAT_NOISE}); else PyTorch. By these "
        f"figures that is **{chosen}**, which the reader's card names (`runtime`). Speed: the same tokenised inputs, "
        f"one batch per question as /ask sends them, through each runtime, {ROUNDS} interleaved rounds. The ONNX "
        "copies are exported from the shipped float16 weights on first use; int8 is dynamic quantisation of the "
        "matrix products (`onnxruntime.quantization.quantize_dynamic`, signed 7-bit weights with a scale per output "
        "column: `INT8_QUANTISATION` in `src/spaceqa/onnx_export.py`, as the embedder's).",
        "",
        "```sh",
        ".venv/bin/python bench/reader_bench.py   # rewrites this section of bench/RESULTS.md",
        "```",
    ])
    replace_section(args.out, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
