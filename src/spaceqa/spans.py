"""Find the short answer span inside a sentence: question analysis, candidate spans, scoring.

This is the classic pre-neural recipe (question classification, typed candidates, lexical
and syntactic features), kept general: the patterns are English question forms, part-of-speech
shapes (noun phrases, proper-noun runs, verb arguments) and span shapes (dates, numbers,
quotations), never words of a corpus.

Candidates of a sentence are scored against what the question expects:

* type: "who" wants a name, "when" a date, "how many" a number, "what colour" a noun phrase...
* novelty: an answer does not repeat the question ("Mir" is no answer to a question about Mir);
* head noun: "Which *module*..." prefers "Zvezda Service Module" or "the Kristall module";
* role: "What *kept* the astronauts from..." wants the subject of "kept" in the sentence,
  "What did Matlin *translate*?" its object, "Who *designed* X?" the agent of "designed by";
* proximity: answers sit near the question words that the sentence shares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .tagging import Token, tag
from .text import STOPWORDS, WORD_RE, terms

PERSON, PLACE, ORGANISATION, DATE, NUMBER, QUANTITY, ENTITY, EXPANSION, DESCRIPTION = (
    "person", "place", "organisation", "date", "number", "quantity", "entity", "expansion", "description",
)
SUBJECT, OBJECT = "subject", "object"

# General English nouns that say what kind of thing a "which/what <noun>" question asks for.
_PERSON_NOUNS = frozenset(
    """person people man men woman women boy girl child children president leader astronaut cosmonaut
    engineer scientist administrator director commander pilot author writer poet player coach
    quarterback king queen emperor empress pope ruler founder chairman chairwoman ceo officer minister
    ambassador general member student professor teacher artist singer actor actress composer inventor
    explorer governor senator mayor chancellor premier secretary envoy deputy head chief captain
    physicist chemist mathematician philosopher historian journalist reporter athlete champion winner
    manager owner bishop priest saint prophet son daughter father mother brother sister wife husband
    honoree recipient nominee performer musician architect designer painter sculptor lawyer judge
    doctor physician nurse soldier duke duchess prince princess count countess lord baron knight
    monarch heir successor predecessor individual receiver rusher linebacker kicker defender
    commissioner spokesman spokeswoman""".split()
)
_PLACE_NOUNS = frozenset(
    """city country state place town village location continent region river island nation capital
    county province area site venue stadium arena base ocean sea lake mountain street building port
    harbor harbour district neighborhood territory kingdom empire valley desert bay coast peninsula""".split()
)
_ORGANISATION_NOUNS = frozenset(
    """company organization organisation agency team university school college party group firm
    network channel newspaper magazine institution institute corporation business club band league
    government department ministry airline broadcaster publisher label""".split()
)
# Words that make a proper name an institution, place or title rather than a person.
_NOT_A_PERSON = frozenset(
    """administration agency association committee council foundation office center centre union bank
    museum church station program programme project society academy federation commission force army
    navy fleet conference congress award prize trophy bowl cup series championship festival group
    institute university college school company corporation party league team stadium city state
    county river island street airport hospital house hall court ministry department battle war treaty
    act revolution empire kingdom dynasty""".split()
)
_DATE_NOUNS = frozenset("year date day month decade century era period season".split())
_NUMBER_NOUNS = frozenset(
    """number amount score rating cost price percentage percent proportion share fraction rate total
    population size length width height depth distance speed weight temperature age salary budget
    revenue income attendance capacity margin fee value sum quantity count factor""".split()
)
# "What is the name of X?": the noun after "of" is the real head.
_FRAME_NOUNS = frozenset("name term title type kind sort word phrase nickname form".split())
_AUXILIARIES = frozenset(
    "is are was were be been being am do does did has have had can could will would shall should may might must".split()
)
_DETERMINERS = frozenset({"DT", "PRP$", "WP$"})
_NOUNS = frozenset({"NN", "NNS", "NNP", "NNPS"})
_NP_INSIDE = frozenset({"JJ", "JJR", "JJS", "VBN", "VBG", "CD", "NN", "NNS", "NNP", "NNPS", "FW", "POS"})
_PROPER = frozenset({"NNP", "NNPS"})
_NAME_CONNECTORS = frozenset({"of", "de", "da", "del", "della", "di", "von", "van", "der", "den", "la", "le", "du", "bin", "al", "y", "&", "for"})

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
    rf"|\d{{1,2}}(?:st|nd|rd|th)\s+century"  # 12th century
    rf"|{_YEAR}(?:\s*[-–]\s*(?:{_YEAR}|\d{{2}}))?)\b"  # 1957, 1807-2007, 1982-83
)
_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand dozen"
).split()
_NUMBER_RE = re.compile(
    rf"(?<![\w/-])(?:[$£€]\s?)?(?:\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?(?:\s?[–-]\s?\d+(?:\.\d+)?)?|(?:{'|'.join(_NUMBER_WORDS)})(?:[- ](?:{'|'.join(_NUMBER_WORDS)}))?)"
    r"(?:\s+(?:hundred|thousand|million|billion|trillion))?(?:\s?(?:%|percent|per cent))?(?![\w/])",
    re.IGNORECASE,
)
_QUOTED_RE = re.compile(r"“([^”]{1,80})”|\"([^\"]{1,80})\"|‘([^’]{1,60})’")
_PARENS_RE = re.compile(r"\(([^()]{1,80})\)")
_NAMING_FRAME = re.compile(r"\b(?:called|named|known as)\s*\??\s*$|\bthe names? of\b", re.IGNORECASE)
_PLACE_PREPOSITION = re.compile(r"\b(?:in|at|from|near|to|into|onto|on|over|across|towards?)\s+(?:the\s+)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Expectation:
    """What a question asks for."""

    kind: str
    head_words: frozenset[str] = frozenset()  # "which russian MODULE", "how many DAYS": the answer's noun
    plural: bool = False  # "which cosmonauts", "who were": a list may be the answer
    acronym: str | None = None  # "What does GEOSS stand for?"
    verb: str | None = None  # the question's main verb: "what KEPT...", "what did Matlin TRANSLATE"
    role: str | None = None  # SUBJECT or OBJECT: where the answer stands relative to ``verb``


@dataclass(frozen=True)
class Span:
    """A candidate answer: offsets inside its sentence, its shape, and (once scored) its score."""

    start: int
    end: int
    kind: str  # name, list, date, number, quantity, quote, phrase
    score: float = 0.0


# --- the question ----------------------------------------------------------------------------


def question_focus(question: str) -> str:
    """The question without a naming frame: "What was X called?" -> "What was X"."""
    return _NAMING_FRAME.sub(" ", question)


def expect(question: str) -> Expectation:
    """Analyse a question: the kind of answer, its head noun, its main verb and the answer's role."""
    q = " ".join(question.split())
    stand_for = re.search(r"\bwhat (?:does|did|do) (?:the )?(?:acronym |abbreviation )?([A-Z][A-Za-z0-9.&-]+) stand for\b", q, re.IGNORECASE)
    if stand_for:
        return Expectation(EXPANSION, acronym=re.sub(r"[.&-]", "", stand_for.group(1)))
    focus = question_focus(q)
    tokens = tag(focus)
    words = [focus[t.start : t.end].lower() for t in tokens]
    tags = [t.tag for t in tokens]
    head, verb, role = _structure(words, tags)
    plural = any(w.endswith("s") and not w.endswith("ss") for w in head) or bool(re.match(r"^(?:who|what|which) (?:were|are)\b", q.lower()))
    return Expectation(_kind_of(q.lower(), head), frozenset(head), plural, None, verb, role)


