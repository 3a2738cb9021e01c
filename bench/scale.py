"""Scale: what SpaceQA costs at growing corpus sizes, on this machine.

Usage:
    python bench/scale.py --sizes 10000,100000,1000000 --json > bench/scale.jsonl
    python bench/scale.py --retime bench/scale.jsonl   # optional: time every size again, back to back (today's ef_search)
    python bench/scale.py --report bench/scale.jsonl   # bench/scale.png and the "Scale" section of bench/RESULTS.md

Per size (passages), one JSON object per line with ``--json``: passages, sentences, build_s,
index_mb (on disk), load_s (``load_index``, as the server opens it), serve_rss_mb (peak of a
separate process that loads the models and the index and answers every question),
retrieve_p50_ms / retrieve_p95_ms (embed the question, then the retriever's candidates: the
engine's work without the reader), ask_p50_ms / ask_p95_ms (``Engine.ask``, reader included)
and dense_recall_at_10 (the index's passage search against exact search, same query vectors).
A last line ("real_vectors") gives HNSW recall@10 on the real model's vectors of every pool
sentence (about 90,000 texts), searched with the index's own HNSW settings.

The corpus is real text: the sentences of SQuAD's training paragraphs (``../shared/train``),
split once by SpaceQA's splitter, recombined at random into documents of 40 sentences until
the size is reached, then chunked by SpaceQA's chunker.  Embedding a million passages with
the real model would take this 2-core machine a day, so the *index* uses a fast stand-in:
every pool sentence is embedded once with the real model (the embedder SpaceQA serves with),
a sentence's vector is its pool sentence's, and a passage's vector is the normalised mean of
its sentences' vectors.  Questions are embedded with the real model, as when serving.
``build_s`` is therefore assembling and writing the index (terms, BM25, FAISS, files), not
splitting or embedding: their rates are measured here (``split_sentences_per_s``) and in
bench/embed_bench.py, and RESULTS.md adds them up for a full build.

Nothing here is a test: it measures.  Work files go to ``--work`` (large: ~13 GB at a million).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

from spaceqa.chunk import ChunkParams, chunk_sentences, count_words, split_sentences, warm_up  # noqa: E402
from spaceqa.index import ChunkTable, IndexContent, SentenceTable, load_index, load_passage_search, search_plan, write_index  # noqa: E402
from spaceqa.records import Document  # noqa: E402

SQUAD_TRAIN = PROJECT.parent / "shared" / "train" / "squad-train.json"
SENTENCES_PER_DOCUMENT = 40
QUESTIONS = 100  # per size: latency percentiles and recall
SEED = 7


# --- the pool: real sentences, split and embedded once --------------------------------------


def pool_sentences(work: Path, paragraph_limit: int | None = None) -> tuple[list[str], list[str], float]:
    """Every sentence of the training paragraphs (or of the first ``paragraph_limit``), some questions, and the splitter's sentences/s."""
    cache = work / f"pool-{paragraph_limit or 'all'}.json"
    if cache.exists():
        data = json.loads(cache.read_text())
        return data["sentences"], data["questions"], data["split_sentences_per_s"]
    squad = json.loads(SQUAD_TRAIN.read_text())
    paragraphs = [p for article in squad["data"] for p in article["paragraphs"]][:paragraph_limit]
    warm_up()
    started, sentences = time.perf_counter(), []
    for paragraph in paragraphs:
        text = paragraph["context"]
        sentences += [text[s:e] for s, e in split_sentences(text)]
    rate = len(sentences) / (time.perf_counter() - started)
    questions = [qa["question"] for p in random.Random(SEED).sample(paragraphs, min(2000, len(paragraphs))) for qa in p["qas"][:1]]
    work.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"sentences": sentences, "questions": questions, "split_sentences_per_s": rate}))
    return sentences, questions, rate


def embedded(texts: list[str], embedder, work: Path, label: str) -> np.ndarray:
    key = hashlib.sha256((embedder.name + "\n" + "\n".join(texts)).encode()).hexdigest()[:12]
    cache = work / f"{label}-{key}.npy"
    if not cache.exists():
        log(f"embedding {len(texts)} {label} with {embedder.name}")
        np.save(cache, embedder.embed(texts, show_progress=True))
    return np.load(cache)


# --- a corpus of a given size ---------------------------------------------------------------


