"""Runtimes: what runs the reader's network — PyTorch, or ONNX Runtime on an exported copy.

The shipped weights (float16 safetensors) are the one source of truth.  The ONNX runtimes
export them once to ONNX ("onnx": float32; "onnx-int8": the matrix products quantised to
int8, dynamically: weights stored as int8 with a scale per output column, activations
quantised on the fly; ``onnx_export.INT8_QUANTISATION``) and keep the
result beside the weights, or in the user's cache when that folder is read-only.  A sidecar
records the weights' sha256, so a changed reader is exported again rather than served stale.
``bench/reader_bench.py`` measures the runtimes' speed and F1 on the same inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..onnx_export import INT8_QUANTISATION, OPSET, cache_dir, cached_export, export_onnx, in_fresh_process, onnx_session
from .reading import Encoded

RUNTIMES = ("torch", "onnx", "onnx-int8")
INPUTS = ("input_ids", "attention_mask", "token_type_ids", "context_mask")
OUTPUTS = ("start", "end", "answerable")


class TorchRuntime:
    """The network in float32 PyTorch."""

    name = "torch"

    def __init__(self, net) -> None:
        self.net = net.eval()

    def __call__(self, encoded: Encoded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            outputs = self.net(*(torch.from_numpy(np.ascontiguousarray(getattr(encoded, name), dtype=np.int64)) for name in INPUTS))
        return tuple(output.numpy() for output in outputs)


class OnnxRuntime:
    """An exported copy of the network, run by ONNX Runtime on the CPU."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        self.session = onnx_session(path, threads)

    def __call__(self, encoded: Encoded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        feeds = {name: np.ascontiguousarray(getattr(encoded, name), dtype=np.int64) for name in INPUTS}
        return tuple(self.session.run(list(OUTPUTS), feeds))


def export(net, target: Path, *, quantisation: dict | None) -> None:
    """Export ``net`` to ONNX at ``target`` (written atomically), its matrix products quantised as ``quantisation`` says when given."""
    import torch

    example = tuple(torch.ones((2, 16), dtype=torch.long) for _ in INPUTS)
    axes = {name: {0: "rows", 1: "tokens"} for name in (*INPUTS, "start", "end")} | {"answerable": {0: "rows"}}
    export_onnx(net, example, target, inputs=list(INPUTS), outputs=list(OUTPUTS), dynamic_axes=axes, quantisation=quantisation)


def onnx_runtime(folder: Path, weights_sha256: str, *, quantise: bool) -> OnnxRuntime:
    """The ONNX runtime of the reader in ``folder``, exported on first use and kept beside it, else in the user's cache.

    The export runs in a process of its own: it loads PyTorch and the network, which the
    process that asks never needs again (``onnx_export.in_fresh_process``).
    """
    stem = "reader-int8" if quantise else "reader-fp32"
    quantisation = INT8_QUANTISATION if quantise else None  # one value for the sidecar and the export
    places = [folder / f"{stem}.onnx", cache_dir() / f"{stem}-{weights_sha256[:16]}.onnx"]
    description = {
        "weights_sha256": weights_sha256,
        "opset": OPSET,
        "quantisation": quantisation or "none (float32)",
    }
    model = cached_export(places, description, lambda target: in_fresh_process(export_reader, folder, target, quantisation), what="reader")
    return OnnxRuntime(model)


def export_reader(folder: Path, target: Path, quantisation: dict | None) -> None:
    """Export the reader in ``folder`` to ONNX at ``target``."""
    from .model import load_weights

    export(load_weights(folder), target, quantisation=quantisation)