def _kind_of(lower: str, head: list[str]) -> str:
    heads = _stems(frozenset(head))
    if re.search(r"\bhow (?:many|much)\b", lower):
        return NUMBER if re.search(r"\bhow many\b", lower) else QUANTITY
    if re.search(r"\bhow (?:long|far|old|big|large|tall|high|deep|fast|heavy|wide|often|hot|cold)\b", lower):
        return QUANTITY
    if re.search(r"\bwhen\b", lower) or heads & _stems(_DATE_NOUNS) or re.search(r"\bwhat time\b", lower):
        return DATE
    if heads & _stems(_NUMBER_NOUNS):
        return NUMBER
    if re.search(r"\bwhere\b", lower) or heads & _stems(_PLACE_NOUNS):
        return PLACE
    if re.search(r"\b(?:who|whom|whose)\b", lower) or heads & _stems(_PERSON_NOUNS):
        return PERSON
    if heads & _stems(_ORGANISATION_NOUNS):
        return ORGANISATION
    if re.search(r"\b(?:which|what)\b", lower):
        return ENTITY
    return DESCRIPTION


@lru_cache(maxsize=4096)  # the word classes above, and the head nouns and verbs of recent questions
def _stems(words: frozenset[str]) -> frozenset[str]:
    """The stemmed terms of a set of words."""
    return frozenset(t for w in words for t in terms(w))