def make_content(size: int, sentences: list[str], vectors: np.ndarray, params: ChunkParams, scratch: Path) -> IndexContent:
    """Documents of random pool sentences until ``size`` passages; vectors from the pool (see the module doc).

    The sentence vectors (gigabytes at a million passages) are written to a memory-mapped
    file in ``scratch`` rather than held in memory.
    """
    rng = np.random.default_rng(SEED)
    words = np.array([count_words(s) for s in sentences])
    documents, sentence_rows, chunk_rows, pool_ids = [], [], [], []
    chunk_vectors = np.empty((size, vectors.shape[1]), dtype=np.float32)
    while len(chunk_rows) < size:
        picked = rng.integers(0, len(sentences), SENTENCES_PER_DOCUMENT)
        ranges = chunk_sentences(words[picked].tolist(), params)[: size - len(chunk_rows)]
        picked = picked[: ranges[-1][1]]
        number, base, spans, offset = len(documents), len(sentence_rows), [], 0
        for i in picked:
            spans.append((offset, offset + len(sentences[i])))
            offset += len(sentences[i]) + 1
        body = " ".join(sentences[i] for i in picked)
        doc_id = f"scale/{number:07d}.txt"
        documents.append(Document(doc_id, f"Document {number}", body, hashlib.sha256(body.encode()).hexdigest()))
        sentence_rows += [(number, s, e) for s, e in spans]
        doc_vectors = vectors[picked]
        for f, l in ranges:
            mean = doc_vectors[f:l].mean(axis=0)
            chunk_vectors[len(chunk_rows)] = mean / np.linalg.norm(mean)
            chunk_rows.append((number, spans[f][0], spans[l - 1][1], base + f, base + l))
        pool_ids.append(picked)
    pool_ids = np.concatenate(pool_ids)
    sentence_vectors = np.lib.format.open_memmap(scratch / f"sentence-vectors-{size}.npy", mode="w+", dtype=np.float32, shape=(len(pool_ids), vectors.shape[1]))
    for start in range(0, len(pool_ids), 100_000):
        sentence_vectors[start : start + 100_000] = vectors[pool_ids[start : start + 100_000]]
    doc_ids = [d.doc_id for d in documents]
    return IndexContent(
        documents=documents,
        sentences=SentenceTable(doc_ids, np.array(sentence_rows, dtype=np.int64)),
        chunks=ChunkTable(doc_ids, np.array(chunk_rows, dtype=np.int64)),
        sentence_vectors=sentence_vectors,
        chunk_vectors=chunk_vectors[: len(chunk_rows)],
    )


# --- measuring --------------------------------------------------------------------------------


def recall_at_10(search_index, vectors: np.ndarray, queries: np.ndarray) -> float:
    """Share of the exact top 10 (numpy, every vector) that ``search_index`` finds."""
    _, found = search_index.search(queries, 10)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    return float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found.tolist(), exact.tolist())]))


