"""The ``spaceqa`` command: index, serve, ask, eval, train-reader.  Each command wraps one library call."""

from __future__ import annotations

import functools
import json
import logging
import sys
import tempfile
from pathlib import Path

import click

from .config import Settings
from .errors import QuestionSetError, SpaceQAError

FILES_FAILED = 3  # `spaceqa index`: the index was published, but some files could not be read


def _settings(**overrides) -> Settings:
    try:
        return Settings.load(overrides)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def _existing_corpus(settings: Settings) -> Settings:
    """``settings``, once its corpus folder is known to exist (a typo must not read as "every document removed")."""
    if not settings.corpus_dir.is_dir():
        raise click.UsageError(f"the corpus folder {settings.corpus_dir} does not exist; create it, or name another with --corpus or SPACEQA_CORPUS")
    return settings


def _paths(command):
    """The --corpus and --index options every command shares (defaults from SPACEQA_* or ./corpus, ./index)."""
    command = click.option("--index", "index_dir", type=click.Path(file_okay=False, path_type=Path), help="Index folder [SPACEQA_INDEX or ./index].")(command)
    command = click.option("--corpus", "corpus_dir", type=click.Path(file_okay=False, path_type=Path), help="Corpus folder [SPACEQA_CORPUS or ./corpus].")(command)
    return command


def _friendly_errors(command):
    """Turn SpaceQA's own errors into a one-line message and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SpaceQAError as error:
            raise click.ClickException(str(error)) from None

    return wrapper


@click.group()
@click.version_option(package_name="spaceqa", prog_name="spaceqa")
@click.option("-v", "--verbose", is_flag=True, help="Log more detail to stderr.")
def main(verbose: bool) -> None:
    """SpaceQA: extractive question answering over a folder of documents."""
    # Only SpaceQA's own logger: libraries below (bm25s, transformers) keep their chatter to themselves.
    logger = logging.getLogger("spaceqa")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)


@main.command()
@_paths
@click.option("--full", is_flag=True, help="Re-read and re-embed every document, reusing nothing from the current index.")
@click.option(
    "--ray",
    "ray_address",
    metavar="ADDRESS",
    help="Embed on the Ray cluster at ADDRESS (ray://HOST:10001, HOST:6379 or auto); needs spaceqa[ray] here and on every node.",
)
@_friendly_errors
def index(corpus_dir: Path | None, index_dir: Path | None, full: bool, ray_address: str | None) -> None:
    """Update the index from the corpus: only new and changed documents are embedded.

    The old index keeps serving until the new one is complete; a running `spaceqa serve`
    switches to it within a few seconds. A file that cannot be read is named with the
    reason and left out; it is not read again until it changes (--full reads it again).

    With --ray, reading, chunking and writing the index stay on this machine, and only
    the embedding runs on the cluster, one worker per CPU, each with the same model as
    here: the index is the one a local build writes, and serves with the local model.

    \b
    Exit status:
      0  every file of a supported type is indexed
      1  the build failed; the previous index is still the one served
      2  usage error (a bad option, a corpus folder that does not exist)
      3  the index is updated (or was up to date), but some files could not be read
    """
    from .build import build_index
    from .pipeline import load_embedder

    settings = _existing_corpus(_settings(corpus_dir=corpus_dir, index_dir=index_dir))
    embedder = load_embedder(settings, lazy=True)
    if ray_address:
        from .distributed import cluster_embedder

        embedder = cluster_embedder(ray_address, settings, local=embedder)
    report = build_index(settings.corpus_dir, settings.index_dir, embedder, settings.chunk_params, full=full, progress=True)
    for path, reason in report.skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    for path, reason in report.failed:
        click.echo(f"failed {path}: {reason}", err=True)
    click.echo(report.summary())
    if report.failed:
        # Not 1: a script must be able to tell "published, some files left out" from "nothing published".
        raise SystemExit(FILES_FAILED)


@main.command()
@_paths
@click.option("--host", help="Address to listen on [SPACEQA_HOST or 127.0.0.1].")
@click.option("--port", type=int, help="Port to listen on [SPACEQA_PORT or 8000].")
@_friendly_errors
def serve(corpus_dir: Path | None, index_dir: Path | None, host: str | None, port: int | None) -> None:
    """Serve the chat page and the JSON API (building the index first when it is missing or stale).

    Each request is logged to stderr as one line: method, path, status, milliseconds.
    """
    import waitress

    from .app import create_app
    from .serving import (
        connections_allowed,
        files_needed,
        raise_file_limit,
        waitress_options,
    )

    settings = _existing_corpus(_settings(corpus_dir=corpus_dir, index_dir=index_dir, host=host, port=port))
    _check_address(settings.host, settings.port)  # before the models load: a taken port is known in a moment
    # Slow clients are held off by a connection limit far above their count (serving.py), which
    # is real only with enough file descriptors: a common soft ulimit -n of 1024 is too few.  A
    # limit waitress cannot keep would fail accept() in a loop, so it is lowered to what fits.
    was, files = raise_file_limit(files_needed())
    connections = connections_allowed(files)
    raised = f"raised from {was}" if files > was else "unchanged"
    click.echo(f"open-file limit {files} ({raised}): up to {connections} connections at once", err=True)
    app = create_app(settings)
    # create_server, not waitress.serve: serve() also calls logging.basicConfig(), whose root
    # handler would print every access line a second time.  Waitress's own warnings still reach
    # stderr through logging's last-resort handler.
    try:
        server = waitress.create_server(app, host=settings.host, port=settings.port, **waitress_options(app, threads=settings.threads, connection_limit=connections))
    except OSError as error:  # taken in the seconds the models took to load
        raise click.ClickException(_address_problem(settings.host, settings.port, error)) from None
    click.echo(f"SpaceQA serving {settings.corpus_dir} at http://{settings.host}:{settings.port}", err=True)
    server.run()


def _check_address(host: str, port: int) -> None:
    """Fail in one line when ``host:port`` cannot be listened on (taken, or not an address of this machine)."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        raise click.ClickException(_address_problem(host, port, error)) from None


