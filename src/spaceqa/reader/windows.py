"""Windows: what the reader reads — a sentence with its neighbours, inside a token budget.

Retrieval ranks sentences; the reader needs a little context around each ("he" in one
sentence names its subject in the one before).  A window is built around a centre
sentence by adding whole neighbours, the previous one first (what a sentence refers back
to usually comes before it), then the next, while they fit the budget.  Training builds
its examples with the same function, so the model learns on exactly what it reads when
asked.
"""

from __future__ import annotations

from typing import Sequence


def window_range(center: int, token_counts: Sequence[int], budget: int) -> tuple[int, int]:
    """``[first, last)`` over a document's sentences: ``center`` and the neighbours that fit.

    ``token_counts[i]`` is sentence ``i``'s length in model tokens.  The centre is always
    included, even alone over budget (the tokenizer then reads it in overlapping strides).
    """
    if not 0 <= center < len(token_counts):
        raise IndexError(f"centre sentence {center} outside a document of {len(token_counts)} sentences")
    first, last = center, center + 1
    used = token_counts[center]
    grew = True
    while grew:
        grew = False
        if first > 0 and used + token_counts[first - 1] <= budget:
            first -= 1
            used += token_counts[first]
            grew = True
        if last < len(token_counts) and used + token_counts[last] <= budget:
            used += token_counts[last]
            last += 1
            grew = True
    return first, last
