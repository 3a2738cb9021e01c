"""Ingest: read the corpus folder into cleaned ``Document`` records.

Readers (``readers.py``) take each format's markup away; this module cleans the text and
gives every document its id, title and, for PDFs, the offset where each page starts.

Web pages saved as text carry page furniture (cookie banners, skip links, menus,
icon labels, credits) between the prose.  It is removed by general rules in the
spirit of jusText: each line is classed as prose, short or furniture from its
shape (length, terminal punctuation, list markers, web-interface vocabulary),
then short lines survive only as headings directly above prose.

A change to what a document's text or title becomes must bump ``index.FORMAT_VERSION``:
indexes built with the old rules are then rebuilt instead of served as they were.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .readers import SUPPORTED_SUFFIXES, UnreadableError, extract
from .records import Document
from .text import STOPWORDS, WORD_RE, heading_shaped

# Invisible characters that only get in the way of matching and offsets.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACE_RUN = re.compile(r"\s+")
# A list or link marker at the start of a line: "•", "+", "-", "*", "»", ">>", "→" ...
_LIST_MARKER = re.compile(r"^(?:[•·▪‣◦*+\-–—»›→]|>>|\d{1,2}[.)])\s+")
_LINK_ARROW = re.compile(r"[→»›]\s*$|>>\s*$")
_TERMINAL = re.compile(r"[.!?][\"'”’)\]]*$")
_INNER_SENTENCE_END = re.compile(r"[a-z0-9][.!?][\"'”’)\]]*\s+[A-Z“\"]")

# Vocabulary of web interfaces rather than of documents: consent banners, sign-in
# prompts, calls to action.  A line whose sentences mostly use it is furniture.  Each phrase
# is in its interface form, so prose survives: "the treaty was signed in Paris", "an account
# of the voyage", "to find out more about the comet", "JavaScript was created in 1995".
_INTERFACE = re.compile(
    r"\b(?:(?:use|uses|use of|accept|allow|enable|disable|about our|our) cookies|cookie (?:policy|settings|preferences|consent)"
    r"|privacy polic(?:y|ies)|terms of (?:use|service)|sign(?:ing)?[- ](?:in|up)\b(?!\s(?-i:[A-Z]))"
    r"|log(?:ging)?[- ]?(?:in|out)\b(?!\s(?-i:[A-Z])|\s+detail)"
    r"|click(?:ing)? (?:here|the|on)|subscribe (?:to|now|for)|newsletter|skip to(?: the)?(?: main)? content"
    r"|(?:enable|disable|turn on) javascript|javascript is (?:disabled|required)|your browser|(?:your|an?) account (?:to|with|on)|create an account"
    r"|your account|faq)\b|^(?:learn more|find out more|read more|see more)\b",
    re.IGNORECASE,
)
# Labels that are furniture when they stand alone on a short line (credits, icons, menus).
_LABEL = re.compile(
    r"\b(?:(?:photo|image|video|picture)s? credits?|credits?:|icon|banner|printable|print this"
    r"|logo|menu|navigation|breadcrumb|back to top|share this|reading time|min(?:ute)?s? read"
    r"|all rights reserved|copyright)\b|©|^(?:related|see also|read more|more)\b",
    re.IGNORECASE,
)

PROSE, SHORT, FURNITURE = "prose", "short", "furniture"

# File names, for titles: "_", "-", "." and spaces separate words; a run of hex digits with a
# digit and a letter in it, 8 or more long, is a hash or an id ("6c3f5f3a73d38cee"), never a word.
_NAME_SEPARATORS = re.compile(r"[\s_.\-]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_HASH_LIKE = re.compile(r"(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}", re.IGNORECASE)


@dataclass
class CorpusScan:
    """The documents read from a corpus folder, and the files passed over with the reason."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (doc id, reason): not a supported type
    failed: list[tuple[str, str]] = field(default_factory=list)  # (doc id, reason): supported, but unreadable


def load_corpus(corpus_dir: Path, only: set[str] | None = None) -> CorpusScan:
    """Read every supported file under ``corpus_dir`` (or only the ids in ``only``)."""
    corpus_dir = Path(corpus_dir)
    scan = CorpusScan()
    for path in _corpus_files(corpus_dir):
        doc_id = document_id(path, corpus_dir)
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            scan.skipped.append((doc_id, f"unsupported file type {path.suffix or '(none)'}"))
            continue
        if only is not None and doc_id not in only:
            continue
        try:
            scan.documents.append(read_document(path, corpus_dir))
        except (OSError, UnreadableError) as error:
            scan.failed.append((doc_id, str(error)))
    return scan


