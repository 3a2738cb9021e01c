"""Benchmark the service as users run it, and write bench/RESULTS.md.

Usage: python bench/serve_bench.py [--out bench/RESULTS.md] [--squad ../shared/benchmarks/squad/squad-dev.json]

Measures, on this machine, with the real model:

1. Index builds: `spaceqa index` on the bundled corpus, and on the SQuAD paragraphs written as
   a corpus (when the file exists), each into a temporary index.  Its own chunks/s against
   raw `model.encode` throughput on the same chunk texts (goal: >= 0.9x), and its peak memory.
2. `spaceqa serve` over the bundled corpus as a subprocess: the FLOOR (one query embedding
   plus one reader pass over the windows the server reads for that question, in this process,
   same questions, median), /ask p50/p95 over HTTP one request at a time, p50/floor (goal:
   <= 1.3x), throughput with 8 concurrent clients, the server's peak memory, and how long it
   takes to start.
3. A first start as a new user meets it: no ONNX copy of either model exported yet, so the
   server loads both in PyTorch and exports them before it answers; its start time and peak
   memory, which are above every later start's.

Questions are our own (questions/), never an evaluation set.  No question
is sent twice to one server: the engine caches query vectors, so a repeat would measure the
cache.  The concurrent run uses each question once more with its first space doubled: the
same tokens, so the same work, but a different text, so no cache hit.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))  # this checkout's spaceqa, here and in the subprocesses (ENV)

from ask_latency import DEFAULT_QUESTIONS, WARM_UP, load_questions  # bench/ is on the path: the script's own folder
from results import replace_section

BUNDLED = PROJECT / "corpus"
SQUAD = PROJECT.parent / "shared" / "benchmarks" / "squad" / "squad-dev.json"
CLIENTS = 8
BUILD_ROUNDS = 5  # builds and encodes, interleaved; medians are compared
BLOCK = 20  # questions per block when floors and /ask requests alternate
DEFAULT_ENCODE_BATCH = 32  # SentenceTransformer.encode's own default
FLOOR_GOAL = 1.3
BUILD_GOAL = 0.9
# The subprocesses run this checkout's code, whatever is installed in the environment.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT / "src"), os.environ.get("PYTHONPATH")])), "PYTHONUNBUFFERED": "1"}


# --- index builds ------------------------------------------------------------------------


def run_measured(args: list[str], log: Path) -> tuple[int, float, int]:
    """Run ``spaceqa ARGS``; return (exit status, wall seconds, peak RSS in bytes) of that one process."""
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "spaceqa.cli", *args], stdout=out, stderr=subprocess.STDOUT, env=ENV)
        # wait4 gives this child's own rusage; getrusage(RUSAGE_CHILDREN) would mix all children.
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.perf_counter() - started, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def build(name: str, corpus: Path, index_dir: Path, scratch: Path) -> dict:
    log = scratch / f"index-{name}.log"
    status, wall, peak = run_measured(["index", "--corpus", str(corpus), "--index", str(index_dir)], log)
    output = log.read_text()
    if status != 0:
        sys.exit(f"spaceqa index failed on {corpus}:\n{output}")
    summary = next(line for line in reversed(output.splitlines()) if "chunks/s" in line)
    chunks = int(re.search(r"(\d+) chunks\b", summary).group(1))
    rate = float(re.search(r"\(([\d.]+) chunks/s\)", summary).group(1))
    print(f"  {name}: {summary}", flush=True)
    return {"name": name, "corpus": corpus, "index": index_dir, "summary": summary, "chunks": chunks, "rate": rate, "wall": wall, "peak_rss": peak}


def build_against_encode(corpus: Path, scratch: Path) -> dict:
    """In one process, interleaved: full builds, and ``model.encode`` alone on the same passages.

    Rounds alternate so that both sides meet the same state of this noisy machine; medians are
    compared.  ``model.encode`` is run with its default batch size (the goal's baseline) and with
    the batch size the build uses (what the build's own work beyond the model costs).
    """
    from spaceqa.build import build_index
    from spaceqa.config import Settings
    from spaceqa.embed import SentenceTransformerEmbedder
    from spaceqa.index import load_index

    settings = Settings.load()
    embedder = SentenceTransformerEmbedder(batch_size=settings.batch_size)
    index_dir = scratch / f"interleaved-{corpus.name}"
    first = build_index(corpus, index_dir, embedder, settings.chunk_params, full=True)  # also warms everything up
    index = load_index(index_dir)
    passages = [index.chunk_text(i) for i in range(len(index.chunks))]
    model = embedder._model  # the very model spaceqa loads, called without our wrapper
    builds, defaults, same = [], [], []
    for _ in range(BUILD_ROUNDS):
        started = time.perf_counter()
        model.encode(passages, batch_size=DEFAULT_ENCODE_BATCH, normalize_embeddings=True)
        defaults.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.encode(passages, batch_size=settings.batch_size, normalize_embeddings=True)
        same.append(time.perf_counter() - started)
        builds.append(build_index(corpus, index_dir, embedder, settings.chunk_params, full=True).seconds)
    return {
        "passages": len(passages),
        "sentences": first.sentences,
        "batch_size": settings.batch_size,
        "build_rate": len(passages) / statistics.median(builds),
        "rate_default": len(passages) / statistics.median(defaults),
        "rate_same": len(passages) / statistics.median(same),
    }


# --- the server --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`spaceqa serve` as a subprocess, its stderr kept in a file."""

    def __init__(self, corpus: Path, index_dir: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = log
        self._out = open(log, "w")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "spaceqa.cli", "serve", "--corpus", str(corpus), "--index", str(index_dir), "--port", str(self.port)],
            stdout=self._out, stderr=subprocess.STDOUT, env={**ENV, **(env or {})},
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"spaceqa serve exited:\n{log.read_text()}")
            try:
                if self.get("/healthz")[0] == 200:
                    self.started_in = time.perf_counter() - started  # seconds from launch until /healthz answers
                    return
            except OSError:
                time.sleep(0.25)
        self.stop()
        sys.exit("spaceqa serve did not become healthy in 5 minutes")

    def get(self, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def peak_rss(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._out.close()


def first_start(index_dir: Path, scratch: Path) -> dict:
    """`spaceqa serve` as a new user's first start finds it: no ONNX copy of either model yet.

    The reader is a copy of the shipped one without its exported ``reader-*.onnx`` and the
    user cache (``XDG_CACHE_HOME``) is empty, so both models are loaded in PyTorch and
    exported before the server answers.  Every later start reuses those copies.
    """
    from spaceqa.reader import SHIPPED_READER

    reader = scratch / "first-start-reader"
    reader.mkdir()
    for path in SHIPPED_READER.iterdir():
        if path.is_file() and not path.name.startswith("reader-"):
            shutil.copy2(path, reader / path.name)
    env = {"XDG_CACHE_HOME": str(scratch / "first-start-cache"), "SPACEQA_READER": str(reader)}
    server = Server(BUNDLED, index_dir, scratch / "first-start.log", env=env)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        first_ms, _ = ask(connection, WARM_UP[0])
        connection.close()
        return {"started_in": server.started_in, "first_ask_ms": first_ms, "peak_rss": server.peak_rss()}
    finally:
        server.stop()


def ask(connection: http.client.HTTPConnection, question: str) -> tuple[float, float]:
    """One /ask on a kept-alive connection; (client ms, the server's took_ms)."""
    body = json.dumps({"question": question})
    started = time.perf_counter()
    connection.request("POST", "/ask", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"/ask answered {response.status} to {question!r}: {payload[:200]!r}")
    return elapsed, json.loads(payload)["took_ms"]


def concurrent(port: int, questions: list[str], clients: int) -> tuple[float, list[float], int]:
    """Send every question once from ``clients`` threads; (wall seconds, latencies ms, errors)."""
    pending = list(reversed(questions))
    guard = threading.Lock()
    latencies: list[float] = []
    errors = [0]

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with guard:
                if not pending:
                    break
                question = pending.pop()
            try:
                elapsed, _ = ask(connection, question)
                with guard:
                    latencies.append(elapsed)
            except Exception:
                with guard:
                    errors[0] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, errors[0]


def floor_ms(engine, question: str) -> float:
    """One query embedding and one reader pass over the windows /ask reads for ``question``."""
    texts = engine.window_texts(question)  # not timed: which windows, found as the server finds them
    started = time.perf_counter()
    engine.embedder.embed([question])
    engine.reader.read(question, texts)
    return (time.perf_counter() - started) * 1000


def paired(port: int, index_dir: Path, questions: list[str]) -> tuple[list[float], list[float], list[float], list[float]]:
    """The FLOOR back to back, then blocks of FLOORs alternating with blocks of /ask.

    Returns (back-to-back floor ms, block floor ms, client ms, server took_ms).  The FLOOR is
    one query embedding and one reader pass over the same windows, with the models the server
    uses, in this process, while the server idles.  The alternating blocks put both sides in the same state of this shared machine, as
    a slower spell weighs on both alike.  Blocks, not single requests: a query embedded in this
    process just before each request slows that request down (two model processes on two
    cores evict each other from the CPU caches), which no real server has next to it.
    """
    from spaceqa.config import Settings
    from spaceqa.pipeline import open_engine

    engine = open_engine(Settings.load({"corpus_dir": BUNDLED, "index_dir": index_dir}), build_if_needed=False)
    for question in WARM_UP:
        floor_ms(engine, question)
    warm_ms = [floor_ms(engine, question) for question in questions]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    block_ms, client_ms, took_ms = [], [], []
    for start in range(0, len(questions), BLOCK):
        block = questions[start : start + BLOCK]
        block_ms += [floor_ms(engine, f"{question} ") for question in block]  # not the warm-up's text: no cached state
        for question in block:
            elapsed, took = ask(connection, question)
            client_ms.append(elapsed)
            took_ms.append(took)
    connection.close()
    return warm_ms, block_ms, client_ms, took_ms


# --- report ------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    import torch

    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )


def revision() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True, check=True).stdout.strip()
        # The results file itself is rewritten by every run: its own changes are not the code's.
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT, capture_output=True, text=True, check=False).stdout
        dirty = [line for line in status.splitlines() if not line.endswith("bench/RESULTS.md")]
        return commit + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def write_report(out: Path, r: dict) -> None:
    warm_ratio, ratio = r["p50"] / r["warm_p50"], r["p50"] / r["floor_p50"]
    rows = [
        ("FLOOR: one query embedding + one reader pass, back to back, median", f"{r['warm_p50']:.1f} ms (p95 {r['warm_p95']:.1f} ms)", ""),
        ("FLOOR: the same, in blocks alternating with the /ask blocks, median", f"{r['floor_p50']:.1f} ms (p95 {r['floor_p95']:.1f} ms)", ""),
        ("/ask over HTTP, one at a time, p50", f"{r['p50']:.1f} ms", ""),
        ("/ask over HTTP, one at a time, p95", f"{r['p95']:.1f} ms", ""),
        ("/ask p50 / FLOOR (back to back)", f"{warm_ratio:.2f}x", f"<= {FLOOR_GOAL}x: {verdict(warm_ratio <= FLOOR_GOAL)}"),
        ("/ask p50 / FLOOR (alternating blocks)", f"{ratio:.2f}x", f"<= {FLOOR_GOAL}x: {verdict(ratio <= FLOOR_GOAL)}"),
        ("server's own `took_ms`, p50 (engine only)", f"{r['took_p50']:.1f} ms", ""),
        (f"throughput, {CLIENTS} concurrent clients", f"{r['throughput']:.1f} requests/s ({r['load_n']} requests, {r['load_errors']} errors)", ""),
        (f"/ask latency under {CLIENTS} clients, p50 / p95", f"{r['load_p50']:.0f} ms / {r['load_p95']:.0f} ms", ""),
        ("peak memory (max RSS), `spaceqa serve`", mib(r["serve_rss"]), ""),
        ("`spaceqa serve` start, launch to /healthz answering (index built, models exported)", f"{r['started_in']:.1f} s", ""),
        (
            "first start: nothing exported yet (launch to /healthz; one /ask; peak memory)",
            f"{r['first_start']['started_in']:.1f} s; {r['first_start']['first_ask_ms']:.0f} ms; {mib(r['first_start']['peak_rss'])}",
            "once per machine: both models are exported to ONNX",
        ),
    ]
    for b in r["builds"]:
        raw = b["raw"]
        ratio, ratio_same = raw["build_rate"] / raw["rate_default"], raw["build_rate"] / raw["rate_same"]
        rows += [
            (f"index build, {b['name']} ({raw['passages']} chunks, {raw['sentences']} sentences), median of {BUILD_ROUNDS}", f"{raw['build_rate']:.1f} chunks/s", ""),
            (f"`model.encode` on the same chunk texts (its default batch of {DEFAULT_ENCODE_BATCH}), median", f"{raw['rate_default']:.1f} chunks/s", ""),
            (f"build / `model.encode`, {b['name']}", f"{ratio:.2f}x", f">= {BUILD_GOAL}x: {verdict(ratio >= BUILD_GOAL)}"),
            (
                f"`model.encode` at the build's batch size ({raw['batch_size']}), and build / that",
                f"{raw['rate_same']:.1f} chunks/s; {ratio_same:.2f}x",
                "the build's own work beyond the model",
            ),
            (f"`spaceqa index` once, as it reports, {b['name']}", f"{b['rate']:.1f} chunks/s", ""),
            (f"peak memory (max RSS), `spaceqa index`, {b['name']}", mib(b["peak_rss"]), ""),
        ]
    lines = [
        "## The service: /ask and index builds",
        "",
        f"Measured {r['date']} by `bench/serve_bench.py` at commit {r['revision']}.",
        "",
        f"Machine: {r['machine']}.",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        *[f"| {name} | {value} | {goal} |" for name, value, goal in rows],
        "",
        "### How it was measured",
        "",
        f"- Questions: the {r['n_questions']} distinct questions of `questions/bundled.jsonl` and "
        "`questions/general/questions.jsonl` (our own), asked over the bundled corpus.",
        "- FLOOR: in the benchmark process, with the server's models, once per question after a warm-up: "
        "`embed([question])` plus one reader pass (`reader.read`) over the very windows the server reads for "
        "that question (found beforehand, untimed): the least an /ask can cost, since every new question "
        "needs one query embedding and one reading.",
        "- /ask p50/p95: each question once, one at a time, over one kept-alive HTTP connection, "
        "after three warm-up questions; the engine caches query vectors, so no question is repeated. "
        "The FLOOR is measured twice: back to back over all questions (the model warm, the stricter "
        f"ratio), and in blocks of {BLOCK} alternating with blocks of {BLOCK} /ask requests (the server "
        "idle meanwhile), so that both meet the same state of this shared machine. Blocks, not single "
        "requests: a query embedded in this process just before each request slows that request down "
        "(two model processes on two cores evict each other from the CPU caches), which no real "
        "server has beside it.",
        f"- Throughput: {CLIENTS} threads, each with its own kept-alive connection, send every question once "
        "more with its first space doubled (same tokens and work, no cache hit); requests / wall time.",
        f"- Index build: in the benchmark process, {BUILD_ROUNDS} rounds, each a full build (`build_index(..., full=True)`, "
        "its own timing: reading, splitting, one pass of the model over the passages with the sentence "
        "vectors pooled from it, writing; the model and the splitter loaded beforehand, as a "
        "`spaceqa index` process loads them before its clock starts) and `SentenceTransformer.encode` "
        f"(normalised) on the same passages, once with its default batch of {DEFAULT_ENCODE_BATCH} and once with "
        "the build's batch size (SPACEQA_BATCH_SIZE); the rounds interleave so both meet the same state of this "
        "noisy machine, and medians are compared. The build beats the default encode call by batching "
        "length-sorted passages in smaller batches, which is faster on this CPU; the last ratio is against "
        "encode at that same batch size, so it shows what splitting, pooling and BM25 cost. "
        "`spaceqa index` is also run once as a process, for its peak memory and its own figure.",
        "- Peak memory: `os.wait4` rusage of each `spaceqa index` process; VmHWM of the `spaceqa serve` "
        "process at the end of its run.",
        "- Start: seconds from launching `spaceqa serve` (index already built) until `/healthz` answers. "
        "The first start is another server over the same index, with a copy of the shipped reader without "
        "its exported `reader-*.onnx` and an empty `XDG_CACHE_HOME`, so both networks are exported "
        "(each in a process of its own) before it answers; then one /ask, then its VmHWM.",
        f"- Access log: {r['access_lines']} `POST /ask 200 …ms <id>` lines on the server's stderr for {r['asks_sent']} /ask requests sent.",
        "",
        "### Commands",
        "",
        "```sh",
        ".venv/bin/python bench/serve_bench.py            # everything above; rewrites this section of bench/RESULTS.md",
        ".venv/bin/python bench/ask_latency.py --url http://127.0.0.1:8000   # p50/p95 against a server already running",
        "```",
        "",
        "Builds and servers use temporary folders; nothing in `index/` is touched. The SQuAD rows "
        "appear when `../shared/benchmarks/squad/squad-dev.json` exists.",
        "",
    ]
    replace_section(out, "serve", "\n".join(lines))


