"""Benchmark the embedding runtimes: PyTorch float32 against ONNX Runtime (float32, int8), same model.

Usage: python bench/embed_bench.py [--rounds 11] [--data FILE] [--questions N] [--json] [--out bench/RESULTS.md | --no-write]

Measures, on this machine, for the bundled all-MiniLM-L6-v2 (or SPACEQA_MODEL):

1. Speed: the bundled corpus's passages, chunked as ``spaceqa index`` chunks them, through
   ``embed_with_spans`` (passage and sentence vectors, as a build asks for them) with each
   runtime, in interleaved rounds (the order reversed every other round) so that all meet
   the same state of this noisy machine; passages/s, medians compared (goal: int8 >= 2x
   PyTorch).  Also one question at a time through ``embed``, as /ask embeds it.
2. Quality (when --data exists, by default ../shared/eval/dev-squad2.json): every paragraph a
   document, chunked as a build chunks it; its passages and the answerable questions embedded
   with each runtime; exact search (inner product); doc recall@5 = share of questions whose
   gold paragraph is among the documents of the 5 best passages (goal: int8 loses at most 1
   point).  And the cosine of each runtime's passage vectors with PyTorch's.

Prints its section as markdown (or, with --json, the figures as JSON) and writes the
section into bench/RESULTS.md (between the embed-runtimes markers), leaving the rest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

from ask_latency import DEFAULT_QUESTIONS, load_questions  # bench/ is on the path: the script's own folder
from results import replace_section
from serve_bench import machine, revision

DATA = PROJECT.parent / "shared" / "eval" / "dev-squad2.json"
RUNTIMES = ("torch", "onnx", "onnx-int8")
NAMES = {"torch": "PyTorch float32", "onnx": "ONNX Runtime float32", "onnx-int8": "ONNX Runtime int8"}
SPEED_GOAL, RECALL_LOSS_LIMIT, K = 2.0, 1.0, 5
QUERY_SAMPLE = 60  # questions embedded one at a time per runtime and round
SECTION = "embed-runtimes"


def load_embedders(batch_size: int) -> dict:
    from spaceqa.config import Settings
    from spaceqa.pipeline import load_embedder

    return {runtime: load_embedder(Settings.load({"embedding_runtime": runtime, "batch_size": batch_size})) for runtime in RUNTIMES}


def passages(corpus: Path) -> tuple[list[str], list[list[tuple[int, int]]], list[str]]:
    """(passage texts, their sentence spans, their document ids) of ``corpus``, chunked as a build chunks it."""
    from spaceqa.build import prepare_documents
    from spaceqa.config import Settings
    from spaceqa.ingest import load_corpus

    texts, spans, doc_ids = [], [], []
    for prepared in prepare_documents(load_corpus(corpus).documents, Settings.load(environ={}).chunk_params):
        for start, end, first, last in prepared.chunks:
            texts.append(prepared.document.text[start:end])
            spans.append([(s - start, e - start) for s, e in prepared.sentences[first:last]])
            doc_ids.append(prepared.document.doc_id)
    return texts, spans, doc_ids


def interleaved(embedders: dict, measure, rounds: int) -> dict[str, list[float]]:
    """``measure(embedder)`` for every runtime, ``rounds`` times, the order reversed every other round."""
    figures = {runtime: [] for runtime in embedders}
    for number in range(rounds):
        order = list(embedders) if number % 2 == 0 else list(reversed(embedders))
        for runtime in order:
            figures[runtime].append(measure(embedders[runtime]))
        print(f"round {number + 1}: " + ", ".join(f"{r} {figures[r][-1]:.1f}" for r in embedders), file=sys.stderr, flush=True)
    return figures


def speed(embedders: dict, rounds: int, questions: list[str]) -> dict:
    texts, spans, _ = passages(PROJECT / "corpus")

    def passages_per_second(embedder) -> float:
        started = time.perf_counter()
        embedder.embed_with_spans(texts, spans)
        return len(texts) / (time.perf_counter() - started)

    def query_ms(embedder) -> float:
        started = time.perf_counter()
        for question in questions:
            embedder.embed([question])
        return (time.perf_counter() - started) * 1000 / len(questions)

    for embedder in embedders.values():
        embedder.embed_with_spans(texts[:8], spans[:8])  # warm up
    rates = interleaved(embedders, passages_per_second, rounds)
    latency = interleaved(embedders, query_ms, rounds) if questions else {}
    return {
        "passages": len(texts),
        "sentences": sum(map(len, spans)),
        "queries": len(questions),
        "passages_per_s": {r: statistics.median(v) for r, v in rates.items()},
        "passages_per_s_rounds": rates,
        "query_ms": {r: statistics.median(v) for r, v in latency.items()},
    }


def squad_questions(data: Path, limit: int) -> list[tuple[str, str]]:
    """(question, gold document) of the answerable questions of a SQuAD file (a sample of ``limit`` when given)."""
    from spaceqa.evaluate import load_items, sample

    items = [item for item in load_items(data) if item.turns[0].docs]
    return [(item.turns[0].question, item.turns[0].docs[0]) for item in sample(items, limit)]


def quality(embedders: dict, data: Path, limit: int) -> dict:
    from spaceqa.evaluate import write_squad_corpus

    with tempfile.TemporaryDirectory() as scratch:
        texts, spans, doc_ids = passages(write_squad_corpus(data, Path(scratch) / "corpus"))
    questions = squad_questions(data, limit)
    owners = np.array(doc_ids)
    figures: dict = {"documents": len(set(doc_ids)), "passages": len(texts), "questions": len(questions), "recall": {}, "cosine": {}, "passages_per_s": {}}
    vectors = {}
    for runtime, embedder in embedders.items():
        started = time.perf_counter()
        vectors[runtime] = embedder.embed_with_spans(texts, spans)[0]
        # One pass each, not interleaved: a second view of speed, on passages of SQuAD's length.
        figures["passages_per_s"][runtime] = len(texts) / (time.perf_counter() - started)
        queries = embedder.embed([q for q, _ in questions])
        figures["recall"][runtime] = 100 * doc_recall(queries, vectors[runtime], owners, [gold for _, gold in questions])
        print(f"{runtime}: doc recall@{K} {figures['recall'][runtime]:.2f} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    for runtime in embedders:
        cosines = np.sum(vectors[runtime] * vectors["torch"], axis=1)
        figures["cosine"][runtime] = {"min": float(cosines.min()), "mean": float(cosines.mean()), "p5": float(np.percentile(cosines, 5))}
    return figures


def doc_recall(queries: np.ndarray, passages: np.ndarray, owners: np.ndarray, gold: list[str]) -> float:
    """Share of queries whose gold document owns one of the passages that give the top ``K`` documents (exact search)."""
    hits = 0
    for query, wanted in zip(queries, gold):
        ranked = owners[np.argsort(-(passages @ query), kind="stable")]
        top = list(dict.fromkeys(ranked))[:K]  # documents by their best passage
        hits += wanted in top
    return hits / len(gold)


def verdict(figures: dict) -> dict:
    rates = figures["speed"]["passages_per_s"]
    ratio = {r: rates[r] / rates["torch"] for r in RUNTIMES}
    result = {"ratio": ratio, "fast": ratio["onnx-int8"] >= SPEED_GOAL}
    if figures.get("quality"):
        recall = figures["quality"]["recall"]
        result["recall_loss"] = recall["torch"] - recall["onnx-int8"]
        result["close"] = result["recall_loss"] <= RECALL_LOSS_LIMIT
    result["met"] = result["fast"] and result.get("close", False)
    return result


def default_runtime() -> str:
    from spaceqa.config import Settings

    return Settings.load(environ={}).embedding_runtime


def markdown(figures: dict, args) -> str:
    s, q, v = figures["speed"], figures.get("quality"), figures["verdict"]
    rows = [(f"{NAMES[r]}: passages/s, median of {args.rounds} rounds", f"{s['passages_per_s'][r]:.1f} ({v['ratio'][r]:.2f}x PyTorch)", "") for r in RUNTIMES]
    rows.append(("int8: passages/s against PyTorch float32", f"{v['ratio']['onnx-int8']:.2f}x", f">= {SPEED_GOAL}x: {'met' if v['fast'] else '**not met**'}"))
    rows += [(f"{NAMES[r]}: one question through `embed`, median of {args.rounds} rounds", f"{s['query_ms'][r]:.1f} ms", "") for r in s["query_ms"]]
    if q:
        rows += [(f"{NAMES[r]}: passages/s on the {q['passages']} `{args.data.name}` passages, one pass", f"{q['passages_per_s'][r]:.1f} ({q['passages_per_s'][r] / q['passages_per_s']['torch']:.2f}x PyTorch)", "") for r in RUNTIMES]
        rows += [(f"{NAMES[r]}: doc recall@{K}", f"{q['recall'][r]:.2f}", "") for r in RUNTIMES]
        rows.append(("int8: recall@5 points lost against PyTorch float32", f"{v['recall_loss']:+.2f}", f"<= {RECALL_LOSS_LIMIT}: {'met' if v['close'] else '**not met**'}"))
        rows += [
            (f"{NAMES[r]}: cosine of passage vectors with PyTorch's, min / 5th percentile / mean", " / ".join(f"{q['cosine'][r][key]:.4f}" for key in ("min", "p5", "mean")), "")
            for r in RUNTIMES
            if r != "torch"
        ]
    quality_note = (
        f"Quality: `{args.data.name}`, each of its {q['documents']} paragraphs a document, chunked as `spaceqa index` chunks them "
        f"({q['passages']} passages); its {q['questions']} answerable questions embedded by the same runtime as the passages; exact "
        f"inner-product search over the passage vectors; a hit when the question's own paragraph is among the documents of the best "
        f"passages, the first {K} distinct."
        if q
        else f"Quality: skipped, `{args.data}` is not here."
    )
    return "\n".join([
        "## Embedding runtimes",
        "",
        f"Measured {figures['date']} by `bench/embed_bench.py` at commit {figures['revision']}.",
        "",
        f"Machine: {figures['machine']}; load average {figures['load']} at the start (the machine is shared: medians of interleaved rounds).",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        *[f"| {name} | {value} | {goal} |" for name, value, goal in rows],
        "",
        f"Speed: the bundled corpus's {s['passages']} passages ({s['sentences']} sentences), chunked as `spaceqa index` chunks them, "
        f"through `embed_with_spans` (passage and sentence vectors from one pass, as a build asks for them), batch size {args.batch_size} "
        "(int8: one text at a time, which keeps each vector independent of its batch mates); the ONNX runtimes run one "
        "single-threaded pass per core side by side, PyTorch spreads each batch over the cores (as SpaceQA runs each); "
        f"{args.rounds} rounds, each runtime once per round, the order reversed every other round. Queries: the first {s['queries']} of our own "
        "questions (`questions/`), one at a time through `embed`, as /ask embeds them.",
        "",
        quality_note,
        "",
        "Runtimes: `SPACEQA_EMBEDDING_RUNTIME`. The ONNX copies are exported on first use from the model folder's weights with "
        "eager attention, their transformer layers fused by ONNX Runtime's optimiser (attention, layer norms, GELU); int8 is "
        "dynamic quantisation of the matrix products (`quantize_dynamic`, signed 7-bit weights with a scale per output column: "
        "`INT8_QUANTISATION` in `src/spaceqa/onnx_export.py`). "
        f"Goal: int8 at least {SPEED_GOAL}x PyTorch's passages/s for at most {RECALL_LOSS_LIMIT} point of doc recall@{K} lost: "
        f"**{'met' if v['met'] else 'not met'}**. `SPACEQA_EMBEDDING_RUNTIME` defaults to `{default_runtime()}`.",
        "",
        "```sh",
        ".venv/bin/python bench/embed_bench.py   # rewrites this section of bench/RESULTS.md; --json for the figures",
        "```",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11, help="interleaved rounds: this machine is noisy, the median of many is steadier")
    parser.add_argument("--batch-size", type=int, default=8, help="texts per batch (SPACEQA_BATCH_SIZE's default)")
    parser.add_argument("--data", type=Path, default=DATA, help="SQuAD file for the quality half; skipped when absent")
    parser.add_argument("--questions", type=int, default=0, help="answerable questions sampled for recall (0: all)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of markdown")
    parser.add_argument("--out", type=Path, default=PROJECT / "bench" / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="leave --out alone")
    args = parser.parse_args()

    with open("/proc/loadavg") as handle:
        load = " ".join(handle.read().split()[:3])
    embedders = load_embedders(args.batch_size)
    have_data = args.data.exists()
    if not have_data:
        print(f"{args.data} is not here: skipping the quality half", file=sys.stderr)
    questions = load_questions(DEFAULT_QUESTIONS)[:QUERY_SAMPLE]  # our own, as serve_bench asks them
    import onnxruntime

    figures = {"date": time.strftime("%Y-%m-%d"), "revision": revision(), "machine": f"{machine()}, onnxruntime {onnxruntime.__version__}", "load": load}
    figures["speed"] = speed(embedders, args.rounds, questions)
    figures["quality"] = quality(embedders, args.data, args.questions) if have_data else None
    figures["verdict"] = verdict(figures)
    text = markdown(figures, args)
    if not args.no_write:
        replace_section(args.out, SECTION, text)
    print(json.dumps(figures, indent=2) if args.json else text)


if __name__ == "__main__":
    main()