def hnsw_recall_on_real_vectors(vectors: np.ndarray, queries: np.ndarray) -> dict:
    import faiss

    plan = search_plan(10**9)["passages"]
    index = faiss.IndexHNSWFlat(vectors.shape[1], plan["neighbours"], faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = plan["ef_construction"]
    index.add(vectors)
    index.hnsw.efSearch = plan["ef_search"]
    return {"kind": "real_vectors", "texts": len(vectors), "queries": len(queries), "hnsw": plan, "recall_at_10": round(recall_at_10(index, vectors, queries), 4)}


def serve_measurements(index_dir: Path, questions: list[str]) -> dict:
    """In this process (the caller runs it as a fresh one): load as the server does, then answer."""
    from spaceqa.config import Settings
    from spaceqa.pipeline import Engine, load_embedder, load_reader
    from spaceqa.retrieve import Query, Retriever
    from spaceqa.text import terms

    settings = Settings.load()
    embedder = load_embedder(settings)
    reader, calibration = load_reader(settings)
    started = time.perf_counter()
    index = load_index(index_dir)
    load_s = time.perf_counter() - started
    engine = Engine(embedder, index, reader, calibration, min_score=settings.min_score)
    retriever = Retriever(index)
    retrieve, ask = [], []
    for question in questions:
        started = time.perf_counter()
        retriever.candidates(Query(embedder.embed([question])[0], terms(question)))
        retrieve.append(time.perf_counter() - started)
    for question in questions:
        started = time.perf_counter()
        engine.ask(question + " ")  # another text than above: the engine's query cache stays cold
        ask.append(time.perf_counter() - started)
    with open("/proc/loadavg") as handle:
        load_average = float(handle.read().split()[0])
    return {
        "load_average": load_average,  # of the machine while timing: latencies are only comparable at similar load
        "load_s": round(load_s, 2),
        "serve_rss_mb": round(peak_rss_kb() / 1024),
        **percentiles("retrieve", retrieve),
        **percentiles("ask", ask),
    }


def peak_rss_kb() -> int:
    """This process's peak resident memory since it started (``VmHWM``).

    Not ``getrusage``'s ``ru_maxrss``: Linux carries that over ``exec`` from the process that
    forked this one, so a server started by a run holding a million-passage build read as
    19 GB, the builder's peak rather than its own.
    """
    with open("/proc/self/status") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return int(fields["VmHWM"].split()[0])


def percentiles(name: str, seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {f"{name}_p50_ms": round(statistics.median(ordered) * 1000, 1), f"{name}_p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1)}


def folder_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the run ----------------------------------------------------------------------------------


def run(sizes: list[int], work: Path, as_json: bool, paragraph_limit: int | None) -> None:
    from spaceqa.config import Settings
    from spaceqa.pipeline import load_embedder

    if not SQUAD_TRAIN.exists():
        sys.exit(f"scale.py needs SQuAD's training paragraphs at {SQUAD_TRAIN} (real text to recombine)")
    work.mkdir(parents=True, exist_ok=True)
    params = Settings.load().chunk_params
    sentences, questions, split_rate = pool_sentences(work, paragraph_limit)
    embedder = load_embedder(Settings.load())
    vectors = embedded(sentences, embedder, work, "sentences")
    questions = questions[:QUESTIONS]
    query_vectors = embedded(questions, embedder, work, "questions")
    real = hnsw_recall_on_real_vectors(vectors, query_vectors)
    print(json.dumps(real) if as_json else real, flush=True)
    # Each size is built, then timed in a fresh process, and printed at once: a run cut short
    # keeps the sizes it finished.
    for size in sizes:
        index_dir = work / f"index-{size}"
        shutil.rmtree(index_dir, ignore_errors=True)
        log(f"{size} passages: assembling")
        started = time.perf_counter()
        content = make_content(size, sentences, vectors, params, work)
        assembled = time.perf_counter() - started
        manifest = write_index(index_dir, content, model=embedder.name, chunking=params.to_dict())
        build_s = time.perf_counter() - started
        recall = recall_at_10(load_passage_search(index_dir), content.chunk_vectors, query_vectors)
        result = {
            "passages": len(content.chunks), "sentences": len(content.sentences), "documents": len(content.documents),
            "search": manifest.search, "build_s": round(build_s, 1), "assemble_s": round(assembled, 1),
            "index_mb": folder_mb(index_dir / manifest.version), "dense_recall_at_10": round(recall, 4), "split_sentences_per_s": round(split_rate, 1),
        }
        log(f"{size} passages: built in {build_s:.0f} s, recall@10 {recall:.3f}; serving in a fresh process")
        del content
        (work / f"sentence-vectors-{size}.npy").unlink()
        result.update(timed_in_fresh_process(index_dir, work, paragraph_limit))
        print(json.dumps(result) if as_json else result, flush=True)


def timed_in_fresh_process(index_dir: Path, work: Path, paragraph_limit: int | None) -> dict:
    measured = subprocess.run(
        [sys.executable, __file__, "--serve", str(index_dir), "--work", str(work), "--paragraphs", str(paragraph_limit or 0)],
        check=True, capture_output=True, text=True, env=dict(os.environ, TOKENIZERS_PARALLELISM="false"),
    )
    return json.loads(measured.stdout.strip().splitlines()[-1])


def retime(results_file: Path, work: Path, paragraph_limit: int | None) -> None:
    """Time the indexes of an earlier run again, one size after the other, and rewrite its lines.

    Builds of large sizes take long enough for the machine's load to change between sizes;
    timing every size again within a few minutes makes their latencies comparable.
    """
    from spaceqa.config import Settings
    from spaceqa.pipeline import load_embedder

    _, questions, _ = pool_sentences(work, paragraph_limit)
    query_vectors = embedded(questions[:QUESTIONS], load_embedder(Settings.load()), work, "questions")
    lines = [json.loads(line) for line in results_file.read_text().splitlines() if line.strip()]
    for row in lines:
        if "passages" in row:
            index_dir = work / f"index-{row['passages']}"
            row["search"] = with_current_search_settings(index_dir)
            passages = load_passage_search(index_dir)
            row["dense_recall_at_10"] = round(recall_at_10(passages, passages.reconstruct_n(0, passages.ntotal), query_vectors), 4)
            log(f"{row['passages']} passages: recall@10 {row['dense_recall_at_10']:.3f}; timing again")
            row.update(timed_in_fresh_process(index_dir, work, paragraph_limit), retimed=time.strftime("%H:%M"))
    results_file.write_text("".join(json.dumps(row) + "\n" for row in lines))


def with_current_search_settings(index_dir: Path) -> dict:
    """Give a built index today's search-time settings (HNSW ``ef_search``), as a build would record them now.

    The graph does not depend on them, so a change is measured without a rebuild (forty
    minutes at a million passages).  The build-time settings must still match.
    """
    from spaceqa.index import read_manifest

    manifest = read_manifest(index_dir)
    plan = search_plan(manifest.counts["chunks"])

    def built_with(search: dict) -> dict:
        return {**search, "passages": {k: v for k, v in search["passages"].items() if k != "ef_search"}}

    if built_with(manifest.search) != built_with(plan):
        sys.exit(f"{index_dir} was built with other settings ({manifest.search}); build it again")
    path = index_dir / manifest.version / "manifest.json"
    data = json.loads(path.read_text())
    data["search"] = plan
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return plan


def report(results_file: Path, plot_file: Path, results_md: Path) -> None:
    """The plot, and the Scale section of RESULTS.md, from the JSON lines of a run."""
    from results import replace_section

    lines = [json.loads(line) for line in results_file.read_text().splitlines() if line.strip()]
    rows = [r for r in lines if "passages" in r]
    real = next((r for r in lines if r.get("kind") == "real_vectors"), None)
    plot(rows, plot_file)
    replace_section(results_md, "scale", markdown(rows, real, results_file, plot_file))


def markdown(rows: list[dict], real: dict | None, results_file: Path, plot_file: Path) -> str:
    smallest, largest = rows[0], rows[-1]
    columns = [
        ("passages", "passages", "{:,}"), ("sentences", "sentences", "{:,}"), ("search", "passage search", None),
        ("build_s", "build (s)", "{:,.0f}"), ("index_mb", "index on disk (MB)", "{:,.0f}"), ("load_s", "load (s)", "{:.1f}"),
        ("serve_rss_mb", "server peak RSS (MB)", "{:,.0f}"), ("retrieve_p50_ms", "retrieve p50 (ms)", "{:.1f}"),
        ("retrieve_p95_ms", "retrieve p95 (ms)", "{:.1f}"), ("ask_p50_ms", "ask p50 (ms)", "{:.0f}"), ("ask_p95_ms", "ask p95 (ms)", "{:.0f}"),
        ("dense_recall_at_10", "dense recall@10", "{:.3f}"),
    ]

    def cell(row, key, form):
        if key == "search":
            return row["search"]["passages"]["type"]
        return form.format(row[key])

    ratio = largest["retrieve_p50_ms"] / smallest["retrieve_p50_ms"]
    unfinished = (
        [f"The run stopped before 1,000,000 passages: the bounds below are checked at {largest['passages']:,}, the largest size measured.", ""]
        if largest["passages"] < 1_000_000 else []
    )
    goals = [
        ("serve peak RSS", f"{largest['serve_rss_mb']:,.0f} MB", "<= 8,000 MB", largest["serve_rss_mb"] <= 8000),
        ("load", f"{largest['load_s']:.1f} s", "<= 60 s", largest["load_s"] <= 60),
        (f"retrieve p50 against {smallest['passages']:,} passages", f"{ratio:.2f}x", "<= 3x", ratio <= 3),
        ("dense recall@10 against exact search", f"{largest['dense_recall_at_10']:.3f}", ">= 0.95", largest["dense_recall_at_10"] >= 0.95),
    ]
    table = [
        "| " + " | ".join(title for _, title, _ in columns) + " |",
        "|" + "---|" * len(columns),
        *["| " + " | ".join(cell(row, key, form) for key, _, form in columns) + " |" for row in rows],
    ]
    real_line = (
        f"HNSW on the real model's vectors: recall@10 {real['recall_at_10']:.3f} against exact search, over the {real['texts']:,} "
        f"pool sentences embedded by the served model, {real['queries']} questions, the index's own HNSW settings."
        if real else ""
    )
    return "\n".join([
        "## Scale",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/scale.py` ({results_file.name}); machine: {platform_line()}.",
        "",
        *table,
        "",
        *([f"Load average of the machine while timing: {', '.join(str(r['load_average']) for r in rows)} (the latencies are this shared "
            "machine's under that load; compare sizes timed at similar load).", ""] if all("load_average" in r for r in rows) else []),
        *unfinished,
        f"At {largest['passages']:,} passages:",
        "",
        "| goal | measured | bound | |",
        "|---|---|---|---|",
        *[f"| {name} | {value} | {bound} | {'met' if ok else '**not met**'} |" for name, value, bound, ok in goals],
        "",
        real_line,
        "",
        f"![cost against corpus size]({plot_file.name})",
        "",
        "How: the corpus is SQuAD training sentences (split once by SpaceQA's splitter: "
        f"{largest['split_sentences_per_s']:.0f} sentences/s) recombined at random into documents of {SENTENCES_PER_DOCUMENT} sentences, "
        "chunked by SpaceQA's chunker. The index's vectors are a stand-in (embedding a million passages would take this machine "
        "about ten hours): a sentence's vector is its pool sentence's, embedded once by the served model, and a passage's the normalised "
        "mean of its sentences'. Questions are embedded by the served model as when serving. `build_s` is assembling and writing the "
        "index (terms, BM25, FAISS, files), without splitting or embedding. `load_s`, the peak RSS and the latencies come from a "
        f"fresh process per size that loads the models and the index and asks {QUESTIONS} questions one at a time"
        f"{' (every size timed again back to back with --retime, so that their latencies share one load; --retime also gives each index the search-time settings of today, HNSW ef_search, and measures its recall again)' if any('retimed' in r for r in rows) else ''}: retrieve = embed "
        "the question + the retriever's candidates; ask = `Engine.ask`, the reader included. Dense recall@10: the index's passage "
        "search (exact below 50,000 passages) against exact numpy search, same query vectors.",
        "",
        "```sh",
        ".venv/bin/python bench/scale.py --sizes 10000,100000,1000000 --json > bench/scale.jsonl",
        ".venv/bin/python bench/scale.py --report bench/scale.jsonl",
        "```",
    ])


def platform_line() -> str:
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    costs = [("build_s", "build (s)"), ("index_mb", "index on disk (MB)"), ("load_s", "load (s)"), ("serve_rss_mb", "server peak RSS (MB)"),
             ("retrieve_p50_ms", "retrieve p50 (ms)"), ("ask_p50_ms", "ask p50 (ms)")]
    figure, axes = plt.subplots(2, 3, figsize=(12, 7))
    sizes = [r["passages"] for r in rows]
    for axis, (key, label) in zip(axes.flat, costs):
        axis.plot(sizes, [r[key] for r in rows], marker="o")
        axis.set_xscale("log")
        axis.set_ylim(bottom=0)  # from zero: a latency that barely moves should look it
        axis.set_title(label)
        axis.set_xlabel("passages")
        axis.grid(True, alpha=0.3)
    figure.suptitle("SpaceQA cost against corpus size (bench/scale.py)")
    figure.tight_layout()
    figure.savefig(out, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="corpus sizes in passages, comma-separated")
    parser.add_argument("--work", type=Path, default=PROJECT / "bench" / ".scale-work", help="folder for the pool and the indexes")
    parser.add_argument("--json", action="store_true", help="one JSON object per size and line")
    parser.add_argument("--paragraphs", type=int, default=0, help="recombine only the first N training paragraphs (quick runs); 0: all")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # internal: the fresh serving process
    parser.add_argument("--retime", type=Path, help="time the indexes of the run in this JSON-lines file again, back to back, and rewrite it")
    parser.add_argument("--report", type=Path, help="from the JSON lines of a run: the plot and the Scale section of RESULTS.md")
    parser.add_argument("--out", type=Path, default=PROJECT / "bench" / "scale.png")
    args = parser.parse_args()
    if args.serve:
        _, questions, _ = pool_sentences(args.work, args.paragraphs or None)
        print(json.dumps(serve_measurements(args.serve, questions[:QUESTIONS])))
    elif args.retime:
        retime(args.retime, args.work, args.paragraphs or None)
    elif args.report:
        report(args.report, args.out, PROJECT / "bench" / "RESULTS.md")
    else:
        run([int(s) for s in args.sizes.split(",")], args.work, args.json, args.paragraphs or None)


if __name__ == "__main__":
    main()