def _address_problem(host: str, port: int, error: OSError) -> str:
    return f"cannot listen on {host}:{port} ({error.strerror or error}); choose another port with --port or SPACEQA_PORT"


@main.command()
@click.argument("question")
@_paths
@click.option("--history", multiple=True, help="An earlier question of the conversation (repeatable, oldest first).")
@click.option("--top-k", type=click.IntRange(1, 10), default=3, show_default=True, help="How many answers to return.")
@click.option("--url", help="Ask the SpaceQA server at URL (e.g. http://127.0.0.1:8000) instead of loading the models here.")
@click.option("--json", "as_json", is_flag=True, help="Print the /ask JSON response instead of text.")
@_friendly_errors
def ask(question: str, corpus_dir: Path | None, index_dir: Path | None, history: tuple[str, ...], top_k: int, url: str | None, as_json: bool) -> None:
    """Answer QUESTION from the documents, with its citation."""
    if not question.strip():
        raise click.BadParameter("the question is empty", param_hint="QUESTION")
    if url:
        body = _ask_server(url, {"question": question, "history": list(history), "top_k": top_k})
    else:
        from .pipeline import open_engine

        settings = _existing_corpus(_settings(corpus_dir=corpus_dir, index_dir=index_dir))
        body = open_engine(settings).ask(question, list(history), top_k=top_k).to_dict()
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    if body.get("understood_as"):
        click.echo(f"(understood as: {body['understood_as']})")
    if body["answer"] is None:
        click.echo("The documents do not answer this question.")
        if body["answers"]:
            click.echo("Closest passages:")
    else:
        click.echo(body["answer"])
    for answer in body["answers"] if body["answer"] is None else body["answers"][:1]:
        page = f", page {answer['page']}" if answer.get("page") is not None else ""
        click.echo(f'  "{answer["sentence"]}"')
        click.echo(f"  — {answer['title']} [{answer['doc_id']}{page}, characters {answer['start']}–{answer['end']}] score {answer['score']:.2f}")


