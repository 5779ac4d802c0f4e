"""chatiq.files.filetypes and chatiq.files.images without a server: content decides, names are labels."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

import samples
from chatiq.files import filetypes
from chatiq.files.filetypes import Refused, inspect, safe_name


def _file(tmp_path, content: bytes):
    path = tmp_path / "upload"
    path.write_bytes(content)
    return path


def _refused(tmp_path, content: bytes, name: str = "x", **kw) -> Refused:
    with pytest.raises(Refused) as caught:
        inspect(_file(tmp_path, content), name, **kw)
    return caught.value


def test_the_allowlist_is_configurable(tmp_path):
    assert inspect(_file(tmp_path, samples.plain_zip()), "a.zip").type is filetypes.ZIP
    refused = _refused(tmp_path, samples.plain_zip(), "a.zip", allowed=("png", "jpg"))
    assert refused.code == "unsupported_type" and "zip archive" in refused.message


def test_zip_with_too_many_entries(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i in range(filetypes.MAX_ZIP_ENTRIES + 1):
            z.writestr(f"{i}", b"")
    assert "too many entries" in _refused(tmp_path, out.getvalue(), "a.zip").message


def test_a_zip_lying_about_its_unpacked_size_is_refused(tmp_path):
    """Overlapping or forged entries: the central directory's sizes are checked, nothing is unpacked."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("a", b"x")
    data = bytearray(out.getvalue())
    central = data.rindex(b"PK\x01\x02")
    data[central + 24:central + 28] = (2**31).to_bytes(4, "little")  # uncompressed size
    assert "zip bomb" in _refused(tmp_path, bytes(data), "a.zip").message


def test_office_needs_its_declared_main_part(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:  # word/ entry, but no [Content_Types].xml
        z.writestr("word/document.xml", "<doc/>")
    verdict = inspect(_file(tmp_path, out.getvalue()), "letter.zip")
    assert verdict.type is filetypes.ZIP
    refused = _refused(tmp_path, out.getvalue(), "letter.docx")
    assert "but its name says .docx" in refused.message


@pytest.mark.parametrize("content, why", [
    (samples.PDF + samples.plain_zip(), "zip archive inside"),
    (samples.png((8, 8)) + b"<?php system($_GET['c']); ?>", "data after its end"),
    (samples.webp() + b"trailing", "data after its end"),
    (samples.gif() + b"\x00\x00", "data after its end"),
    (b"%PDF-1.4\n" + b"x" * 2000, "damaged"),
])
def test_polyglots_and_trailers_are_refused(tmp_path, content, why):
    assert why in _refused(tmp_path, content).message


def test_markup_hidden_in_an_image_header(tmp_path):
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "JPEG", comment=b"<script>alert(1)</script>")
    assert "HTML inside" in _refused(tmp_path, out.getvalue(), "a.jpg").message


def test_an_image_with_a_lying_header_is_refused(tmp_path):
    assert _refused(tmp_path, b"\x89PNG\r\n\x1a\n" + b"\0" * 64 + b"IEND\xaeB`\x82").code == \
        "unsupported_type"


@pytest.mark.parametrize("raw, ftype, expected", [
    ("report.PDF", filetypes.PDF, "report.pdf"),
    ("..\\..\\boot.ini", filetypes.TXT, "boot.ini.txt"),
    ("  .hidden.txt  ", filetypes.TXT, "hidden.txt"),
    ("a\u200bb.txt", filetypes.TXT, "ab.txt"),
    ("Résumé.pdf", filetypes.PDF, "Résumé.pdf"),
    ("Re\u0301sume\u0301.pdf", filetypes.PDF, "Résumé.pdf"),  # NFC
    (None, filetypes.PNG, "file.png"),
    ("...", filetypes.PNG, "file.png"),
])
def test_safe_names(raw, ftype, expected):
    assert safe_name(raw, ftype) == expected


@pytest.mark.parametrize("raw", ["a.svg", "a.HTML", "a.htm", "a.xhtml"])
def test_page_extensions_are_never_accepted(raw):
    with pytest.raises(Refused):
        safe_name(raw, filetypes.TXT)


def test_a_name_that_only_fits_on_disk_is_cut_to_200_bytes():
    name = safe_name("😀" * 300 + ".txt", filetypes.TXT)
    assert name.endswith(".txt") and len(name.encode()) <= 200