def _structure(words: list[str], tags: list[str]) -> tuple[list[str], str | None, str | None]:
    """Head nouns, main verb and answer role of a tagged question.

    "which president signed the agreement" -> (["president"], "signed", SUBJECT)
    "what did Matlin translate"            -> ([], "translate", OBJECT)
    "what is the name of the trophy ..."   -> (["trophy"], None, None)
    "how many days did he spend there"     -> (["days"], "spend", OBJECT)
    """
    wh = next((i for i, w in enumerate(words) if w in ("what", "which", "who", "whom", "whose", "how", "when", "where", "why")), None)
    if wh is None:
        return [], None, None
    i = wh + 1
    if words[wh] == "how" and i < len(words) and words[i] in ("many", "much"):
        i += 1
    head, i = _noun_phrase(words, tags, i)
    if not head and words[wh] in ("what", "which") and i < len(words) and words[i] in ("is", "was", "are", "were"):
        head, _ = _noun_phrase(words, tags, i + 1)  # "what was THE FINAL SCORE"
    if head and head[-1] in _FRAME_NOUNS and "of" in words[i : i + 3]:
        of = words.index("of", i - 1 if words[i - 1] == "of" else i)
        inner, _ = _noun_phrase(words, tags, of + 1)
        head = inner or head
    verb, role = None, None
    after_phrase = i
    for j in range(after_phrase, len(words)):
        if tags[j].startswith("VB") and words[j] not in _AUXILIARIES:
            verb = words[j]
            role = SUBJECT if j == after_phrase and words[wh] != "how" else OBJECT
            break
    return head, verb, role


_QUESTION_NP = frozenset({"JJ", "JJR", "JJS", "CD", "NN", "NNS", "NNP", "NNPS", "FW"})


def _noun_phrase(words: list[str], tags: list[str], i: int) -> tuple[list[str], int]:
    """The common nouns of the question's noun phrase starting at ``i``, and the index after it.

    In "which company's flights", the possessor ("company") is what is asked for.
    """
    nouns: list[str] = []
    proper: list[str] = []
    while i < len(words) and (tags[i] in _QUESTION_NP or tags[i] in _DETERMINERS or tags[i] == "POS"):
        if tags[i] == "POS" and (nouns or proper):
            return (nouns or proper)[-2:], _skip_noun_phrase(tags, i + 1)
        if tags[i] in ("NN", "NNS"):
            nouns.append(words[i])
        elif tags[i] in _PROPER:
            proper.append(words[i])
        i += 1
    # "In what Super Bowl did ...": with no common noun, the proper noun is the head.
    return (nouns or proper)[-2:], i


def _skip_noun_phrase(tags: list[str], i: int) -> int:
    while i < len(tags) and (tags[i] in _QUESTION_NP or tags[i] in _DETERMINERS):
        i += 1
    return i


# --- the candidates ------------------------------------------------------------------------


