"""Distributed embedding: the ``Embedder`` protocol, with the model run on a Ray cluster.

``spaceqa index --ray ADDRESS`` ingests, chunks and writes the index on this machine, as a
local build does; only the embedding goes to the cluster.  The texts travel as a Ray Data
dataset of rows ``(row, text, spans)``, in batches; each worker (a Ray actor with one CPU)
builds the same local embedder this machine would, once, and embeds the batches it is given.
The vectors come back in whatever order the workers finish, and are put back in place by row
number, so the result is the local embedder's up to float noise, and the index is the same
index, served by the same local model.  Ray Data drives the pipeline from this process when
it is on a node of the cluster (``auto``, ``HOST:6379``), and from a task on the cluster when
it joined from outside through Ray Client (``ray://HOST:10001``).

Ray is imported here alone, and only when a ``RayEmbedder`` is made: ``import spaceqa``
never loads it, and without the ``spaceqa[ray]`` extra only ``--ray`` fails.
"""

from __future__ import annotations

import functools
import math
import socket
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from . import pipeline
from .config import Settings
from .embed import Embedder
from .errors import SpaceQAError

EmbedderFactory = Callable[[], Embedder]
PASSAGE = -1  # the ``span`` column of a text's own vector; spans are numbered from 0
INSTALL_HINT = "`--ray` needs Ray: install spaceqa[ray] (pip install 'spaceqa[ray]')"


def cluster_embedder(address: str, settings: Settings, local: Embedder) -> RayEmbedder:
    """A ``RayEmbedder`` whose workers each build what ``pipeline.load_embedder(settings)`` builds here."""
    return RayEmbedder(address, functools.partial(pipeline.load_embedder, settings), local)


class RayEmbedder:
    """An ``Embedder`` whose ``embed`` and ``embed_with_spans`` run on the Ray cluster at ``address``.

    ``local`` is this machine's embedder: its ``name`` and ``dimension`` are this one's, so the
    index records the local model and is served by it.  ``factory`` builds the same embedder on
    each worker; it is pickled, so it must be a module-level callable (``functools.partial`` of
    ``pipeline.load_embedder`` and the settings is).  ``workers`` defaults to one per CPU of the
    cluster; ``batch_size`` is the most texts sent to a worker at once.
    """

    def __init__(self, address: str, factory: EmbedderFactory, local: Embedder, *, workers: int | None = None, batch_size: int = 256) -> None:
        self._ray = _import_ray()  # before any work: a missing extra is said at once, not after ingesting
        self.address = address
        self._factory = factory
        self._local = local
        self._workers = workers
        self.batch_size = batch_size
        self.name = local.name

    @property
    def dimension(self) -> int:
        return self._local.dimension

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._on_cluster(texts, None, show_progress)[0]

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *, show_progress: bool = False
    ) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        return self._on_cluster(texts, spans, show_progress)

    def _on_cluster(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]] | None, show_progress: bool
    ) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        ray = self._ray
        self._connect()
        job = {"factory": self._factory, "expected_name": self.name, "dimension": self.dimension, "workers": self._cluster_workers(), "batch_size": self.batch_size}
        try:
            if ray.util.client.ray.is_connected():
                # Through Ray Client (ray://) this process is no worker of the cluster, and Ray
                # Data's executor must run on one: a task there drives the pipeline instead.
                # Its progress bars would reach this terminal as interleaved log lines: none.
                return ray.get(ray.remote(num_cpus=0)(embed_with_ray_data).remote(texts, spans, show_progress=False, **job))
            # Bars only on a terminal, as the local embedder's: in a log they are noise.
            return embed_with_ray_data(texts, spans, show_progress=show_progress and sys.stderr.isatty(), **job)
        except ray.exceptions.RayError as error:
            raise SpaceQAError(f"embedding on the Ray cluster at {self.address} failed: {_last_line(error)}") from error

    def _connect(self) -> None:
        """Join the cluster, once per process (a process already joined to one keeps it)."""
        ray = self._ray
        if ray.is_initialized():
            return
        _check_reachable(self.address)
        try:
            ray.init(address=self.address, logging_level="WARNING")
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise SpaceQAError(
                f"cannot join the Ray cluster at {self.address}: {_last_line(error).rstrip('.')}; start one with `ray start --head`, or give its address"
            ) from None

    def _cluster_workers(self) -> int:
        if self._workers:
            return self._workers
        cpus = int(self._ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise SpaceQAError(f"the Ray cluster at {self.address} has no CPU for workers; add a node with `ray start --address=... --num-cpus=N`")
        return cpus


def embed_with_ray_data(
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]] | None,
    *,
    factory: EmbedderFactory,
    expected_name: str,
    dimension: int,
    workers: int,
    batch_size: int,
    show_progress: bool,
) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
    """The texts in batches through a pool of ``workers`` actors, and their vectors back in order.

    Span vectors too when ``spans`` is given (``embed_with_spans``); else only the texts' (``embed``).
    Runs where Ray Data can drive a pipeline: in a driver on a node of the cluster, or in a task.
    """
    import ray

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = show_progress
    context.print_on_execution_start = False  # its execution plan is noise in `spaceqa index` output
    workers = min(workers, len(texts))
    # At most batch_size texts a batch, and small enough that every worker gets a share;
    # no more workers than batches, since each one loads a model before its first batch.
    per_batch = max(1, min(batch_size, math.ceil(len(texts) / workers)))
    batches = math.ceil(len(texts) / per_batch)
    items = [{"row": row, "text": text} for row, text in enumerate(texts)]
    if spans is not None:
        for item, text_spans in zip(items, spans):
            item["spans"] = [[int(start), int(end)] for start, end in text_spans]
    dataset = ray.data.from_items(items, override_num_blocks=batches).map_batches(
        _EmbedBatches,
        fn_constructor_kwargs={"factory": factory, "expected_name": expected_name, "with_spans": spans is not None},
        batch_size=per_batch,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=min(workers, batches)),
        num_cpus=1,  # Ray then gives each worker's torch one thread: one model per CPU, none oversubscribed
    )
    counts = [len(text_spans) for text_spans in spans] if spans is not None else [0] * len(texts)
    return reassemble(dataset.iter_batches(batch_size=None, batch_format="numpy"), counts, dimension)


