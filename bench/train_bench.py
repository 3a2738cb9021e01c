"""Benchmark a reader training step on this CPU: float32 against bfloat16 autocast.

Usage: python bench/train_bench.py [--batch-size 32] [--rounds 5] [--out bench/RESULTS.md]

``spaceqa train-reader`` trains in bfloat16 autocast where the CPU computes it natively
(``training.autocast_bfloat16``).  This measures what that buys: the reader network from the
bundled base model, one training step (forward, backward, AdamW) on a batch of full-length
windows (128 tokens, the longest the reader reads), in both precisions, interleaved rounds so
that both meet the same state of this noisy machine; rows per second, medians compared.
Writes its section of bench/RESULTS.md, leaving the rest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

from results import replace_section

SECTION = "training-step"
TOKENS = 128  # the reader's longest input
STEPS_PER_ROUND = 3  # after one warm-up step per precision


def step_rate(net, optimizer, batch, bfloat16: bool, steps: int) -> float:
    """Rows per second over ``steps`` training steps on ``batch``."""
    import torch

    from spaceqa.reader.training import loss_of

    inputs, start, end, answerable = batch
    began = time.perf_counter()
    for _ in range(steps):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            loss = loss_of(net, inputs, start, end, answerable)[0]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return steps * len(start) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=PROJECT / "bench" / "RESULTS.md")
    args = parser.parse_args()

    import torch

    from spaceqa.reader.model import ReaderNet
    from spaceqa.reader.training import autocast_bfloat16

    torch.manual_seed(0)
    net = ReaderNet.from_base().train()
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-5)
    rows = args.batch_size
    inputs = {
        "input_ids": torch.randint(1000, 20000, (rows, TOKENS)),
        "attention_mask": torch.ones(rows, TOKENS, dtype=torch.long),
        "token_type_ids": torch.cat([torch.zeros(rows, 32, dtype=torch.long), torch.ones(rows, TOKENS - 32, dtype=torch.long)], dim=1),
        "context_mask": torch.cat([torch.zeros(rows, 32, dtype=torch.long), torch.ones(rows, TOKENS - 32, dtype=torch.long)], dim=1),
    }
    start = torch.randint(32, TOKENS - 8, (rows,))
    batch = (inputs, start, start + 3, torch.ones(rows))
    native = autocast_bfloat16(torch.device("cpu"))

    rates: dict[bool, list[float]] = {False: [], True: []}
    for precision in rates:  # warm-up: the first step of each precision allocates and picks kernels
        step_rate(net, optimizer, batch, precision, 1)
    for _ in range(args.rounds):
        for precision in rates:
            rates[precision].append(step_rate(net, optimizer, batch, precision, STEPS_PER_ROUND))
    float32, bfloat16 = (statistics.median(rates[p]) for p in (False, True))
    print(f"float32 {float32:.1f} rows/s, bfloat16 autocast {bfloat16:.1f} rows/s ({bfloat16 / float32:.2f}x)")

    text = f"""## Reader training step

Measured {date.today().isoformat()} by `bench/train_bench.py`: one training step of the reader (forward, backward, AdamW; every weight but the word embeddings) on {rows} windows of {TOKENS} tokens, {torch.get_num_threads()} threads, torch {torch.__version__}, {args.rounds} interleaved rounds of {STEPS_PER_ROUND} steps.

| precision | rows per second (median) | against float32 |
|---|---|---|
| float32 | {float32:.1f} | 1.00x |
| bfloat16 autocast | {bfloat16:.1f} | {bfloat16 / float32:.2f}x |

This CPU {"computes bfloat16 natively, so `spaceqa train-reader` trains in bfloat16 autocast here" if native else "has no native bfloat16, so `spaceqa train-reader` trains in float32 here"} (`training.autocast_bfloat16`). A real run reads windows of every length, batched by length, so its rate is higher than this full-length one (the reader's fourth pass, on 1 December, averaged 41 rows a second in bfloat16).

```sh
.venv/bin/python bench/train_bench.py   # rewrites this section of bench/RESULTS.md
```
"""
    replace_section(args.out, SECTION, text)


if __name__ == "__main__":
    main()