def candidate_spans(sentence: str, tokens: list[Token]) -> list[Span]:
    """All typed candidate spans of a tagged sentence (unscored, may overlap).

    ``tokens`` carry offsets relative to the start of ``sentence``.
    """
    spans: list[Span] = [Span(m.start(), m.end(), "date") for m in _DATE_RE.finditer(sentence)]
    spans += _numbers(sentence)
    names = _names(sentence, tokens)
    spans += names + _name_lists(sentence, names)
    for first, last in noun_phrases(tokens):
        spans.append(Span(tokens[first].start, tokens[last - 1].end, "phrase"))
        if tokens[first].tag in _DETERMINERS and last - first > 1:
            spans.append(Span(tokens[first + 1].start, tokens[last - 1].end, "phrase"))
    for match in _QUOTED_RE.finditer(sentence):
        group = next(g for g in (1, 2, 3) if match.group(g) is not None)
        spans.append(Span(match.start(group), match.end(group), "quote"))
    for match in _PARENS_RE.finditer(sentence):
        spans.append(Span(match.start(1), match.end(1), "phrase"))
    return [s for s in spans if sentence[s.start : s.end].strip()]


def noun_phrases(tokens: list[Token]) -> list[tuple[int, int]]:
    """Token ranges of basic noun phrases: (determiner) modifiers* noun, and "NP of NP"."""
    basic: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        start = i
        if tokens[i].tag in _DETERMINERS:
            i += 1
        elif i > 0 and tokens[i - 1].tag.startswith("VB") and tokens[i].tag in ("VBN", "VBG"):
            # After a verb, a participle belongs to the verb ("are CALLED randomized algorithms").
            i += 1
            start = i
        j = i
        while j < len(tokens) and tokens[j].tag in _NP_INSIDE:
            j += 1
        last_noun = max((k for k in range(i, j) if tokens[k].tag in _NOUNS or tokens[k].tag == "CD"), default=None)
        if last_noun is not None and tokens[start].tag != "POS":
            basic.append((start, last_noun + 1))
            i = last_noun + 1
        else:
            i = max(j, start + 1)
    phrases = list(basic)
    for (a, b), (c, d) in zip(basic, basic[1:]):
        if c == b + 1 and tokens[b].tag == "IN" and d - a <= 10:
            phrases.append((a, d))  # "the number of gates", "School of Architecture"
    return phrases


def _numbers(sentence: str) -> list[Span]:
    spans = []
    years = {(m.start(), m.end()) for m in re.finditer(rf"\b{_YEAR}\b", sentence)}
    for match in _NUMBER_RE.finditer(sentence):
        if (match.start(), match.end()) in years:
            continue  # a bare year is a date
        spans.append(Span(match.start(), match.end(), "number"))
        # The number with the noun it counts or measures: "115 days", "400 kilometers".
        unit = re.match(r"[\s-]+(?:of\s+)?([A-Za-z]+)(?:\s+(Fahrenheit|Celsius|Kelvin))?", sentence[match.end() :])
        if unit and unit.group(1).lower() not in STOPWORDS and unit.group(1).islower():
            spans.append(Span(match.start(), match.end() + unit.end(), "quantity"))
    return spans


def _names(sentence: str, tokens: list[Token]) -> list[Span]:
    """Runs of proper nouns, joined by "of", "de", "&"...: "Célestine Guynemer de la Hailandière"."""
    spans: list[Span] = []
    run: list[int] = []

    def close() -> None:
        while run and (sentence[tokens[run[-1]].start : tokens[run[-1]].end].lower() in _NAME_CONNECTORS or tokens[run[-1]].tag == "POS"):
            run.pop()
        if run and not sentence[tokens[run[-1]].end :].startswith(":"):  # "Description:" is a label
            spans.append(Span(tokens[run[0]].start, tokens[run[-1]].end, "name"))
            # "President Richard Nixon", "NFL Commissioner Roger Goodell": also the name after the title.
            titles = [k for k, i in enumerate(run[:-1]) if _word(sentence, tokens[i]).lower() in _PERSON_NOUNS]
            if titles:
                inner = run[titles[-1] + 1 :]
                spans.append(Span(tokens[inner[0]].start, tokens[inner[-1]].end, "name"))
        run.clear()

    for index, token in enumerate(tokens):
        word = _word(sentence, token)
        adjacent = not run or token.start - tokens[run[-1]].end <= 1
        if run and word in {_word(sentence, tokens[k]) for k in run}:
            adjacent = False  # a repeated word starts a new name: "Mikhail Tyurin Cosmonaut Mikhail Tyurin"
        if token.tag in _PROPER and adjacent:
            run.append(index)
        elif run and adjacent and (word.lower() in _NAME_CONNECTORS or token.tag == "POS") and _continues_name(tokens, index):
            run.append(index)  # "Guynemer de la Hailandière", "Saint Mary's College"
        elif run and adjacent and token.tag == "CD":
            run.append(index)  # "Apollo 11", "Super Bowl 50"
        else:
            close()
            if token.tag in _PROPER:
                run.append(index)
    close()
    return spans


