"""Minimal PDFs for tests: lines of text on each page, in a standard font; no library needed.

Besides good PDFs, the poison kinds a reader must survive: a stream in a filter no reader
knows, and a decompression bomb (a few kilobytes that inflate to hundreds of megabytes).
"""

from __future__ import annotations

import zlib


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A valid PDF whose pages show (ASCII) text, a line of the page for each "\\n"-separated line."""
    return _pdf([(_show_text(text).encode("latin-1"), None) for text in pages], title)


def unknown_filter_pdf() -> bytes:
    """A PDF whose one page's content is encoded with a filter that does not exist."""
    return _pdf([(_show_text("This text is hidden behind an unknown filter.").encode("latin-1"), "/NoSuchDecode")])


def lone_surrogate_pdf(text: str = "The crew of Soyuz X docked.") -> bytes:
    """A PDF whose font maps the letter X to half of a UTF-16 surrogate pair (U+D800), which
    pypdf passes into the text as it is: a string no tokenizer or JSON encoder accepts."""
    cmap = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Half def\n"
        "1 begincodespacerange <00> <FF> endcodespacerange\n"
        "1 beginbfchar <58> <D800> endbfchar\n"
        "endcmap CMapName currentdict /CMap defineresource pop end end"
    ).encode("latin-1")
    return _pdf([(_show_text(text).encode("latin-1"), None)], to_unicode=cmap)


def bomb_pdf(inflated_bytes: int = 400_000_000) -> bytes:
    """A PDF of well under a megabyte whose page content inflates to ``inflated_bytes`` bytes of text operators."""
    operator = _show_text("Boom.").encode("latin-1") + b"\n"
    block = operator * ((1 << 20) // len(operator))
    count = max(1, inflated_bytes // len(block))
    # After a full flush the compressor refers back to nothing, so every block compresses to the
    # same bytes: compress one, repeat it, and mend the checksum (fast, however large the bomb).
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()
    checksum = 1
    for _ in range(count):
        checksum = zlib.adler32(block, checksum)
    stream = first + again * (count - 1) + end[:-4] + checksum.to_bytes(4, "big")
    return _pdf([(stream, "/FlateDecode")])


def _show_text(text: str) -> str:
    """Each "\\n"-separated line of ``text`` on a line of its own, 14 points below the last."""
    lines = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in text.split("\n")]
    return "BT /F1 11 Tf 14 TL 40 750 Td (" + ") Tj T* (".join(lines) + ") Tj ET"


def _pdf(contents: list[tuple[bytes, str | None]], title: str | None = None, to_unicode: bytes | None = None) -> bytes:
    """A PDF with one page per ``(content stream, filter name or None)``; ``to_unicode``: the font's character map."""
    objects: list[bytes] = []

    def add(body: bytes | str) -> int:
        objects.append(body if isinstance(body, bytes) else body.encode("latin-1"))
        return len(objects)

    cmap = add(f"<< /Length {len(to_unicode)} >>\nstream\n".encode("latin-1") + to_unicode + b"\nendstream") if to_unicode else None
    font = add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica" + (f" /ToUnicode {cmap} 0 R" if cmap else "") + " >>")
    page_ids = []
    pages_id = len(objects) + 2 * len(contents) + 1  # the /Pages object comes after every page and its content
    for stream, filter_name in contents:
        filter_entry = f" /Filter {filter_name}" if filter_name else ""
        content = add(f"<< /Length {len(stream)}{filter_entry} >>\nstream\n".encode("latin-1") + stream + b"\nendstream")
        page_ids.append(
            add(f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R /Resources << /Font << /F1 {font} 0 R >> >> >>")
        )
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    assert add(f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>") == pages_id
    catalog = add(f"<< /Type /Catalog /Pages {pages_id} 0 R >>")
    info = add(f"<< /Title ({title}) >>") if title else None

    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    trailer = f"<< /Size {len(objects) + 1} /Root {catalog} 0 R" + (f" /Info {info} 0 R" if info else "") + " >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
