"""ONNX exports of our PyTorch networks, made once and kept: shared by the reader and the embedder.

A network is exported with ``torch.onnx.export``; optionally its transformer layers are
fused into ONNX Runtime's own operators (attention, layer norm, GELU), and its matrix
products quantised to 8 bits dynamically (weights stored as integers, activations quantised
on the fly).
The result is kept on disk with a sidecar JSON that describes it: the source weights'
sha256 and how it was exported.  A sidecar that differs in anything (changed weights, another
quantisation recipe) means the copy is stale, and it is exported again rather than served.
Files are written to a scratch name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

log = logging.getLogger("spaceqa")
OPSET = 17
# How int8 copies are quantised (``quantize_dynamic`` arguments), the embedder's and the
# reader's alike, recorded in each exported file's sidecar, so that changing it exports again.
# Chosen on SQuAD 2.0 dev's paragraphs in batches of 8, on an AVX2 CPU without VNNI
# (2026-11-30): one scale per weight tensor bends the embedder's vectors to a mean cosine of
# 0.95 with PyTorch's; a scale per output column (per_channel) brings it to 0.993; 7-bit
# weights (reduce_range) keep the 8-bit products of such CPUs from saturating, which lifts the
# worst of 934 passages (0.979 -> 0.982) and the doc recall@5 (88.8 -> 89.1; PyTorch 89.05) at
# the same speed.  Unsigned weights were as close but 10% slower.  The reader's copy, with one
# scale per tensor until 7 December, lost 1.4 points of F1 reading alone on 1,000 sampled
# questions; with these settings 0.5 (1.0 on reader_bench's 500), and it is no slower.
# bench/embed_bench.py and bench/reader_bench.py measure the choice as shipped.
INT8_QUANTISATION = {"weight_type": "QInt8", "per_channel": True, "reduce_range": True}


def cache_dir() -> Path:
    """The user's cache folder for SpaceQA (``$XDG_CACHE_HOME/spaceqa``, else ``~/.cache/spaceqa``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spaceqa"


def cores() -> int:
    """The cores this process may use: ``OMP_NUM_THREADS`` when set, else every core of the machine.

    Ray sets ``OMP_NUM_THREADS`` to a worker's share of CPUs, so that its workers on one
    node do not each run a thread per core of the node.
    """
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return os.cpu_count() or 1