def _continues_name(tokens: list[Token], index: int) -> bool:
    """Does a proper noun follow, past connectors ("de la Hailandière")?"""
    for token in tokens[index + 1 : index + 4]:
        if token.tag in _PROPER:
            return True
        if token.tag not in ("IN", "DT", "CC", "FW", "NNP") and token.tag != "SYM":
            return False
    return False


def _name_lists(sentence: str, names: list[Span]) -> list[Span]:
    """Names joined by commas and "and": "Alexei Leonov and Valeri Kubasov"."""
    lists = []
    names = sorted({(n.start, n.end) for n in names})
    for i in range(len(names)):
        end = i
        while end + 1 < len(names) and re.fullmatch(r",?\s+(?:and|&)\s+|,\s+", sentence[names[end][1] : names[end + 1][0]]):
            end += 1
        if end > i:
            lists.append(Span(names[i][0], names[end][1], "list"))
    return lists


def _word(sentence: str, token: Token) -> str:
    return sentence[token.start : token.end]


# --- scoring -----------------------------------------------------------------------------

_FIT = {
    PERSON: {"name": 1.0, "list": 0.8, "phrase": 0.2},
    PLACE: {"name": 1.0, "list": 0.5, "phrase": 0.3},
    ORGANISATION: {"name": 1.0, "list": 0.5, "quote": 0.5, "phrase": 0.3},
    DATE: {"date": 1.0, "number": 0.2},
    NUMBER: {"number": 1.0, "quantity": 0.9, "date": 0.2},
    QUANTITY: {"quantity": 1.0, "number": 0.7},
    ENTITY: {"name": 0.9, "quote": 1.0, "phrase": 0.8, "list": 0.6, "date": 0.3, "number": 0.4, "quantity": 0.4},
    EXPANSION: {"name": 0.5},
    DESCRIPTION: {"phrase": 0.6, "quote": 0.4, "name": 0.4},
}
MIN_SPAN_SCORE = 0.5  # below this no span is trusted and the whole sentence is the answer
ROLE_BONUS = 0.6
LONG_SPAN_WORDS = 4  # SQuAD-style answers are short; each word past this costs a little


@dataclass(frozen=True)
class SpanCandidate:
    """A candidate span with what scoring needs of it that does not depend on the question."""

    span: Span
    terms: frozenset[str]
    window_terms: frozenset[str]  # terms within a few words either side: the head noun may sit there
    first_token: int  # token range the span covers, for distances in words
    last_token: int
    words: int
    person_likeness: float
    after_place_preposition: bool


@dataclass(frozen=True)
class SentenceAnalysis:
    """Everything about a sentence that span scoring needs and no question changes: computed once."""

    sentence: str
    tokens: list[Token]
    token_terms: list[frozenset[str]]
    phrases: list[tuple[int, int]]
    candidates: list[SpanCandidate]