class _EmbedBatches:
    """Ray Data's callable class: one per worker, holding that worker's model between batches."""

    def __init__(self, factory: EmbedderFactory, expected_name: str, with_spans: bool) -> None:
        self.embedder = factory()
        # Vectors of another model would mix silently into an index that names the local one.
        if self.embedder.name != expected_name:
            raise SpaceQAError(f"a worker built the embedder {self.embedder.name!r}, this machine has {expected_name!r}; install the same SpaceQA and model on every node")
        self.with_spans = with_spans

    def __call__(self, batch) -> dict[str, np.ndarray]:
        rows = np.asarray(batch.column("row").to_numpy(), dtype=np.int64)
        texts = batch.column("text").to_pylist()
        if not self.with_spans:
            return flatten(rows, self.embedder.embed(texts), [[] for _ in texts])
        spans = [[(start, end) for start, end in text_spans] for text_spans in batch.column("spans").to_pylist()]
        text_vectors, span_vectors = self.embedder.embed_with_spans(texts, spans)
        return flatten(rows, text_vectors, span_vectors)


def flatten(rows: np.ndarray, text_vectors: np.ndarray, span_vectors: Sequence[Sequence[np.ndarray | None]]) -> dict[str, np.ndarray]:
    """One output row per vector: ``(row, span, vector)``, ``span`` = PASSAGE for the text's own.

    Fixed-shape rows travel as one tensor column; a span without a vector (None) is simply
    not sent, and ``reassemble`` puts None back in its place.
    """
    out_rows, out_spans, out_vectors = list(rows), [PASSAGE] * len(rows), list(text_vectors)
    for row, vectors in zip(rows, span_vectors):
        for span, vector in enumerate(vectors):
            if vector is not None:
                out_rows.append(row)
                out_spans.append(span)
                out_vectors.append(vector)
    dimension = text_vectors.shape[1] if len(text_vectors) else 0
    return {
        "row": np.asarray(out_rows, dtype=np.int64),
        "span": np.asarray(out_spans, dtype=np.int64),
        "vector": np.asarray(out_vectors, dtype=np.float32).reshape(len(out_rows), dimension),
    }


def reassemble(
    batches: Iterable[Mapping[str, np.ndarray]], span_counts: Sequence[int], dimension: int
) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
    """Put ``flatten``'s rows, from batches in any order, back in the order of the texts.

    ``span_counts[i]`` is how many spans text ``i`` has; a span with no row stays None.
    Every text must have its vector: a missing one would leave a row of zeros in the index.
    """
    text_vectors = np.zeros((len(span_counts), dimension), dtype=np.float32)
    span_vectors: list[list[np.ndarray | None]] = [[None] * count for count in span_counts]
    seen = np.zeros(len(span_counts), dtype=bool)
    for batch in batches:
        rows, spans = batch["row"], batch["span"]
        vectors = np.array(batch["vector"], dtype=np.float32)  # a copy: the batch may be a read-only view of the object store
        if len(vectors) and vectors.shape[1] != dimension:
            raise SpaceQAError(f"the workers' vectors have {vectors.shape[1]} dimensions, this machine's model {dimension}; install the same model on every node")
        own = spans == PASSAGE
        text_vectors[rows[own]] = vectors[own]
        seen[rows[own]] = True
        for row, span, vector in zip(rows[~own], spans[~own], vectors[~own]):
            span_vectors[row][span] = vector
    if not seen.all():
        raise SpaceQAError(f"the Ray cluster returned no vector for {int((~seen).sum())} of {len(seen)} texts")
    return text_vectors, span_vectors


def _check_reachable(address: str) -> None:
    """Fail in seconds when nothing listens at ``address``: Ray itself retries for about ten minutes."""
    host, separator, port = address.removeprefix("ray://").rpartition(":")
    if not separator or not port.isdigit():
        return  # "auto", "local", or no port to try: Ray finds the cluster, or says what is wrong, itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=10):
            pass
    except OSError as error:
        raise SpaceQAError(
            f"cannot reach the Ray cluster at {address} ({error.strerror or error}); start one with `ray start --head`, or give its address"
        ) from None


def _import_ray():
    try:
        import ray
        import ray.data  # the `data` extra: a bare `ray` lacks pyarrow and pandas
    except ImportError:
        raise SpaceQAError(INSTALL_HINT) from None
    return ray


def _last_line(error: BaseException) -> str:
    """The last non-empty line of an error's message: Ray's carry whole remote tracebacks."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