def onnx_session(path: Path, threads: int | None = None):
    """An ONNX Runtime session on the CPU, its operators spread over ``cores()`` by default."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or cores()
    options.inter_op_num_threads = 1  # our graphs are one chain of operators: nothing to run beside each other
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_onnx(
    net,
    example: tuple,
    target: Path,
    *,
    inputs: list[str],
    outputs: list[str],
    dynamic_axes: dict,
    fusion: dict | None = None,
    quantisation: dict | None = None,
) -> None:
    """Export ``net`` to ONNX at ``target``, written atomically.

    ``fusion``, when given, holds the keyword arguments of ONNX Runtime's transformer
    optimiser (e.g. ``{"model_type": "bert", "num_heads": 12, "hidden_size": 384}``).
    ``quantisation``, when given, holds those of ``quantize_dynamic`` (e.g.
    ``{"weight_type": "QInt8", "per_channel": True}``); the type is named by string so that
    the same mapping can be recorded in the sidecar.
    """
    import torch

    net = net.eval()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        exported = Path(scratch) / "float32.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on tracing; each runtime is compared with PyTorch in bench/
            torch.onnx.export(net, example, str(exported), input_names=inputs, output_names=outputs, dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False)
        if fusion is not None:
            exported = _fused(exported, Path(scratch) / "fused.onnx", fusion)
        if quantisation is not None:
            exported = _quantised(exported, Path(scratch) / "int8.onnx", quantisation)
        os.replace(exported, target)


def _fused(source: Path, target: Path, fusion: dict) -> Path:
    from onnxruntime.transformers.optimizer import optimize_model

    with _root_logger_quiet():  # the optimiser narrates every fusion through loggers of its own modules' names
        optimize_model(str(source), **fusion).save_model_to_file(str(target))
    return target


def _quantised(source: Path, target: Path, quantisation: dict) -> Path:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options = dict(quantisation)
    options["weight_type"] = QuantType[options.get("weight_type", "QInt8")]
    # The fused operators of a ``fusion`` graph (ONNX Runtime's own domain) defeat the
    # quantiser's type inference; every tensor they output is float32.
    options["extra_options"] = {"DefaultTensorType": TensorProto.FLOAT, **options.get("extra_options", {})}
    with _root_logger_quiet():  # the quantiser advises pre-processing through the root logger, every time
        quantize_dynamic(str(source), str(target), **options)
    return target


@contextmanager
def _root_logger_quiet():
    """Raise the root logger to ERROR for a while; ``spaceqa``'s own logger keeps the level the CLI gave it."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def cached_export(places: list[Path], description: dict, export: Callable[[Path], None], *, what: str) -> Path:
    """The first of ``places`` holding an export that ``description`` matches, else a new export in the first writable one.

    ``description`` (the source sha256 and the export recipe) is what the sidecar beside the
    ``.onnx`` file must say; ``export(path)`` writes a fresh copy.  Raises OSError when no
    place can be written.
    """
    for model in places:
        if model.exists() and _sidecar_says(model, description):
            return model
    for model in places:
        try:
            log.info("exporting the %s to ONNX once (a few seconds): %s", what, model)
            export(model)
            _write_atomically(_sidecar(model), json.dumps(description) + "\n")
            return model
        except OSError as error:
            log.info("cannot write %s: %s", model, error)
    raise OSError(f"could not write the exported {what} in any of: {', '.join(str(p.parent) for p in places)}")


def in_fresh_process(function: Callable[..., None], *args) -> None:
    """``function(*args)`` in a new Python process; an exception there is raised here.

    An export loads PyTorch and the whole network in float32, memory that a server, which
    runs only the exported copy, would otherwise keep for as long as it runs (a process does
    not give it back).  ``function`` must be importable by name and ``args`` picklable.  A
    plain subprocess rather than ``multiprocessing``: its "spawn" imports the caller's main
    script again, which fails for a script that asks without an ``if __name__`` guard.
    """
    if not sys.executable:  # Python embedded in another program: no interpreter to start
        function(*args)
        return
    with tempfile.TemporaryDirectory(prefix="spaceqa-export-") as scratch:
        failure = Path(scratch) / "exception.pickle"
        call = pickle.dumps(sys.path) + pickle.dumps((function, args))  # this process's import path first: the function's module may be on it alone
        finished = subprocess.run([sys.executable, "-c", _CHILD, str(failure)], input=call, capture_output=True, check=False)
        if finished.returncode == 0:
            return
        try:
            error = pickle.loads(failure.read_bytes())
        except Exception:  # noqa: BLE001 - it died before it could say why (killed, out of memory)
            error = None
        if isinstance(error, BaseException):
            raise error
        output = finished.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{function.__qualname__} failed in its own process (exit status {finished.returncode}): {' | '.join(output)}")


# What the fresh process runs: the import path, then the function and its arguments, arrive
# pickled on stdin; an exception leaves pickled in the file named by its first argument.
_CHILD = """
import pickle, sys
sys.path[:] = pickle.load(sys.stdin.buffer)
function, args = pickle.load(sys.stdin.buffer)
try:
    function(*args)
except BaseException as error:
    with open(sys.argv[1], "wb") as out:
        pickle.dump(error, out)
    raise
"""


def _sidecar(model: Path) -> Path:
    return model.with_suffix(".json")


def _sidecar_says(model: Path, description: dict) -> bool:
    try:
        return json.loads(_sidecar(model).read_text()) == description
    except (OSError, ValueError):
        return False  # missing or half-written: export again


def _write_atomically(path: Path, text: str) -> None:
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    scratch.write_text(text)
    os.replace(scratch, path)