def corpus_fingerprint(corpus_dir: Path) -> dict[str, str]:
    """``{doc_id: sha256}`` of the supported files: cheap, and enough to tell a stale index."""
    corpus_dir = Path(corpus_dir)
    return {
        document_id(path, corpus_dir): _fingerprint(path)
        for path in _corpus_files(corpus_dir)
        if path.suffix.lower() in SUPPORTED_SUFFIXES
    }


def _fingerprint(path: Path) -> str:
    """The file's sha256; for a file that cannot be opened (no permission to read it), a mark
    that changes when the file does, so the build reports it as failed once, not at every run."""
    try:
        return file_sha256(path)
    except OSError:
        try:
            status = path.stat()
        except OSError:
            return "unreadable"
        return f"unreadable:{status.st_size}:{status.st_mtime_ns}"


def read_document(path: Path, corpus_dir: Path) -> Document:
    """Read, clean and title one file; ``UnreadableError`` says why a file cannot be read.

    Only ``OSError`` (the file itself could not be opened or read) escapes otherwise.
    """
    path = Path(path)
    # Read once: the hash recorded for the document is the hash of the very bytes its text came
    # from, even if the file changes while it is being read.
    data = path.read_bytes()
    try:
        return _document(path, corpus_dir, data)
    except UnreadableError:
        raise
    except Exception as error:
        # Whatever a parser raises on a hostile file (a library's own error, RecursionError,
        # MemoryError) is that file's problem: it must not stop a build or fail an upload with a 500.
        raise UnreadableError(f"cannot be read ({type(error).__name__}: {error})") from error


def _document(path: Path, corpus_dir: Path, data: bytes) -> Document:
    extracted = extract(path.suffix, data)
    paragraphs, kept = clean_paragraphs(extracted.paragraphs, remove_furniture=extracted.web_page)
    text = "\n\n".join(paragraphs)
    if not text:
        raise UnreadableError("no text in it")
    return Document(
        doc_id=document_id(path, corpus_dir),
        title=valid_unicode(extracted.title or "") or derive_title(text) or title_from_filename(path),
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        pages=_page_offsets(paragraphs, kept, extracted.page_starts),
    )


