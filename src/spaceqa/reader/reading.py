"""Reading: a question and a few windows in, the best span of each window and its scores out.

All windows of a question go through the network in one batch.  For each window the
reader returns its best span (character offsets into the window's text), the span's
log-probability among the window's spans, and the answerability logit: how strongly the
network believes the window answers the question at all.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ..tokens import Tokenizer


@dataclass(frozen=True)
class InputSettings:
    """How the reader's inputs are cut.  Stored in the model card: the network learned on these."""

    max_length: int = 128  # tokens per input: [CLS] question [SEP] window [SEP]
    max_question_tokens: int = 32  # a longer question is cut (the API allows 500 characters)
    stride: int = 32  # tokens shared by consecutive pieces of a window longer than max_length
    max_answer_tokens: int = 30  # longest span the reader proposes
    # Spans are chosen by log P(start) + log P(end) minus this much per token of length. The
    # reader alone tends to run a name on into the phrase beside it ("Richard Nixon and
    # Alexei Kosygin" for which leader); on 1,000 sampled dev-squad1-extra questions (reader
    # only) 0.1 raised EM from 69.8 to 71.1 at the same F1, 0.25 went back down.
    span_length_penalty: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)

    def window_budget(self, question_tokens: int) -> int:
        """Tokens left for the window once the question and the three special tokens are in."""
        return self.max_length - 3 - min(question_tokens, self.max_question_tokens)


@dataclass(frozen=True)
class Encoded:
    """Tokenised (question, window) pairs; a long window may give several rows."""

    input_ids: np.ndarray  # (rows, length), padded
    token_type_ids: np.ndarray
    attention_mask: np.ndarray
    context_mask: np.ndarray  # 1 where a token belongs to the window (an answer may lie there)
    offsets: np.ndarray  # (rows, length, 2): character span of each token in its window's text
    window_of_row: np.ndarray  # (rows,): which window each row reads


@dataclass(frozen=True)
class SpanReading:
    """The reader's verdict on one window."""

    start: int  # character offsets of the best span in the window's text
    end: int
    span_logprob: float  # log P(this start) + log P(this end), within the window
    answerable_logit: float  # > 0: the window more likely answers the question than not
    # log of the sums of exp(start logit) and exp(end logit) over the window's tokens: what
    # span_logprob was normalised by, so that spans of different windows can be compared
    # on one scale (``shared_logprobs``)
    start_mass: float = 0.0
    end_mass: float = 0.0

    @property
    def confidence(self) -> tuple[float, float]:
        """The reader's own ranking of windows: by answerability, then by the span's log-probability.

        Not the joint log-probability: ``span_logprob`` is normalised within each window, so it
        does not compare across windows, and it swamps a saturated answerability.  Ranking by the
        answerability logit picked better spans on sampled development questions (reader only,
        two samples of 400: F1 +1.5 and +3.7).
        """
        return (self.answerable_logit, self.span_logprob)


def shared_logprobs(span_logprobs: Sequence[float], start_masses: Sequence[float], end_masses: Sequence[float]) -> list[float]:
    """Each span's log-probability among the spans of all the windows read together.

    The inputs are the ``SpanReading`` fields of those windows.  A reader trained with shared
    normalisation (``training.loss_of``) gives logits that compare across the windows of a
    question; normalised over them all, a span scores low when another window holds a span
    the reader is surer of.
    """
    total = float(_logsumexp(np.array([start_masses, end_masses], dtype=np.float64)).sum())  # the starts' mass plus the ends'
    return [logprob + start + end - total for logprob, start, end in zip(span_logprobs, start_masses, end_masses)]


def cut_question(tokenizer: Tokenizer, question: str, max_tokens: int) -> tuple[str, int]:
    """The question cut to ``max_tokens`` tokens (at a token boundary), and its length in tokens."""
    (offsets,) = tokenizer.offsets([question])
    if len(offsets) <= max_tokens:
        return question, len(offsets)
    return question[: offsets[max_tokens - 1][1]], max_tokens