def analyse_sentence(sentence: str, tokens: list[Token]) -> SentenceAnalysis:
    """Tokens' terms, noun phrases and the candidate spans of a tagged sentence."""
    candidates = []
    seen: set[tuple[int, int, str]] = set()
    for span in candidate_spans(sentence, tokens):
        if (span.start, span.end, span.kind) in seen:
            continue
        seen.add((span.start, span.end, span.kind))
        text = sentence[span.start : span.end]
        inside = [i for i, t in enumerate(tokens) if span.start <= t.start < span.end]
        window = sentence[max(0, span.start - 25) : span.start] + " " + sentence[span.end : span.end + 25]
        candidates.append(
            SpanCandidate(
                span=span,
                terms=frozenset(terms(text)),
                window_terms=frozenset(terms(window)),
                first_token=inside[0] if inside else -1,
                last_token=inside[-1] if inside else -1,
                words=len(WORD_RE.findall(text)),
                person_likeness=_person_likeness(text, is_list=span.kind == "list"),
                after_place_preposition=bool(_PLACE_PREPOSITION.search(sentence[: span.start])),
            )
        )
    return SentenceAnalysis(
        sentence=sentence,
        tokens=tokens,
        token_terms=[frozenset(terms(_word(sentence, t))) for t in tokens],
        phrases=noun_phrases(tokens),
        candidates=candidates,
    )


def best_span(
    analysis: SentenceAnalysis,
    expectation: Expectation,
    question_weights: dict[str, float],
    avoid_terms: set[str] = frozenset(),
) -> Span | None:
    """The best-scoring candidate span for the question, or None (answer with the sentence)."""
    scored = score_spans(analysis, expectation, question_weights, avoid_terms)
    if not scored or scored[0].score < MIN_SPAN_SCORE:
        return None
    return scored[0]


def score_spans(
    analysis: SentenceAnalysis,
    expectation: Expectation,
    question_weights: dict[str, float],
    avoid_terms: set[str] = frozenset(),
) -> list[Span]:
    """Candidates scored for this question, best first.

    ``question_weights`` maps the question's stemmed terms to their weight (IDF);
    ``avoid_terms`` are terms of the conversation so far. An answer should bring
    something the question does not already say, next to what it does say.
    """
    fit = _FIT[expectation.kind]
    sentence = analysis.sentence
    head_stems = _stems(expectation.head_words)
    asked = question_weights.keys() | avoid_terms
    total_weight = sum(question_weights.values()) or 1.0
    role_ranges = _argument_ranges(analysis, expectation)
    # Tokens that share a term with the question, once per sentence: proximity is measured to these.
    matched = [(i, stems & question_weights.keys()) for i, stems in enumerate(analysis.token_terms) if stems & question_weights.keys()]
    best: dict[tuple[int, int], Span] = {}
    for candidate in analysis.candidates:
        span = candidate.span
        base = fit.get(span.kind, 0.0)
        if expectation.kind == EXPANSION and span.kind == "name" and _initials_match(sentence[span.start : span.end], expectation.acronym):
            base = 2.0
        if base <= 0:
            continue
        novel = candidate.terms - head_stems  # the head noun may be part of the answer
        if novel:
            # Squared: repeating all of the question is fatal, sharing a word ("the integer
            # factorization problem" for a question about factorization) costs little.
            base -= 1.2 * (len(novel & asked) / len(novel)) ** 2
        elif candidate.terms:
            base -= 0.8  # nothing but the head noun: "the module"
        if expectation.kind == PERSON and span.kind in ("name", "list"):
            base += candidate.person_likeness
        if expectation.plural and span.kind == "list":
            base += 0.5
        if expectation.kind == PLACE and candidate.after_place_preposition:
            base += 0.2
        if any(start <= span.start and span.end <= end for start, end in role_ranges):
            base += ROLE_BONUS
        base += _head_bonus(candidate, head_stems)
        base += _proximity(candidate, matched, question_weights) / total_weight
        base -= 0.1 * max(0, candidate.words - LONG_SPAN_WORDS)
        scored = Span(span.start, span.end, span.kind, round(base, 4))
        if (span.start, span.end) not in best or best[(span.start, span.end)].score < scored.score:
            best[(span.start, span.end)] = scored
    return sorted(best.values(), key=lambda s: (-s.score, s.end - s.start, s.start))


