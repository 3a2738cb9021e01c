"""Reading Markdown, HTML and PDF files into documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import hang_detector
from pdfs import bomb_pdf, make_pdf, unknown_filter_pdf
from spaceqa import ingest, readers
from spaceqa.chunk import split_sentences
from spaceqa.ingest import load_corpus, read_document
from spaceqa.readers import UnreadableError


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_markdown_loses_its_markup_and_keeps_headings_as_text(tmp_path):
    path = write(tmp_path, "notes.md", "# Skylab\n\nSkylab was the *first* US space station, launched in **1973**.\n\n"
                 "## Crews\n\n- Three crews visited it.\n- See [the history](https://example.org/skylab) for more.\n\n"
                 "```\ncode stays as text\n```\n")
    doc = read_document(path, tmp_path)
    assert doc.title == "Skylab"
    assert doc.text.split("\n\n") == [
        "Skylab",
        "Skylab was the first US space station, launched in 1973.",
        "Crews",
        "Three crews visited it.",
        "See the history for more.",
        "code stays as text",
    ]


def test_html_keeps_the_visible_text_only(tmp_path):
    path = write(tmp_path, "page.html", """<!doctype html><html><head><title>Skylab | Space Museum</title>
        <style>p { color: red }</style><script>var tracking = 1;</script></head><body>
        <nav><a href="/">Home</a> <a href="/about">About</a></nav>
        <div role="banner">Museum of Space</div>
        <main><h1>Skylab</h1><p>Skylab was the first <em>US</em> space station.</p>
        <p>It re-entered in 1979 &amp; broke up over Australia.</p><form><button>Subscribe</button></form></main>
        <footer>Copyright 2024</footer></body></html>""")
    doc = read_document(path, tmp_path)
    assert doc.title == "Skylab"
    assert doc.text == "Skylab\n\nSkylab was the first US space station.\n\nIt re-entered in 1979 & broke up over Australia."


def test_html_title_falls_back_to_the_title_element(tmp_path):
    path = write(tmp_path, "t.htm", "<html><head><title>Mir Facts</title></head><body><p>Mir flew from 1986 to 2001, for fifteen years.</p></body></html>")
    assert read_document(path, tmp_path).title == "Mir Facts"


def test_pdf_pages_are_kept_for_citations(tmp_path):
    pages = ["Salyut 1 was launched in April 1971.", "", "Its crew returned after 23 days in orbit."]
    path = write(tmp_path, "salyut.pdf", make_pdf(pages, title="Salyut Programme"))
    doc = read_document(path, tmp_path)
    assert doc.title == "Salyut Programme"
    assert doc.text == "Salyut 1 was launched in April 1971.\n\nIts crew returned after 23 days in orbit."
    assert doc.pages == ((1, 0), (3, doc.text.index("Its crew")))  # the empty page 2 has no text
    assert doc.page_at(doc.text.index("April")) == 1 and doc.page_at(doc.text.index("23 days")) == 3


def test_a_pdf_heading_line_is_a_sentence_of_its_own(tmp_path):
    pages = ["Harbour Lights\nThe first lamp was lit in 1851 on the rocks at\nthe harbour mouth. It burned whale oil.",
             "Second page\nThe keepers trimmed the wicks at midnight."]
    doc = read_document(write(tmp_path, "lights.pdf", make_pdf(pages)), tmp_path)
    assert doc.title == "Harbour Lights"  # no title in the metadata: the heading line
    sentences = [doc.text[start:end] for start, end in split_sentences(doc.text)]
    assert sentences == ["Harbour Lights", "The first lamp was lit in 1851 on the rocks at the harbour mouth.", "It burned whale oil.",
                         "Second page", "The keepers trimmed the wicks at midnight."]
    assert doc.page_at(doc.text.index("Second page")) == 2


@pytest.mark.parametrize(
    "page_text, paragraphs",
    [
        # stacked headings, each its own paragraph; prose lines wrapped by the page joined again
        ("Part Two\nThe Keepers\nThe keepers lived in\nthe tower. They rowed ashore\nEvery Sunday for supplies.",
         ["Part Two", "The Keepers", "The keepers lived in the tower. They rowed ashore Every Sunday for supplies."]),
        # a short wrapped line inside a sentence is not a heading, even before a capital
        ("The lamp was built by a firm from\nGlasgow. Its lens came from\nParis in 1852.",
         ["The lamp was built by a firm from Glasgow. Its lens came from Paris in 1852."]),
        # a heading after a finished sentence, in the same block
        ("The lamp burned oil.\nLater Years\nElectric light came in 1920.",
         ["The lamp burned oil.", "Later Years", "Electric light came in 1920."]),
    ],
)
def test_pdf_lines_are_joined_except_after_a_heading_line(page_text, paragraphs):
    assert readers._pdf_paragraphs(page_text) == paragraphs


def test_a_markdown_line_break_after_a_heading_line_ends_the_paragraph(tmp_path):
    source = "**Harbour Lights**\nThe first lamp was lit in 1851 on the rocks at\nthe harbour mouth.\n"
    doc = read_document(write(tmp_path, "lights.md", source), tmp_path)
    assert doc.text.split("\n\n") == ["Harbour Lights", "The first lamp was lit in 1851 on the rocks at the harbour mouth."]
    assert doc.title == "Harbour Lights"


def test_unreadable_files_are_named_with_the_reason_and_the_rest_is_read(tmp_path):
    write(tmp_path, "good.md", "# Good\n\nA readable document with a sentence.")
    write(tmp_path, "broken.pdf", b"%PDF-1.4\nthis is not really a pdf")
    write(tmp_path, "latin1.txt", "caf\xe9 au lait".encode("latin-1"))
    write(tmp_path, "empty.html", "<html><body><script>only code</script></body></html>")
    write(tmp_path, "slides.pptx", b"PK")
    scan = load_corpus(tmp_path)
    assert [d.doc_id for d in scan.documents] == ["good.md"]
    failed = dict(scan.failed)
    assert set(failed) == {"broken.pdf", "latin1.txt", "empty.html"}
    assert "PDF" in failed["broken.pdf"] and "UTF-8" in failed["latin1.txt"] and "no text" in failed["empty.html"]
    assert dict(scan.skipped) == {"slides.pptx": "unsupported file type .pptx"}


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.html", "a.pdf"])
def test_every_supported_type_gets_an_id_and_hash(tmp_path, name):
    content = make_pdf(["Plain words in a sentence."]) if name.endswith(".pdf") else "Plain words in a sentence."
    doc = read_document(write(tmp_path, name, content), tmp_path)
    assert doc.doc_id == name and len(doc.sha256) == 64 and "Plain words in a sentence." in doc.text


# --- hostile files: each is reported unreadable with its reason, in bounded time and memory ----------


@pytest.mark.parametrize(
    "make, reason",
    [(unknown_filter_pdf, "Unsupported filter /NoSuchDecode"), (bomb_pdf, "LimitReachedError")],
    ids=["unknown filter", "decompression bomb"],
)
def test_a_pdf_that_pypdf_cannot_take_is_unreadable_with_the_reason(tmp_path, make, reason):
    path = write(tmp_path, "hostile.pdf", make())
    with pytest.raises(UnreadableError, match=reason):
        read_document(path, tmp_path)


def test_a_pdf_that_needs_more_memory_than_allowed_is_stopped(tmp_path, monkeypatch):
    # The bomb inflates to pypdf's 75 MB limit before pypdf gives up; 100 MiB is not enough for that,
    # while a plain PDF reads in that much.
    monkeypatch.setattr(readers, "PDF_MEMORY_BYTES", 100 << 20)
    assert read_document(write(tmp_path, "plain.pdf", make_pdf(["A plain page of text."])), tmp_path).text == "A plain page of text."
    with pytest.raises(UnreadableError, match="needs more than 100 MiB"):
        read_document(write(tmp_path, "bomb.pdf", bomb_pdf()), tmp_path)


def test_a_pdf_that_takes_longer_than_allowed_is_stopped(tmp_path, monkeypatch):
    # 50 MB of text operators: pypdf tokenises two million of them before its own limit stops it,
    # seconds of work on any machine, so a one-second allowance runs out first.
    monkeypatch.setattr(readers, "PDF_SECONDS", 1)
    with pytest.raises(UnreadableError, match="1 s"):
        read_document(write(tmp_path, "slow.pdf", bomb_pdf(50_000_000)), tmp_path)


@pytest.mark.parametrize("error", [RecursionError("maximum recursion depth exceeded"), MemoryError(), NotImplementedError("no such thing"), KeyError("/Root")])
def test_any_failure_while_reading_is_that_files_failure(tmp_path, monkeypatch, error):
    def failing(suffix, data):
        if suffix == ".html":
            raise error
        return real_extract(suffix, data)

    real_extract = ingest.extract
    monkeypatch.setattr(ingest, "extract", failing)
    write(tmp_path, "good.md", "# Good\n\nA readable document with a sentence.")
    write(tmp_path, "page.html", "<p>Any page at all, in a sentence.</p>")
    scan = load_corpus(tmp_path)
    assert [d.doc_id for d in scan.documents] == ["good.md"]
    assert list(dict(scan.failed)) == ["page.html"] and type(error).__name__ in dict(scan.failed)["page.html"]


@pytest.mark.parametrize(
    "page",
    [
        "<html><body>" + "<div>" * 100_000 + "<p>Deep inside the divs there is one sentence.</p>" + "</div>" * 100_000 + "</body></html>",
        "<html><body><p>Deep inside the divs there is one sentence.</p>" + "<!--" * 200_000,
    ],
    ids=["100,000 nested divs", "200,000 unclosed comments"],
)
def test_html_is_read_in_one_pass_however_it_nests(tmp_path, page):
    # The parser follows a flat stream of events, so this is read like any page. The detector only
    # catches a runaway parse: a tree walk took 45 s for 20,000 divs, and the standard library's
    # html.parser (before Python 3.11.13) takes 94 s for 80,000 unclosed comments; both grow with the square.
    path = write(tmp_path, "deep.html", page)
    with hang_detector(60):
        doc = read_document(path, tmp_path)
    assert doc.text == "Deep inside the divs there is one sentence."