def _ask_server(url: str, request: dict) -> dict:
    """POST ``request`` to ``URL/ask``; the server's JSON, or its error as a one-line message."""
    import urllib.error
    import urllib.request

    data = json.dumps(request).encode("utf-8")
    call = urllib.request.Request(url.rstrip("/") + "/ask", data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(call, timeout=120) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = error.reason
        raise click.ClickException(f"{url} answered {error.code}: {message}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise click.ClickException(f"cannot ask {url}: {getattr(error, 'reason', error)}") from None


@main.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_paths
@click.option("--top-k", "k", type=click.IntRange(1, 10), default=3, show_default=True, help="Answers per question, as in `ask`; doc recall@k counts their documents.")
@click.option("--reader-only", is_flag=True, help="SQuAD files only: score the reader alone, given each question's own paragraph (no retrieval).")
@click.option("--limit", type=click.IntRange(0), default=0, help="Score this many questions (or conversations), sampled with a fixed seed; the corpus stays whole (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print metrics and misses as JSON.")
@_friendly_errors
def eval_command(file: Path, corpus_dir: Path | None, index_dir: Path | None, k: int, reader_only: bool, limit: int, as_json: bool) -> None:
    """Score the system on FILE: a JSONL question set, or SQuAD JSON (v1.1/v2.0).

    For SQuAD, the paragraphs are the corpus: they are written to --corpus (or a temporary
    folder) as <Title>-<NNN>.txt. An index for any corpus other than the configured one is
    built in a temporary folder unless --index is given, so ./index is never overwritten.
    """
    if reader_only:
        from .evaluate import evaluate_reader_only, is_squad
        from .pipeline import load_reader

        if not is_squad(file):
            raise click.UsageError("--reader-only needs a SQuAD file: it reads each question's own paragraph")
        metrics = evaluate_reader_only(load_reader(_settings())[0], file, limit=limit)
        click.echo(json.dumps({"mode": "reader only", "metrics": metrics}, indent=2) if as_json else "\n".join(f"{n:>16}  {_figure(v)}" for n, v in metrics.items()))
        return
    from .evaluate import evaluate, is_squad, load_items, sample, write_squad_corpus
    from .pipeline import open_engine

    try:
        items = sample(load_items(file), limit)  # read first: a malformed file is told before anything loads
    except QuestionSetError as error:
        raise click.BadParameter(str(error), param_hint="FILE") from None
    with tempfile.TemporaryDirectory(prefix="spaceqa-eval-") as scratch:
        settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir)
        if is_squad(file):
            corpus_dir = write_squad_corpus(file, corpus_dir or Path(scratch) / "corpus")
            settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir)
        if index_dir is None and settings.corpus_dir.resolve() != Settings.load().corpus_dir.resolve():
            settings = _settings(corpus_dir=settings.corpus_dir, index_dir=Path(scratch) / "index")
        report = evaluate(open_engine(_existing_corpus(settings)), items, k=k)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    for name, value in report.metrics.items():
        click.echo(f"{name:>16}  {_figure(value)}")
    if report.by_kind:
        shown = ("questions", "em", "f1", "right_abstain", "false_abstain")
        click.echo("\nper kind of turn:\n" + f"{'':>16}  " + "  ".join(f"{name:>13}" for name in shown))
        for kind, metrics in report.by_kind.items():
            click.echo(f"{kind:>16}  " + "  ".join(f"{_figure(metrics[name]):>13}" for name in shown))
    misses = report.misses()
    if misses:
        click.echo(f"\n{len(misses)} misses:")
    for miss in misses:
        expected = " | ".join(miss.gold) if miss.gold else "(no answer)"
        answered = repr(miss.answer) if miss.answer is not None else f"null (top candidate {miss.candidate!r})"
        click.echo(f"- [{miss.item_id}] {miss.question}\n    expected: {expected}\n    answered: {answered} (score {miss.score:.2f})")
        if miss.understood_as:
            click.echo(f"    understood as: {miss.understood_as}")
        if miss.gold and not miss.sentence_hit:
            click.echo(f"    sentence: {miss.sentence}")


def _figure(value: float | None) -> str:
    """A metric as printed: "n/a" where it has nothing to count (e.g. right-abstain without unanswerable questions)."""
    return "n/a" if value is None else str(value)


