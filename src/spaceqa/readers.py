"""Readers: the text of a file, by format, before cleaning.

One call, ``extract(suffix, data)``: the file's bytes (read once, by ingest, which also hashes
them) in, ``Extracted`` out: the text as paragraphs, a title when the format states one, and,
for PDFs, where each page starts.  Cleaning and sentence offsets happen after, in ingest;
readers only take the markup away.  A file that cannot be read raises ``UnreadableError``
with the reason.

Every reader is bounded in time and memory, because a corpus or an upload may hold a file
made to stall a build:

* ``.txt``: UTF-8 as is.
* ``.md``: Markdown rendered to its text (markdown-it-py): headings kept as lines of text,
  emphasis and link syntax dropped, link text and code kept.
* ``.html``/``.htm``: the visible text: no script, style, forms or page navigation; blocks
  become paragraphs; title from ``<h1>``, else ``<title>``.  lxml's HTML parser (libxml2, in C)
  sends a flat stream of start/end/text events that we follow with a stack; no tree is built,
  so the cost is linear in the page however deeply its elements nest.  BeautifulSoup took 45 s
  for 20,000 nested ``<div>``s (its cost grew with the square of the depth), and the standard
  library's html.parser is quadratic on unclosed comments before Python 3.11.13.
* ``.pdf``: the text of each page (pypdf), pages kept apart so citations can name the page.
  pypdf runs in a child process with a wall-clock and a memory limit (see ``_read_pdf``).

This module imports only the standard library at its top: it is also run as a script, as
that child process.
"""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field

# A PDF gets this long and this much memory; past either it is reported unreadable.  Both are
# far above what the text of an ordinary document takes, and an upload that cannot be read is
# refused within the time limit.
PDF_SECONDS = 120
PDF_MEMORY_BYTES = 1 << 30


@dataclass
class Extracted:
    """Text taken out of a file, as paragraphs."""

    paragraphs: list[str]
    title: str | None = None
    # For paged formats: (page number, index of the page's first paragraph); pages without text are absent.
    page_starts: list[tuple[int, int]] = field(default_factory=list)
    web_page: bool = False  # saved web text carries page furniture that cleaning should remove


class UnreadableError(Exception):
    """The file is of a supported type but cannot be read; the message says why."""


def extract(suffix: str, data: bytes) -> Extracted:
    """The text of a file of type ``suffix`` (e.g. ".pdf"), from its bytes.

    ``UnreadableError`` says why a file cannot be read; on a hostile file a parser may raise
    anything else too, which ``ingest.read_document`` reports as unreadable in the same way.
    """
    return _READERS[suffix.lower()](data)


def _read_txt(data: bytes) -> Extracted:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableError(f"not valid UTF-8 text ({error.reason} at byte {error.start})") from None
    # Plain text in this collection is saved web pages, so furniture rules apply to it.
    return Extracted(paragraphs=text.splitlines(), web_page=True)


def _read_markdown(data: bytes) -> Extracted:
    from markdown_it import MarkdownIt

    from .text import group_lines

    source = _read_txt(data).paragraphs
    tokens = MarkdownIt("commonmark").parse("\n".join(source))
    paragraphs: list[str] = []
    title = None
    for index, token in enumerate(tokens):
        if token.type == "inline":
            # A line break after a heading-shaped line ends a paragraph, as in a PDF (text.group_lines).
            for text in (" ".join(group) for group in group_lines(_inline_text(token).split("\n"))):
                if text.strip():
                    paragraphs.append(text)
                    if title is None and index > 0 and tokens[index - 1].type == "heading_open":
                        title = text.strip()
        elif token.type in ("fence", "code_block"):
            paragraphs.extend(line for line in token.content.splitlines() if line.strip())
    return Extracted(paragraphs=paragraphs, title=title)


def _inline_text(token) -> str:
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(_inline_text(child))  # its alt text
    return "".join(parts)


# Elements that hold no reading text, or only page furniture.
_HTML_DROP = {"script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
              "form", "button", "input", "select", "textarea", "nav", "aside", "footer", "head"}