def encode(tokenizer: Tokenizer, question: str, texts: Sequence[str], settings: InputSettings) -> Encoded:
    """Tokenise ``question`` with each text; texts too long for one input are read in strides."""
    question, _ = cut_question(tokenizer, question, settings.max_question_tokens)
    batch = tokenizer.pairs([question] * len(texts), texts, settings.max_length, settings.stride)
    return Encoded(
        input_ids=batch.input_ids,
        token_type_ids=batch.token_type_ids,
        attention_mask=batch.attention_mask,
        context_mask=batch.in_second.astype(np.int64),
        offsets=batch.offsets,
        window_of_row=batch.source_of_row,
    )


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    max_answer_tokens: int,
    sentence_of_token: np.ndarray | None = None,
    length_penalty: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the start and end token of the most probable span (start <= end < start + max), and its log-probability.

    With ``sentence_of_token`` (rows, tokens), start and end must lie in the same sentence.
    The span is chosen with ``length_penalty`` taken off per token past its first; the
    log-probability returned is the span's own, without it.
    """
    log_start = start_logits - _logsumexp(start_logits)
    log_end = end_logits - _logsumexp(end_logits)
    length = start_logits.shape[1]
    pairs = log_start[:, :, None] + log_end[:, None, :]  # (rows, start, end)
    offset = np.arange(length)[None, :] - np.arange(length)[:, None]  # end - start
    allowed = (offset >= 0) & (offset < max_answer_tokens)
    allowed = np.broadcast_to(allowed[None], pairs.shape)
    if sentence_of_token is not None:
        allowed = allowed & (sentence_of_token[:, :, None] == sentence_of_token[:, None, :])
    chosen_by = np.where(allowed, pairs - length_penalty * np.clip(offset, 0, None)[None], -np.inf)
    flat = chosen_by.reshape(len(pairs), -1).argmax(axis=1)
    starts, ends = np.divmod(flat, length)
    return starts, ends, pairs.reshape(len(pairs), -1)[np.arange(len(pairs)), flat]


def _logsumexp(logits: np.ndarray) -> np.ndarray:
    top = logits.max(axis=1, keepdims=True)
    return top + np.log(np.exp(logits - top).sum(axis=1, keepdims=True))


class ExtractiveReader:
    """The trained network (run by ``runtime``) with its tokenizer; one instance serves every request thread."""

    def __init__(self, runtime, tokenizer: Tokenizer, settings: InputSettings) -> None:
        self.runtime = runtime  # Encoded -> (start logits, end logits, answerable logits), see runtime.py
        self.tokenizer = tokenizer
        self.settings = settings
        # Every pass runs on one thread of its own: torch keeps compute threads per calling
        # thread (see embed.py), and the tokenizer must not be used by two threads at once.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spaceqa-reader")

    def question_tokens(self, question: str) -> int:
        return self._thread.submit(cut_question, self.tokenizer, question, self.settings.max_question_tokens).result()[1]

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Length of each text in the network's tokens (what a window's budget counts)."""
        if not texts:
            return []
        return self._thread.submit(lambda: [len(offsets) for offsets in self.tokenizer.offsets(texts)]).result()

    def read(self, question: str, texts: Sequence[str], sentence_starts: Sequence[Sequence[int]] | None = None) -> list[SpanReading]:
        """The best span of each text for ``question``, in the order of ``texts``.

        ``sentence_starts[i]``, when given, holds where the sentences of ``texts[i]`` after its
        first one begin: a span never crosses from one sentence into the next (an answer lies
        inside the sentence that holds it).
        """
        if not texts:
            return []
        return self._thread.submit(self._read, question, list(texts), sentence_starts).result()

    def _read(self, question: str, texts: list[str], sentence_starts: Sequence[Sequence[int]] | None) -> list[SpanReading]:
        encoded = encode(self.tokenizer, question, texts, self.settings)
        start, end, answerable = self.runtime(encoded)
        return decode(encoded, start, end, answerable, len(texts), self.settings.max_answer_tokens, sentence_starts, self.settings.span_length_penalty)


def decode(
    encoded: Encoded,
    start: np.ndarray,
    end: np.ndarray,
    answerable: np.ndarray,
    windows: int,
    max_answer_tokens: int,
    sentence_starts: Sequence[Sequence[int]] | None = None,
    length_penalty: float = 0.0,
) -> list[SpanReading]:
    """One ``SpanReading`` per window: of a window read in several rows, its most confident row.

    Every window gives at least one row (the tokenizer never drops a text), so the result
    lines up with the windows.  With ``sentence_starts``, a span stays inside one sentence.
    """
    sentence_of_token = None
    if sentence_starts is not None:
        sentence_of_token = np.stack(
            [np.searchsorted(np.asarray(sentence_starts[window], dtype=np.int64), encoded.offsets[row, :, 0], side="right") for row, window in enumerate(encoded.window_of_row)]
        )
    start, end = start.astype(np.float64), end.astype(np.float64)
    starts, ends, logprobs = best_spans(start, end, max_answer_tokens, sentence_of_token, length_penalty)
    start_mass, end_mass = _logsumexp(start)[:, 0], _logsumexp(end)[:, 0]
    best: list[SpanReading | None] = [None] * windows
    for row, window in enumerate(encoded.window_of_row):
        reading = SpanReading(
            start=int(encoded.offsets[row, starts[row], 0]),
            end=int(encoded.offsets[row, ends[row], 1]),
            span_logprob=float(logprobs[row]),
            answerable_logit=float(answerable[row]),
            start_mass=float(start_mass[row]),
            end_mass=float(end_mass[row]),
        )
        if best[window] is None or reading.confidence > best[window].confidence:
            best[window] = reading
    if any(reading is None for reading in best):
        raise ValueError("a window produced no input row")
    return best