@main.command("train-reader")
@click.option("--data", "data_files", multiple=True, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="SQuAD-format JSON with questions and answer spans (repeatable).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reader"), show_default=True, help="Folder for the trained reader and its model card.")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=Path(".reader-work"), show_default=True, help="Folder for the index, examples and checkpoints; run again with the same folder to resume.")
@click.option("--from", "init", default="shipped", show_default=True, help="Start from 'shipped' (adapt SpaceQA's reader), 'base' (the bare all-MiniLM-L6-v2) or a reader folder.")
@click.option("--max-questions", type=click.IntRange(0), default=0, help="Train on this many questions, sampled with the seed (0: all).")
@click.option("--seed", type=int, default=13, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True)
@click.option("--epochs", type=click.IntRange(1), default=1, show_default=True, help="Passes over the training rows, each shuffled afresh.")
@click.option("--device", default="auto", show_default=True, help="Where to train: 'auto' (a CUDA GPU when there is one), 'cpu' or 'cuda'.")
@click.option("--prepare-only", is_flag=True, help="Stop once the tokenised rows are in --work (to train them elsewhere with scripts/fit_reader_rows.py).")
@click.option("--learning-rate", type=float, default=None, help="Peak learning rate [1e-4 from base, 3e-5 when adapting a reader].")
@click.option("--dev", "dev_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="SQuAD file to score the reader on when done (reader only); the figures go in the model card.")
@click.option("--dev-questions", type=click.IntRange(1), default=1000, show_default=True, help="Questions of --dev to score, sampled.")
@click.option("--negatives", "negative_chances", default=None, metavar="KIND=CHANCE,…", help="Chance of each kind of no-answer window per question (paragraph, article, retrieved, swapped) [0.12, 0.08, 0.5, 1.0].")
@click.option("--shared-normalisation", type=click.FloatRange(0), default=0.0, show_default=True, help="Weight of a span loss normalised over all of a question's windows (0: off).")
@_friendly_errors
def train_reader(data_files, out, work, init, max_questions, seed, batch_size, epochs, device, prepare_only, learning_rate, dev_file, dev_questions, negative_chances, shared_normalisation) -> None:
    """Train the extractive reader on SQuAD-format questions (never downloads anything).

    Adapt the reader to your documents: write questions about them with their answers in
    SQuAD's JSON format, train from the shipped reader, then serve with SPACEQA_READER=OUT.
    Progress shows on the terminal with its ETA; stop at any time and run the same command
    again to resume from the last checkpoint in --work.
    """
    from .evaluate import is_squad, load_items
    from .reader import SHIPPED_READER
    from .reader.training import TrainingSettings, prepare_rows, train

    if dev_file is not None:  # scored after training: a file it cannot read must fail now, not hours on
        try:
            if not is_squad(dev_file):
                raise QuestionSetError(f"{dev_file} is not SQuAD JSON")
            load_items(dev_file)
        except QuestionSetError as error:
            raise click.BadParameter(str(error), param_hint="--dev") from None
    start = {"shipped": SHIPPED_READER, "base": None}.get(init, Path(init))
    if start is not None and not (start / "card.json").exists():
        raise click.BadParameter(f"{start} holds no reader (no card.json)", param_hint="--from")
    rate = learning_rate or (1e-4 if start is None else 3e-5)
    negatives = TrainingSettings().negatives | _negative_chances(negative_chances)
    settings = TrainingSettings(
        seed=seed, batch_size=batch_size, learning_rate=rate, max_questions=max_questions, epochs=epochs, negatives=negatives,
        shared_normalisation=shared_normalisation,
    )
    if prepare_only:
        rows = prepare_rows(list(data_files), work, settings)
        click.echo(f"training rows written to {rows}")
        return
    card = train(list(data_files), out, work, settings=settings, init=start, dev_file=dev_file, dev_questions=dev_questions, device=device)
    click.echo(f"reader written to {out} ({card['training']['steps']} steps, {card['training']['wall_seconds'] / 60:.0f} min)")
    if "dev" in card:
        click.echo(f"reader-only on {dev_file.name}: EM {card['dev']['em']}, F1 {card['dev']['f1']}")
    if start is None:
        click.echo("calibrate it before use: python scripts/calibrate_reader.py --reader " + str(out))


def _negative_chances(text: str | None) -> dict[str, float]:
    """``--negatives``: "retrieved=1,swapped=0.6" as {"retrieved": 1.0, "swapped": 0.6}."""
    from .reader.data import NEGATIVE_KINDS

    chances = {}
    for item in filter(None, (text or "").split(",")):
        kind, _, chance = item.partition("=")
        try:
            value = float(chance)
        except ValueError:
            value = -1.0
        if kind.strip() not in NEGATIVE_KINDS or not 0.0 <= value <= 1.0:
            raise click.BadParameter(f"{item!r}: expected KIND=CHANCE with KIND one of {', '.join(NEGATIVE_KINDS)} and CHANCE in [0, 1]", param_hint="--negatives")
        chances[kind.strip()] = value
    return chances


if __name__ == "__main__":
    main()