_HTML_FURNITURE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog"}
_HTML_BLOCKS = {"p", "div", "section", "article", "main", "header", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
                "ol", "dl", "dt", "dd", "table", "tr", "td", "th", "blockquote", "pre", "figure", "figcaption",
                "address", "br", "hr"}
# The text comes from the first of these that is visible, else from the whole page.
_HTML_CONTAINERS = ("main", "article", "body")


def _read_html(data: bytes) -> Extracted:
    from lxml import etree

    page = _VisibleText()
    # huge_tree lifts libxml2's depth limit (older libxml2 stops at 256 levels); it is safe here
    # because no tree is built, only our O(1)-per-event handlers run.
    parser = etree.HTMLParser(target=page, huge_tree=True, no_network=True)
    parser.feed(data.decode("utf-8", errors="replace"))
    parser.close()
    return page.extracted()


class _VisibleText:
    """An lxml parser target: follows the start/end/text events of a page and keeps its visible text.

    libxml2 closes every element it opens (implied end tags included), so one stack entry per
    open element is enough to know whether text is inside something dropped.
    """

    def __init__(self) -> None:
        self.pieces: list[str] = []  # visible text and "\n" block breaks, in page order
        self._open: list[tuple[bool, list[int] | None, bool]] = []  # per open element: hides its content, its span, is <title>
        self._hiding = 0  # how many open elements hide their content
        self._spans: dict[str, list[int]] = {}  # first visible main/article/body -> [first piece, end piece]
        self._headings: list[list[int]] = []  # each visible <h1> -> [first piece, end piece]
        self._title: list[str] | None = None  # the first <title>'s text, visible or not (it lives in <head>)
        self._in_title = False

    def start(self, tag, attrib) -> None:
        hides = tag in _HTML_DROP or attrib.get("role") in _HTML_FURNITURE_ROLES or "hidden" in attrib
        self._hiding += hides
        span = None
        if not self._hiding:
            if tag in _HTML_BLOCKS:
                self.pieces.append("\n")
            if tag == "h1":
                span = [len(self.pieces), -1]
                self._headings.append(span)
            elif tag in _HTML_CONTAINERS and tag not in self._spans:
                span = self._spans[tag] = [len(self.pieces), -1]
        is_title = tag == "title" and self._title is None
        if is_title:
            self._title, self._in_title = [], True
        self._open.append((hides, span, is_title))

    def end(self, tag) -> None:
        if not self._open:
            return
        hides, span, is_title = self._open.pop()
        if span is not None:
            span[1] = len(self.pieces)
        if is_title:
            self._in_title = False
        if not self._hiding and tag in _HTML_BLOCKS:
            self.pieces.append("\n")
        self._hiding -= hides

    def data(self, text) -> None:
        if self._in_title:
            self._title.append(text)
        if not self._hiding:
            self.pieces.append(text)

    def close(self) -> None:
        return None

    def extracted(self) -> Extracted:
        first, end = next((self._spans[tag] for tag in _HTML_CONTAINERS if tag in self._spans), (0, len(self.pieces)))
        end = len(self.pieces) if end < 0 else end  # a container never closed runs to the end of the page
        heading = next((span for span in self._headings if first <= span[0] < end), None)
        if heading is not None:
            title = _words(self.pieces[heading[0] : heading[1] if heading[1] >= 0 else end])
        else:
            title = _words(self._title or [])
        return Extracted(paragraphs="".join(self.pieces[first:end]).splitlines(), title=title or None, web_page=True)


def _words(parts: list[str]) -> str:
    return " ".join(part.strip() for part in parts if part.strip())


