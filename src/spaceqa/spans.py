"""Find the short answer span inside a sentence: question typing, candidate spans, scoring.

This is the classic pre-neural recipe (question classification + typed candidates +
proximity features), kept general: the patterns are English question forms and
span shapes (names, dates, numbers, quotations, codes), never words of a corpus.

The candidates of a sentence are scored against what the question expects:

* type: "who" wants a name, "when" a date, "how many" a number, "where" a place...
* novelty: an answer does not repeat the question ("Mir" is no answer to a question about Mir);
* head noun: "Which *module*..." prefers "Zvezda Service Module" or "the Kristall module";
* proximity: answers sit near the question words that the sentence shares.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from .text import STOPWORDS, WORD_RE, normalise_word, terms

PERSON, PLACE, ORGANISATION, DATE, NUMBER, QUANTITY, ENTITY, EXPANSION, DESCRIPTION = (
    "person", "place", "organisation", "date", "number", "quantity", "entity", "expansion", "description",
)

# General English nouns that say what kind of thing a "which/what <noun>" question asks for.
_PERSON_NOUNS = frozenset(
    """person people man men woman women boy girl child children president leader astronaut cosmonaut
    engineer scientist administrator director commander pilot author writer poet player coach
    quarterback king queen emperor empress pope ruler founder chairman chairwoman ceo officer minister
    ambassador general member student professor teacher artist singer actor actress composer inventor
    explorer governor senator mayor chancellor premier secretary envoy deputy head chief captain
    physicist chemist mathematician philosopher historian journalist reporter athlete champion winner
    manager owner bishop priest saint prophet son daughter father mother brother sister wife husband""".split()
)
_PLACE_NOUNS = frozenset(
    """city country state place town village location continent region river island nation capital
    county province area site venue stadium arena base ocean sea lake mountain street building port
    harbor harbour district neighborhood territory kingdom empire""".split()
)
_ORGANISATION_NOUNS = frozenset(
    """company organization organisation agency team university school college party group firm
    network channel newspaper magazine institution institute corporation business club band league
    government department ministry airline""".split()
)
_DATE_NOUNS = frozenset("year date day month decade century time era period season".split())
_COPULA_AND_AUXILIARIES = set(
    "is are was were be been being do does did has have had can could will would shall should may might must".split()
)
_DETERMINERS = set("the a an his her its their this that these those my our your".split())
_CLAUSE_WORDS = set("when while where which who whom whose that because although though if as and but or so since after before".split())

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?"
    r"|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"
_DATE_RE = re.compile(
    rf"\b(?:{_MONTHS}(?:\s*[-–]\s*{_MONTHS})?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:\s*[-–]\s*\d{{1,2}})?,?\s+{_YEAR}"  # July 15, 1975
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS},?\s+{_YEAR}"  # 15 July 1975
    rf"|{_MONTHS}(?:\s*[-–]\s*{_MONTHS})?,?\s+{_YEAR}"  # March 2012, March-July 1995
    rf"|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?\b"  # October 4
    rf"|\d{{1,2}}/\d{{1,2}}/{_YEAR}"  # 03/01/2012
    rf"|(?:early|mid|late)[- ](?:19|20)?\d0s"  # the early 60s
    rf"|(?:19|20)?\d0s"  # 1960s, 90s
    rf"|{_YEAR}(?:\s*[-–]\s*{_YEAR})?)\b"  # 1957, 1807-2007
)
_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand dozen"
)
_SCALE = r"(?:\s+(?:hundred|thousand|million|billion|trillion))?"
_NUMBER_RE = re.compile(
    rf"(?<![\w/-])(?:\$\s?)?(?:\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?|(?:{'|'.join(_NUMBER_WORDS.split())})(?:[- ](?:{'|'.join(_NUMBER_WORDS.split())}))?){_SCALE}"
    r"(?:\s?(?:%|percent|per cent))?(?![\w/])",
    re.IGNORECASE,
)
_QUOTED_RE = re.compile(r"“([^”]{1,80})”|\"([^\"]{1,80})\"|‘([^’]{1,60})’")
_PARENS_RE = re.compile(r"\(([^()]{1,80})\)")
_NAME_CONNECTORS = {"of", "de", "da", "del", "von", "van", "der", "la", "le", "du", "bin", "al"}
# Words that name a unit of measure after a number; a general list, not a corpus list.
_UNIT_HINT = re.compile(r"^[a-z]+s?$")


@dataclass(frozen=True)
class Expectation:
    """What kind of span a question asks for."""

    kind: str
    head_words: frozenset[str] = frozenset()  # nouns of "which <...> module" / "how many <days>"
    plural: bool = False  # "which cosmonauts", "who were": a list may be the answer
    acronym: str | None = None  # "What does GEOSS stand for?"
    verb: str | None = None  # "what KEPT ...", "who PRESENTED ...": its subject or agent is the answer


@dataclass(frozen=True)
class Span:
    """A candidate answer: offsets inside its sentence, its shape, and (once scored) its score."""

    start: int
    end: int
    kind: str  # name, list, date, number, quantity, quote, phrase
    score: float = 0.0


def expect(question: str) -> Expectation:
    """Classify a question by the answer it asks for."""
    q = " ".join(question.strip().split())
    lower = q.lower()
    stand_for = re.search(r"\bwhat (?:does|did|do) (?:the )?(?:acronym |abbreviation )?([A-Z][A-Za-z0-9.-]+) stand for\b", q, re.IGNORECASE)
    if stand_for:
        return Expectation(EXPANSION, acronym=stand_for.group(1).replace(".", ""))
    head, verb = _question_phrase(lower)
    plural = any(word.endswith("s") and not word.endswith("ss") for word in head) or bool(
        re.match(r"^(?:who|what|which) (?:were|are)\b", lower)
    )
    return dataclasses.replace(_kind_of(lower, frozenset(head), plural), verb=verb)


def _kind_of(lower: str, heads: frozenset[str], plural: bool) -> Expectation:
    head_stems = {t for w in heads for t in terms(w)}
    if re.search(r"\bhow (?:many|much)\b", lower):
        return Expectation(NUMBER if "many" in lower.split() else QUANTITY, heads)
    if re.search(r"\bhow (?:long|far|old|big|large|tall|high|deep|fast|heavy|wide|often|hot|cold)\b", lower):
        return Expectation(QUANTITY, heads)
    if re.search(r"\bwhat (?:percentage|percent|proportion|share|number|amount|fraction)\b", lower):
        return Expectation(NUMBER, heads)
    if re.search(r"\bwhen\b", lower) or head_stems & _stems(_DATE_NOUNS):
        return Expectation(DATE, heads)
    if re.search(r"\bwhere\b", lower) or head_stems & _stems(_PLACE_NOUNS):
        return Expectation(PLACE, heads, plural)
    if re.search(r"\b(?:who|whom|whose)\b", lower) or head_stems & _stems(_PERSON_NOUNS):
        return Expectation(PERSON, heads, plural)
    if head_stems & _stems(_ORGANISATION_NOUNS):
        return Expectation(ORGANISATION, heads, plural)
    if re.search(r"\b(?:which|what)\b", lower):
        return Expectation(ENTITY, heads, plural)
    return Expectation(DESCRIPTION, heads, plural)


@lru_cache(maxsize=None)
def _stems(words: frozenset[str]) -> frozenset[str]:
    return frozenset(t for w in words for t in terms(w))


def _question_phrase(lower_question: str) -> tuple[list[str], str | None]:
    """The noun phrase after the question word, and the verb that follows it in a subject question.

    "which president signed the agreement" -> (["president"], "signed");
    "how many days did he spend" -> (["days"], None); "what kept the astronauts" -> ([], "kept").
    Without a part-of-speech tagger the phrase ends at a function word, an auxiliary, or a word
    in -ed; capitalised modifiers and numbers ("Expedition 14 flight engineer") are not heads.
    """
    match = re.search(r"\b(which|what|whose|who|how many|how much)\s+(.*)", lower_question)
    if not match:
        return [], None
    phrase: list[str] = []
    words = [normalise_word(w) for w in WORD_RE.findall(match.group(2))[:6]]
    for position, word in enumerate(words):
        if word in _COPULA_AND_AUXILIARIES or word in STOPWORDS:
            break
        followed_by_determiner = position + 1 < len(words) and words[position + 1] in _DETERMINERS
        if word.endswith("ed") or match.group(1) == "who" or followed_by_determiner or len(phrase) == 3:
            return [w for w in phrase if not w.isdigit()][-2:], word
        phrase.append(word)
    return [w for w in phrase if not w.isdigit()][-2:], None


_NAMING_FRAME = re.compile(r"\b(?:called|named|known as)\s*\??\s*$|\bthe names? of\b", re.IGNORECASE)


def question_focus(question: str) -> str:
    """The question without a naming frame: "What was X called?" -> "What was X"."""
    return _NAMING_FRAME.sub(" ", question)


def candidate_spans(sentence: str, is_common_word: Callable[[str], bool]) -> list[Span]:
    """All typed candidate spans of a sentence (unscored, may overlap)."""
    spans: list[Span] = []
    spans += [Span(m.start(), m.end(), "date") for m in _DATE_RE.finditer(sentence)]
    spans += _numbers(sentence)
    names = _names(sentence, is_common_word)
    spans += names
    spans += _name_lists(sentence, names)
    for match in _QUOTED_RE.finditer(sentence):
        group = next(g for g in (1, 2, 3) if match.group(g) is not None)
        spans.append(Span(match.start(group), match.end(group), "quote"))
    for match in _PARENS_RE.finditer(sentence):
        spans.append(Span(match.start(1), match.end(1), "phrase"))
    return [s for s in spans if sentence[s.start : s.end].strip()]


def _numbers(sentence: str) -> list[Span]:
    spans = []
    years = {(m.start(), m.end()) for m in re.finditer(rf"\b{_YEAR}\b", sentence)}
    for match in _NUMBER_RE.finditer(sentence):
        if (match.start(), match.end()) in years:
            continue  # a bare year is a date
        spans.append(Span(match.start(), match.end(), "number"))
        # The number with the noun it counts or measures: "115 days", "400 kilometers".
        unit = re.match(r"\s+(?:of\s+)?([A-Za-z]+)(?:\s+(Fahrenheit|Celsius|Kelvin))?", sentence[match.end() :])
        if unit and _UNIT_HINT.match(unit.group(1).lower()) and unit.group(1).lower() not in STOPWORDS:
            spans.append(Span(match.start(), match.end() + unit.end(), "quantity"))
    return spans


def _names(sentence: str, is_common_word: Callable[[str], bool]) -> list[Span]:
    """Maximal runs of capitalised words (with inner "of", "de"... and numbers after a name)."""
    words = list(WORD_RE.finditer(sentence))
    spans, run = [], []

    def is_name_word(index: int) -> bool:
        token = words[index].group()
        if not token[0].isupper():
            return False
        if normalise_word(token) in STOPWORDS:
            return False
        # A capitalised sentence opener ("Following", "Besides") is a name only if the word is
        # never seen in lower case in the corpus (true-casing from corpus statistics).
        return not (_starts_sentence(sentence, words[index].start()) and is_common_word(token.lower()))

    def close() -> None:
        while run and (words[run[-1]].group().lower() in _NAME_CONNECTORS):
            run.pop()
        if run and not sentence[words[run[-1]].end() :].startswith(":"):  # "Description:" is a label
            spans.append(Span(words[run[0]].start(), words[run[-1]].end(), "name"))
            # "Cosmonaut Mikhail Tyurin", "President Richard Nixon": also offer the bare name.
            inner = list(run)
            while len(inner) > 1 and words[inner[0]].group().lower() in _PERSON_NOUNS:
                inner.pop(0)
            while len(inner) > 1 and words[inner[-1]].group().lower() in _PERSON_NOUNS:
                inner.pop()
            if inner != run:
                spans.append(Span(words[inner[0]].start(), words[inner[-1]].end(), "name"))
        run.clear()

    for index, match in enumerate(words):
        token = match.group()
        gap = sentence[words[index - 1].end() : match.start()] if index else ""
        joined = not run or gap in (" ", "-")
        if run and token in {words[i].group() for i in run}:
            joined = False  # a repeated word starts a new name: "Mikhail Tyurin Cosmonaut Mikhail Tyurin"
        if is_name_word(index) and joined:
            run.append(index)
        elif run and joined and token.lower() in _NAME_CONNECTORS and index + 1 < len(words) and is_name_word(index + 1):
            run.append(index)
        elif run and joined and any(ch.isdigit() for ch in token):
            run.append(index)  # "Apollo 11", "Expedition 14"
        else:
            close()
            if is_name_word(index):
                run.append(index)
    close()
    return spans


def _name_lists(sentence: str, names: list[Span]) -> list[Span]:
    """Names joined by commas and "and": "Alexei Leonov and Valeri Kubasov"."""
    lists = []
    for i in range(len(names)):
        end = i
        while end + 1 < len(names) and re.fullmatch(r",?\s+(?:and|&)\s+|,\s+", sentence[names[end].end : names[end + 1].start]):
            end += 1
        if end > i:
            lists.append(Span(names[i].start, names[end].end, "list"))
    return lists


def _starts_sentence(sentence: str, offset: int) -> bool:
    before = sentence[:offset].rstrip(" “\"‘'([")
    return not before or before[-1] in ".!?:;"


# --- scoring -----------------------------------------------------------------------------

_FIT = {
    PERSON: {"name": 1.0, "list": 0.8},
    PLACE: {"name": 1.0, "list": 0.5},
    ORGANISATION: {"name": 1.0, "list": 0.5, "quote": 0.5},
    DATE: {"date": 1.0, "number": 0.2},
    NUMBER: {"number": 1.0, "quantity": 0.9, "date": 0.2},
    QUANTITY: {"quantity": 1.0, "number": 0.7},
    ENTITY: {"name": 0.9, "quote": 1.0, "list": 0.6, "phrase": 0.6, "date": 0.3, "number": 0.3, "quantity": 0.3},
    EXPANSION: {"name": 0.5},
    DESCRIPTION: {"phrase": 0.6, "quote": 0.4, "name": 0.3},
}
MIN_SPAN_SCORE = 0.5  # below this no span is trusted and the whole sentence is the answer
_PLACE_PREPOSITION = re.compile(r"\b(?:in|at|from|near|to|into|onto|on|over|across|towards?)\s+(?:the\s+)?$", re.IGNORECASE)


def best_span(
    sentence: str,
    expectation: Expectation,
    question_weights: dict[str, float],
    is_common_word: Callable[[str], bool],
    avoid_terms: set[str] = frozenset(),
) -> Span | None:
    """The best-scoring candidate span for the question, or None (answer with the sentence)."""
    scored = score_spans(sentence, expectation, question_weights, is_common_word, avoid_terms)
    if not scored or scored[0].score < MIN_SPAN_SCORE:
        return None
    return scored[0]


def score_spans(
    sentence: str,
    expectation: Expectation,
    question_weights: dict[str, float],
    is_common_word: Callable[[str], bool],
    avoid_terms: set[str] = frozenset(),
) -> list[Span]:
    """Candidates scored for this question, best first.

    ``question_weights`` maps the question's stemmed terms to their weight (IDF);
    ``avoid_terms`` are terms of the conversation so far. An answer should bring
    something the question does not already say, next to what it does say.
    """
    fit = _FIT[expectation.kind]
    words = list(WORD_RE.finditer(sentence))
    word_terms = [set(terms(m.group())) for m in words]
    head_stems = {t for w in expectation.head_words for t in terms(w)}
    total_weight = sum(question_weights.values()) or 1.0
    candidates = candidate_spans(sentence, is_common_word) + _verb_argument_spans(sentence, words, word_terms, expectation)
    scored = []
    for span in candidates:
        base = fit.get(span.kind, 0.0)
        text = sentence[span.start : span.end]
        if expectation.kind == EXPANSION and span.kind == "name" and _initials_match(text, expectation.acronym):
            base = 2.0
        if base <= 0:
            continue
        span_terms = set(terms(text)) - head_stems  # the head noun may be part of the answer
        if span_terms:
            base -= 1.2 * len(span_terms & (question_weights.keys() | avoid_terms)) / len(span_terms)
        elif set(terms(text)):
            base -= 0.6  # the span is nothing but the head noun: "the module"
        if expectation.kind == PERSON and span.kind == "name" and 2 <= len(WORD_RE.findall(text)) <= 4:
            base += 0.3  # people are usually named with a first and a last name
        if expectation.plural and span.kind == "list":
            base += 0.3
        if expectation.kind == PLACE and _PLACE_PREPOSITION.search(sentence[: span.start]):
            base += 0.2
        base += _head_bonus(sentence, span, head_stems)
        base += _proximity(span, words, word_terms, question_weights) / total_weight
        scored.append(Span(span.start, span.end, span.kind, round(base, 4)))
    scored.sort(key=lambda s: (-s.score, s.end - s.start, s.start))
    return scored


def _verb_argument_spans(sentence: str, words: list[re.Match], word_terms: list[set[str]], expectation: Expectation) -> list[Span]:
    """Phrases around the question's main verb: the subject before it, the agent after "by".

    "What kept the astronauts from ...?" over "... when a bit of wire kept the astronauts ..."
    gives "a bit of wire"; "Who presented the models?" over "models presented to him by
    the head, Anatoly Perminov" gives the agent after "by".
    """
    if not expectation.verb:
        return []
    verb_stems = set(terms(expectation.verb))
    spans = []
    for index, stems in enumerate(word_terms):
        if not stems & verb_stems:
            continue
        start = index
        while start > 0 and index - start < 6:
            previous = words[start - 1]
            gap = sentence[previous.end() : words[start].start()]
            if previous.group().lower() in _CLAUSE_WORDS or any(ch in gap for ch in ",;:()"):
                break
            start -= 1
        if start < index:
            spans.append(Span(words[start].start(), words[index - 1].end(), "phrase"))
        following = [m.group().lower() for m in words[index + 1 : index + 5]]
        if "by" in following:
            by = index + 1 + following.index("by")
            end = by + 1
            while end < len(words) and end - by <= 8 and not any(ch in sentence[words[end - 1].end() : words[end].start()] for ch in ".;()"):
                end += 1
            if end > by + 1:
                spans.append(Span(words[by + 1].start(), words[end - 1].end(), "phrase"))
    return spans


def _head_bonus(sentence: str, span: Span, head_stems: set[str]) -> float:
    """Reward a span that contains or touches the noun the question asks about."""
    if not head_stems:
        return 0.0
    if set(terms(sentence[span.start : span.end])) & head_stems:
        return 0.4
    window = sentence[max(0, span.start - 25) : span.start] + " " + sentence[span.end : span.end + 25]
    return 0.3 if set(terms(window)) & head_stems else 0.0


def _proximity(span: Span, words: list[re.Match], word_terms: list[set[str]], question_weights: dict[str, float]) -> float:
    """Weight of the question terms found near the span, each discounted by its distance in words.

    Summing over all shared terms (not only the nearest) favours the span that sits in the
    densest cluster of the question's words: the subject of "became the first American aboard".
    """
    inside = [i for i, m in enumerate(words) if span.start <= m.start() < span.end]
    if not inside:
        return 0.0
    first, last = inside[0], inside[-1]
    best: dict[str, float] = {}
    for index, stems in enumerate(word_terms):
        if first <= index <= last:
            continue
        distance = first - index if index < first else index - last
        decay = 1.0 / (1.0 + 0.3 * (distance - 1))
        for term in stems & question_weights.keys():
            best[term] = max(best.get(term, 0.0), question_weights[term] * decay)
    return sum(best.values())


def _initials_match(name: str, acronym: str | None) -> bool:
    if not acronym:
        return False
    capitals = "".join(w[0] for w in WORD_RE.findall(name) if w[0].isupper())
    return capitals.upper() == acronym.upper()
