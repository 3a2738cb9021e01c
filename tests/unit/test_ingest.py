"""Cleaning, titles and corpus reading, on small made-up pages (not the bundled corpus)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spaceqa.ingest import clean_text, corpus_fingerprint, derive_title, load_corpus, title_from_filename

WEB_PAGE = """Skip to main content
Home
About us
Contact

Ocean Currents Explained

We use cookies to improve your experience. By continuing to browse you accept our cookie policy.

Ocean currents move heat from the equator toward the poles.  The Gulf Stream carries warm water north along the coast of North America.

  • share-icon
  • Photo credit: Jane Doe

The Atlantic Conveyor
Cold, salty water sinks near Greenland and flows south along the ocean floor.

Related: Ten Facts About Tides
Newsletter
Follow us on social media
page-footer-12
"""


def test_prose_and_headings_survive_furniture_goes():
    cleaned = clean_text(WEB_PAGE)
    assert cleaned.split("\n\n") == [
        "Ocean Currents Explained",
        "Ocean currents move heat from the equator toward the poles. The Gulf Stream carries warm water north along the coast of North America.",
        "The Atlantic Conveyor",
        "Cold, salty water sinks near Greenland and flows south along the ocean floor.",
    ]


@pytest.mark.parametrize(
    "furniture",
    [
        "Sign in to your account to save articles. Not a member? Subscribe to our newsletter.",
        "By clicking accept you agree to the use of cookies.",
        "• print-icon",
        "+ More stories",
        ">> Breaking: follow our live coverage",
        "Image credit: Getty",
        "lorem-widget-7",
        "Written by",
        "Read more →",
    ],
)
def test_each_kind_of_furniture_is_dropped(furniture):
    text = f"A Heading\n\nThe first paragraph is plain prose about the subject at hand.\n\n{furniture}\n\nAnother sentence of prose follows here, as prose does."
    assert furniture.strip("•+> ") not in clean_text(text)


def test_a_sentence_mentioning_a_link_inside_prose_is_kept():
    paragraph = "The crew met the press on Monday and answered questions for an hour. For photos from the event, please click here."
    assert clean_text(paragraph) == paragraph


def test_short_real_prose_between_paragraphs_is_kept():
    text = "The long first paragraph tells the story of the mission and its crew.\n\nThe crew tried to rest, but failed.\n\nThey landed safely the next morning after a long night."
    assert "The crew tried to rest, but failed." in clean_text(text)


def test_whitespace_is_normalised():
    raw = "  Title\u00a0Line \n\n\tSome\u200b   text\twith   odd\u00a0 spacing, in a sentence.  \r\n\n\n\nNext  paragraph here, also a sentence.\n"
    assert clean_text(raw) == "Title Line\n\nSome text with odd spacing, in a sentence.\n\nNext paragraph here, also a sentence."


def test_a_run_of_short_lines_keeps_only_the_heading_above_the_prose():
    text = "Site Name\nSection One\nSection Two\nThe Real Heading\nThe article begins here and goes on for a while, as articles do."
    assert clean_text(text).split("\n\n") == ["The Real Heading", "The article begins here and goes on for a while, as articles do."]


def test_title_is_the_first_heading():
    assert derive_title("Voyager Missions\n\nVoyager 1 launched in 1977. It left the solar system.") == "Voyager Missions"


def test_a_document_that_opens_with_prose_has_no_title_from_its_text():
    text = "Voyager 1 launched in 1977 from Cape Canaveral aboard a Titan IIIE rocket and flew past Jupiter and Saturn before leaving. It left."
    assert derive_title(text) == ""  # never a cut sentence


@pytest.mark.parametrize(
    "first_line",
    [
        "the lighthouse keepers of the northern coast, a dying trade",  # a sentence's start, in lower case
        "Tides rise twice a day along this coast.",  # a sentence: final period
        "The harbour opened in 1851. It closed in 1920",  # two sentences
        "Notes on the lighthouses of",  # cut off: ends in a function word
        "Contents, part one:",  # carries on
        "A Very Long Heading That Goes On And On Past Any Sensible Length For A Title Of A Page",
    ],
)
def test_a_first_line_not_shaped_like_a_heading_is_not_a_title(first_line):
    assert derive_title(f"{first_line}\n\nThe keepers lit the lamps at dusk and trimmed the wicks at midnight.") == ""


@pytest.mark.parametrize("heading", ["Harbour Lights", "Why Did the Lighthouses Go Dark?", "1851: A Harbour Opens", "eBay Auctions of Old Lenses"])
def test_a_first_line_shaped_like_a_heading_is_the_title(heading):
    assert derive_title(f"{heading}\n\nThe keepers lit the lamps at dusk and trimmed the wicks at midnight.") == heading


@pytest.mark.parametrize(
    "name, title",
    [
        ("003_6c3f5f3a73d38cee.txt", "Document 003"),  # an ordinal and a hash: nothing else to read
        ("12_harbour-lights_notes.md", "Harbour lights notes"),
        ("9f8e7d6c5b4a3210_tide-tables.html", "Tide tables"),
        ("Harbour Survey 1851.pdf", "Harbour Survey 1851"),
        ("lighthouse.v2.txt", "Lighthouse v2"),
        ("6c3f5f3a73d38cee.txt", "6c3f5f3a73d38cee"),  # only an id: kept, it is all there is
    ],
)
def test_title_from_the_file_name_is_readable(name, title):
    assert title_from_filename(Path(name)) == title


def test_a_document_without_a_heading_is_titled_from_its_file_name(tmp_path: Path):
    (tmp_path / "007_0a1b2c3d4e5f6071.txt").write_text(
        "the keepers of the northern lights, a vanishing trade\n\nThe keepers lit the lamps at dusk and trimmed the wicks at midnight."
    )
    (tmp_path / "08_night-watch.txt").write_text("The keepers lit the lamps at dusk and trimmed the wicks at midnight. They slept by day.")
    assert [d.title for d in load_corpus(tmp_path).documents] == ["Document 007", "Night watch"]


def test_corpus_ids_are_relative_paths_and_other_files_are_reported(tmp_path: Path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "a.txt").write_text("First Document\n\nIt says one thing in a full sentence.")
    (corpus / "sub" / "b.txt").write_text("Second Document\n\nIt says another thing in a full sentence.")
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04")
    (corpus / "broken.txt").write_bytes(b"\xff\xfe\xfa not utf-8")
    (corpus / ".hidden.txt").write_text("Hidden\n\nNever indexed, it is a hidden file.")
    scan = load_corpus(corpus)
    assert [d.doc_id for d in scan.documents] == ["a.txt", "sub/b.txt"]
    assert [d.title for d in scan.documents] == ["First Document", "Second Document"]
    assert dict(scan.skipped) == {"notes.docx": "unsupported file type .docx"}
    assert "not valid UTF-8" in dict(scan.failed)["broken.txt"]
    assert ".hidden.txt" not in dict(scan.skipped) | dict(scan.failed)


def test_a_symlink_leading_outside_the_corpus_is_not_read(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("Secret\n\nThe password is swordfish, said the sentence.")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.txt").write_text("Fine\n\nA normal document with a normal sentence.")
    os.symlink(secret, corpus / "link.txt")
    assert [d.doc_id for d in load_corpus(corpus).documents] == ["ok.txt"]
    assert set(corpus_fingerprint(corpus)) == {"ok.txt"}


def test_a_symlink_to_a_hidden_file_or_into_a_hidden_folder_is_not_read(tmp_path: Path):
    corpus = tmp_path / "corpus"
    (corpus / ".drafts").mkdir(parents=True)
    (corpus / "ok.txt").write_text("Fine\n\nA normal document with a normal sentence.")
    (corpus / ".secret.txt").write_text("Secret\n\nThe password is swordfish, said the sentence.")
    (corpus / ".drafts" / "plan.txt").write_text("Plan\n\nThe launch moves to May, said the draft.")
    os.symlink(".secret.txt", corpus / "notes.txt")
    os.symlink(corpus / ".drafts" / "plan.txt", corpus / "plan.txt")  # absolute, into a hidden folder
    os.symlink("ok.txt", corpus / "alias.txt")  # a link to a visible document is a document
    assert [d.doc_id for d in load_corpus(corpus).documents] == ["alias.txt", "ok.txt"]
    assert set(corpus_fingerprint(corpus)) == {"alias.txt", "ok.txt"}


def test_fingerprint_changes_with_content(tmp_path: Path):
    (tmp_path / "a.txt").write_text("one")
    before = corpus_fingerprint(tmp_path)
    (tmp_path / "a.txt").write_text("two")
    assert corpus_fingerprint(tmp_path) != before


@pytest.mark.parametrize(
    "prose",
    [
        "In 2031 the Selene Accord on lunar navigation beacons was signed in Reykjavik.",
        "The navigator wrote an account of the voyage after his return.",
        "Scientists launched the probe to find out more about the comet.",
        "JavaScript was created in 1995 by Brendan Eich at Netscape.",
        "The crew baked cookies on the station for the holiday.",
        "Cosmonauts log in detail every experiment they run in orbit.",
    ],
)
def test_prose_that_mentions_interface_words_is_kept(prose):
    assert clean_text(f"A Heading\n\n{prose}") == f"A Heading\n\n{prose}"


@pytest.mark.parametrize(
    "furniture",
    [
        "We use cookies to give you the best experience.",
        "Sign in to save this article to your reading list.",
        "Please enable JavaScript to view the comments.",
        "Create an account to follow this topic.",
        "Find out more about our partners and how we use your data.",
    ],
)
def test_interface_sentences_are_dropped(furniture):
    assert clean_text(f"The story begins with a long sentence of plain prose here.\n\n{furniture}") == "The story begins with a long sentence of plain prose here."