def _argument_ranges(analysis: SentenceAnalysis, expectation: Expectation) -> list[tuple[int, int]]:
    """Character ranges of the noun phrase in the answer's role around the question's verb.

    For a subject question, the phrase just before the verb ("a bit of wire KEPT") or the
    agent after "by" in a passive ("PRESENTED to him by the head, Anatoly Perminov");
    for an object question, the phrase just after the verb ("TRANSLATED the national anthem").
    """
    if not expectation.verb:
        return []
    sentence, tokens, phrases = analysis.sentence, analysis.tokens, analysis.phrases
    verb_stems = _stems(frozenset([expectation.verb]))
    ranges = []
    for v, stems in enumerate(analysis.token_terms):
        if not (stems & verb_stems and tokens[v].tag.startswith("VB")):
            continue
        passive = any(_word(sentence, t).lower() == "by" for t in tokens[v + 1 : v + 4])
        if expectation.role == SUBJECT and not passive:
            before = [p for p in phrases if p[1] <= v and all(tokens[k].tag in ("RB", "MD") or _word(sentence, tokens[k]).lower() in _AUXILIARIES for k in range(p[1], v))]
            if before:
                first, last = max(before, key=lambda p: (p[1], -p[0]))
                ranges.append((tokens[first].start, tokens[last - 1].end))
        if expectation.role == SUBJECT and passive:
            by = next(k for k in range(v + 1, min(v + 4, len(tokens))) if _word(sentence, tokens[k]).lower() == "by")
            ranges.append((tokens[by + 1].start if by + 1 < len(tokens) else tokens[by].end, _clause_end(sentence, tokens, by + 1)))
        if expectation.role == OBJECT:
            after = [p for p in phrases if p[0] > v and all(tokens[k].tag in ("RB", "RP", "TO", "IN") for k in range(v + 1, p[0]))]
            if after:
                first, last = min(after, key=lambda p: (p[0], -p[1]))
                ranges.append((tokens[first].start, tokens[last - 1].end))
    return ranges


def _clause_end(sentence: str, tokens: list[Token], start: int) -> int:
    """End offset of the clause that begins at token ``start`` (up to "." ";" "(" or 12 tokens)."""
    end = start
    while end < len(tokens) and end - start < 12 and _word(sentence, tokens[end]) not in {".", ";", "(", ")"}:
        end += 1
    return tokens[end - 1].end if end > start else tokens[start - 1].end


def _person_likeness(name: str, is_list: bool = False) -> float:
    """People are named with a first and a last name, and without institutional words.

    A list ("Alexei Leonov and Valeri Kubasov") is judged by its names, not its length.
    """
    words = WORD_RE.findall(name)
    if any(w.lower() in _NOT_A_PERSON for w in words):
        return -0.5
    return 0.3 if is_list or 2 <= len(words) <= 4 else 0.0


def _head_bonus(candidate: SpanCandidate, head_stems: frozenset[str]) -> float:
    """Reward a span that contains or touches the noun the question asks about."""
    if not head_stems:
        return 0.0
    if candidate.terms & head_stems:
        return 0.4
    return 0.3 if candidate.window_terms & head_stems else 0.0


def _proximity(candidate: SpanCandidate, matched: list[tuple[int, frozenset[str]]], question_weights: dict[str, float]) -> float:
    """Weight of the question terms found near the span, each discounted by its distance in words.

    Summing over all shared terms (not only the nearest) favours the span that sits in the
    densest cluster of the question's words: the subject of "became the first American aboard".
    """
    first, last = candidate.first_token, candidate.last_token
    if first < 0:
        return 0.0
    best: dict[str, float] = {}
    for index, shared in matched:
        if first <= index <= last:
            continue
        distance = first - index if index < first else index - last
        decay = 1.0 / (1.0 + 0.3 * (distance - 1))
        for term in shared:
            weight = question_weights[term] * decay
            if weight > best.get(term, 0.0):
                best[term] = weight
    return sum(best.values())


def _initials_match(name: str, acronym: str | None) -> bool:
    if not acronym:
        return False
    capitals = "".join(w[0] for w in WORD_RE.findall(name) if w[0].isupper())
    return capitals.upper() == acronym.upper()