def _read_pdf(data: bytes) -> Extracted:
    """The pages' text, read by pypdf in a child process with a time and a memory limit.

    pypdf is pure Python over untrusted bytes: a few kilobytes can inflate into hundreds of
    megabytes (its own per-stream limits still let one take 15 s and 400 MB before failing),
    and a malformed file can make it loop or recurse.  Only another process can be stopped
    from outside, whichever thread asked (the server reads uploads in request threads, where
    signals cannot interrupt), and its memory given back whole; a child costs about 0.2 s of
    start-up per PDF, small beside embedding the PDF's text.  The child runs this file as a
    script in isolated mode (-I), so it loads neither SpaceQA nor the models.
    """
    command = [sys.executable, "-I", __file__, "--pdf-child", str(PDF_MEMORY_BYTES), str(PDF_SECONDS)]
    try:
        child = subprocess.run(command, input=data, capture_output=True, timeout=PDF_SECONDS)
    except subprocess.TimeoutExpired:  # run() has killed the child already
        raise UnreadableError(f"reading the PDF took longer than {PDF_SECONDS} s") from None
    try:
        result = json.loads(child.stdout)
    except ValueError:
        raise UnreadableError(_child_failure(child.returncode, child.stderr)) from None
    if "error" in result:
        raise UnreadableError(result["error"])
    paragraphs: list[str] = []
    page_starts: list[tuple[int, int]] = []
    for number, page_text in enumerate(result["pages"], start=1):
        page_paragraphs = _pdf_paragraphs(page_text)
        if page_paragraphs:
            page_starts.append((number, len(paragraphs)))
            paragraphs.extend(page_paragraphs)
    return Extracted(paragraphs=paragraphs, title=result["title"], page_starts=page_starts)


def _child_failure(status: int, stderr: bytes) -> str:
    """Why the PDF child ended without an answer, from its exit status."""
    if status == -signal.SIGXCPU:
        return f"reading the PDF took more than {PDF_SECONDS} s of processor time"
    if status == -signal.SIGKILL:
        return "the PDF reader was killed (out of memory?)"
    last_line = stderr.decode("utf-8", errors="replace").strip().rsplit("\n", 1)[-1]
    return f"the PDF reader failed (exit status {status}){': ' + last_line[:200] if last_line else ''}"


def _pdf_child(memory_bytes: int, seconds: int) -> None:
    """The child process: PDF bytes on stdin, ``{"pages", "title"}`` or ``{"error"}`` as JSON on stdout."""
    import resource

    for kind, limit in ((resource.RLIMIT_AS, memory_bytes), (resource.RLIMIT_CPU, seconds)):
        # Processor time too, so that a child whose parent died (and cannot kill it) still ends.
        _, hard = resource.getrlimit(kind)
        resource.setrlimit(kind, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    data = sys.stdin.buffer.read()
    try:
        result = _pdf_pages(data)
    except MemoryError:
        result = {"error": f"reading the PDF needs more than {memory_bytes >> 20} MiB of memory"}
    except UnreadableError as error:
        result = {"error": str(error)}
    except Exception as error:  # pypdf's own errors and any bug it has: the file is what cannot be read
        result = {"error": f"not a readable PDF ({type(error).__name__}: {error})"}
    sys.stdout.write(json.dumps(result))


def _pdf_pages(data: bytes) -> dict:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise UnreadableError("the PDF is encrypted")
    pages = [page.extract_text() or "" for page in reader.pages]
    title = reader.metadata.title if pages and reader.metadata and reader.metadata.title else None
    return {"pages": pages, "title": str(title) if title else None}


def _pdf_paragraphs(page_text: str) -> list[str]:
    """PDF text comes in visual lines: join them into paragraphs, mending words split by a hyphen.

    A heading line stays a paragraph of its own, so that it never becomes the start of the
    sentence below it ("Page two The mission..."); see ``text.group_lines``.
    """
    from .text import group_lines

    paragraphs = []
    for block in re.split(r"\n\s*\n", page_text):
        mended = re.sub(r"(\w)-\n(?=[a-z])", r"\1", block)  # "exam-\nple" -> "example"
        lines = [line.strip() for line in mended.splitlines() if line.strip()]
        paragraphs.extend(" ".join(group) for group in group_lines(lines))
    return paragraphs


_READERS = {
    ".txt": _read_txt,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
}
SUPPORTED_SUFFIXES = tuple(_READERS)


if __name__ == "__main__" and sys.argv[1:2] == ["--pdf-child"]:
    _pdf_child(int(sys.argv[2]), int(sys.argv[3]))
