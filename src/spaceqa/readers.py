"""Readers: the text of a file, by format, before cleaning.

One call, ``extract(suffix, data)``: the file's bytes (read once, by ingest, which also hashes
them) in, ``Extracted`` out: the text as paragraphs, a title when the format states one, and,
for PDFs, where each page starts.  Cleaning and sentence offsets happen after, in ingest;
readers only take the markup away.  A file that cannot be read raises ``UnreadableError``
with the reason.

* ``.txt``: UTF-8 as is.
* ``.md``: Markdown rendered to its text (markdown-it-py): headings kept as lines of text,
  emphasis and link syntax dropped, link text and code kept.
* ``.html``/``.htm``: the visible text (BeautifulSoup): no script, style, forms or page
  navigation; blocks become paragraphs; title from ``<h1>``, else ``<title>``.
* ``.pdf``: the text of each page (pypdf), pages kept apart so citations can name the page.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Callable


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

    source = _read_txt(data).paragraphs
    tokens = MarkdownIt("commonmark").parse("\n".join(source))
    paragraphs: list[str] = []
    title = None
    for index, token in enumerate(tokens):
        if token.type == "inline":
            text = _inline_text(token)
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
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_text(child))  # its alt text
    return "".join(parts)


# Elements that hold no reading text, or only page furniture.
_HTML_DROP = ["script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
              "form", "button", "input", "select", "textarea", "nav", "aside", "footer", "head"]
_HTML_FURNITURE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog"}
_HTML_BLOCKS = ["p", "div", "section", "article", "main", "header", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
                "ol", "dl", "dt", "dd", "table", "tr", "td", "th", "blockquote", "pre", "figure", "figcaption",
                "address", "br", "hr"]


def _read_html(data: bytes) -> Extracted:
    from bs4 import BeautifulSoup

    html = data.decode("utf-8", errors="replace")
    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    page_title = title_tag.get_text(" ", strip=True) if title_tag else ""
    for element in soup.find_all(_HTML_DROP):
        element.decompose()
    for element in soup.find_all(attrs={"role": True}):
        if not element.decomposed and element.get("role") in _HTML_FURNITURE_ROLES:
            element.decompose()
    for element in soup.find_all(hidden=True):
        element.decompose()
    body = soup.find("main") or soup.find("article") or soup.body or soup
    heading = body.find("h1")
    for element in body.find_all(_HTML_BLOCKS):
        element.insert_before("\n")
        element.insert_after("\n")
    text = body.get_text()
    title = heading.get_text(" ", strip=True) if heading else page_title
    return Extracted(paragraphs=text.splitlines(), title=title or None, web_page=True)


def _read_pdf(data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableError("the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise UnreadableError(f"not a readable PDF ({type(error).__name__}: {error})") from None
    paragraphs: list[str] = []
    page_starts: list[tuple[int, int]] = []
    for number, page_text in enumerate(pages, start=1):
        page_paragraphs = _pdf_paragraphs(page_text)
        if page_paragraphs:
            page_starts.append((number, len(paragraphs)))
            paragraphs.extend(page_paragraphs)
    title = (reader.metadata.title if reader.metadata and reader.metadata.title else None) if pages else None
    return Extracted(paragraphs=paragraphs, title=title, page_starts=page_starts)


def _pdf_paragraphs(page_text: str) -> list[str]:
    """PDF text comes in visual lines: join them into paragraphs, mending words split by a hyphen."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", page_text):
        joined = re.sub(r"(\w)-\n(?=[a-z])", r"\1", block)  # "exam-\nple" -> "example"
        joined = " ".join(line.strip() for line in joined.splitlines() if line.strip())
        if joined:
            paragraphs.append(joined)
    return paragraphs


_READERS: dict[str, Callable[[bytes], Extracted]] = {
    ".txt": _read_txt,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
}
SUPPORTED_SUFFIXES = tuple(_READERS)