# --- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark spaceqa serve and spaceqa index; write bench/RESULTS.md.")
    parser.add_argument("--out", type=Path, default=PROJECT / "bench" / "RESULTS.md")
    parser.add_argument("--squad", type=Path, default=SQUAD)
    args = parser.parse_args()
    questions = load_questions(DEFAULT_QUESTIONS)
    variants = [q.replace(" ", "  ", 1) for q in questions]
    results: dict = {"date": datetime.date.today().isoformat(), "machine": machine(), "revision": revision(), "n_questions": len(questions)}

    with tempfile.TemporaryDirectory(prefix="spaceqa-bench-") as scratch_name:
        scratch = Path(scratch_name)
        print("index builds", flush=True)
        corpora = [("bundled corpus", BUNDLED)]
        if args.squad.exists():
            from spaceqa.evaluate import write_squad_corpus

            corpora.append(("SQuAD paragraphs", write_squad_corpus(args.squad, scratch / "squad-corpus")))
        builds = [build(name, corpus, scratch / f"index-{n}", scratch) for n, (name, corpus) in enumerate(corpora)]
        for b, (_, corpus) in zip(builds, corpora):
            b["raw"] = build_against_encode(corpus, scratch)
            print(f"  {b['name']}: build {b['raw']['build_rate']:.1f} chunks/s, encode {b['raw']['rate_default']:.1f} chunks/s", flush=True)
        results["builds"] = builds

        print("serve", flush=True)
        server = Server(BUNDLED, builds[0]["index"], scratch / "serve.log")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            for question in WARM_UP:  # first-request costs (lazy imports, allocator) are not what we measure
                ask(connection, question)
            connection.close()
            warm_ms, block_floor_ms, latencies, took = paired(server.port, builds[0]["index"], questions)
            wall, load_latencies, load_errors = concurrent(server.port, variants, CLIENTS)
            results["serve_rss"] = server.peak_rss()
            results["started_in"] = server.started_in
        finally:
            server.stop()
        log = server.log.read_text()
        print("first start, nothing exported yet", flush=True)
        results["first_start"] = first_start(builds[0]["index"], scratch)

    results.update(
        warm_p50=statistics.median(warm_ms), warm_p95=p95(warm_ms),
        floor_p50=statistics.median(block_floor_ms), floor_p95=p95(block_floor_ms),
        p50=statistics.median(latencies), p95=p95(latencies), took_p50=statistics.median(took),
        throughput=len(load_latencies) / wall, load_n=len(variants), load_errors=load_errors,
        load_p50=statistics.median(load_latencies), load_p95=p95(load_latencies),
        access_lines=len(re.findall(r"^POST /ask 200 [\d.]+ms [0-9a-f]{32}$", log, flags=re.MULTILINE)),
        asks_sent=len(WARM_UP) + len(questions) + len(variants),
    )
    write_report(args.out, results)
    print(args.out.read_text())


if __name__ == "__main__":
    main()