def _page_offsets(paragraphs: list[str], kept: list[int], page_starts: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """``(page number, offset of its first kept paragraph)`` for each page with text left after cleaning."""
    if not page_starts:
        return ()
    offsets, position = [], 0
    for paragraph in paragraphs:
        offsets.append(position)
        position += len(paragraph) + 2
    pages = []
    for number, first_paragraph in page_starts:
        first_kept = next((i for i, original in enumerate(kept) if original >= first_paragraph), None)
        if first_kept is not None and (not pages or offsets[first_kept] > pages[-1][1]):
            pages.append((number, offsets[first_kept]))
    return tuple(pages)


def document_id(path: Path, corpus_dir: Path) -> str:
    """A document's id is its path relative to the corpus folder, with "/" separators."""
    return Path(path).relative_to(corpus_dir).as_posix()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _corpus_files(corpus_dir: Path) -> list[Path]:
    """Regular files under the corpus folder, sorted; hidden files and links leading outside are left out.

    One rule for names and for what they point to: a file is in the corpus when neither its own
    path nor, for a symlink, its target's path (inside the corpus folder) has a hidden part.  A
    link must not publish what the folder keeps private (``notes.txt -> .env``, a link into
    ``.drafts/``) or anything outside it.  Every route that names documents (the document list,
    the document text, DELETE) takes its ids from the index, so from this scan.
    """
    if not corpus_dir.is_dir():
        return []
    root = corpus_dir.resolve()
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        if _hidden(path.relative_to(corpus_dir)) or not path.is_file():
            continue
        target = path.resolve()
        if not target.is_relative_to(root) or _hidden(target.relative_to(root)):
            continue  # a symlink must not make anything outside the corpus, or hidden in it, readable
        files.append(path)
    return files


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


# --- cleaning -------------------------------------------------------------------------


def clean_text(raw: str) -> str:
    """Normalise whitespace and drop page furniture; paragraphs are joined by blank lines."""
    return "\n\n".join(clean_paragraphs(raw.splitlines())[0])


def clean_paragraphs(lines: list[str], remove_furniture: bool = True) -> tuple[list[str], list[int]]:
    """The cleaned paragraphs, and for each the index of the line it came from."""
    normalised = [(i, _normalise_line(line)) for i, line in enumerate(lines)]
    normalised = [(i, line) for i, line in normalised if line]
    if not remove_furniture:
        return [line for _, line in normalised], [i for i, _ in normalised]
    # Furniture goes first, so a heading is judged by the prose that really follows it.
    kept = [(i, _strip_marker(line)[0], kind) for i, line in normalised if (kind := _classify(line)) != FURNITURE]
    paragraphs, origins = [], []
    for position, (origin, text, kind) in enumerate(kept):
        next_kind = kept[position + 1][2] if position + 1 < len(kept) else None
        # A short line is a heading only when prose follows it directly; a run of short
        # lines (menus, mastheads, link lists) keeps at most its last line for that reason.
        if kind == PROSE or next_kind == PROSE:
            paragraphs.append(text)
            origins.append(origin)
    return paragraphs, origins


def derive_title(text: str) -> str:
    """The document's first paragraph when it is shaped like a heading, else "": never a cut sentence.

    Shape only (``text.heading_shaped``): short, starting with a capital or a digit, no final
    period.  A first line like "in the station, the crews work together" is a sentence's
    start, not a title, however short.
    """
    first = text.split("\n\n", 1)[0].strip()
    if first and "\n" not in first and heading_shaped(first) and _classify(first) != FURNITURE:
        return first
    return ""


def title_from_filename(path: Path) -> str:
    """A readable title from a file's name, for a document that states none.

    Extension dropped, separators to spaces, and the parts that only number or identify
    ("003_6c3f5f3a73d38cee": an ordinal and a hash) left out.  A name with nothing else in it is
    "Document 003", after its number, so that such documents still read apart.
    """
    parts = [part for part in _NAME_SEPARATORS.split(Path(path).stem) if part]
    leading_numbers = []
    while parts and parts[0].isdigit():
        leading_numbers.append(parts.pop(0))
    words = [part for part in parts if not _HASH_LIKE.fullmatch(part)]
    if words:
        title = " ".join(words)
        return title[0].upper() + title[1:] if title == title.lower() else title
    if leading_numbers:
        return f"Document {leading_numbers[0]}"
    return Path(path).stem


def _normalise_line(line: str) -> str:
    line = unicodedata.normalize("NFC", valid_unicode(line)).translate(_INVISIBLE)
    return _SPACE_RUN.sub(" ", line).strip()


def valid_unicode(text: str) -> str:
    """``text`` with each lone UTF-16 surrogate replaced by U+FFFD (and split pairs joined).

    pypdf decodes a font's character map with "surrogatepass": a map that points at half a
    pair puts a surrogate in the text, which no tokenizer, JSON encoder or UTF-8 file accepts.
    """
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _strip_marker(line: str) -> tuple[str, bool]:
    """Remove a leading list/link marker; say whether there was one."""
    stripped = _LIST_MARKER.sub("", line, count=1)
    return stripped, stripped != line


def _classify(line: str) -> str:
    """Class one normalised line as prose, short (a possible heading) or furniture."""
    text, listed = _strip_marker(line)
    words = WORD_RE.findall(text)
    if not any(ch.isalpha() for ch in text):
        return FURNITURE
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s]
    if sum(bool(_INTERFACE.search(s)) for s in sentences) * 2 > len(sentences):
        return FURNITURE
    if _is_prose(text, words):
        return PROSE
    if listed or _LINK_ARROW.search(text) or _LABEL.search(text):
        return FURNITURE  # a short list item, link or label is navigation, never a heading
    if len(words) <= 4 and text == text.lower():
        return FURNITURE  # short all-lower-case lines are labels and slugs, not headings
    if words and words[-1].lower() in STOPWORDS:
        return FURNITURE  # a line ending in "by", "of", "the" is a fragment (a byline), not a heading
    return SHORT


def _is_prose(text: str, words: list[str]) -> bool:
    """Running text: enough words, sentence punctuation, and the function words prose has."""
    if len(words) < 5:
        return False
    stopword_share = sum(w.lower() in STOPWORDS for w in words) / len(words)
    if _TERMINAL.search(text) or _INNER_SENTENCE_END.search(text):
        return stopword_share >= 0.1 or len(words) >= 12
    # Without sentence punctuation only long, function-word-rich lines are prose;
    # a long line of capitalised words with few function words is a menu.
    return len(words) >= 20 and stopword_share >= 0.2
