"""Evidence files: the type is decided by the content (magic bytes), never by the name; sizes are limited.

Storage choice: files live in the database (``evidence_file.content``, bytea) with their SHA-256. An
appeal's evidence is small (scans, screenshots, a spreadsheet — the limit is 10 MiB a file, 20 files an
appeal), so the database keeps it in the same transaction and the same backups as the appeal it
supports, it works unchanged with several replicas of the service (no shared volume), and the
appeals service's role can reach nothing else. The hash de-duplicates uploads per appeal and lets
either party prove which file was judged. Files are served back only with their sniffed type and as
attachments (``Content-Disposition: attachment``, ``nosniff``), so an upload can never run in a browser.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass

from services.appeals.workflow import Problem

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES_PER_APPEAL = 20
OOXML = {
    "word/": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    "xl/": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
}


@dataclass(frozen=True, slots=True)
class Sniffed:
    media_type: str
    sha256: str
    size_bytes: int


def _ooxml(content: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for prefix, (media_type, _) in OOXML.items():
        if any(n.startswith(prefix) for n in names):
            return media_type
    return None


def _text(content: bytes) -> str | None:
    if b"\x00" in content:
        return None
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head = content[:512].lstrip().lower()
    if head.startswith((b"<", b"<!doctype", b"<?xml")):  # HTML, SVG, XML: active content is refused
        return None
    return "text/plain"


def sniff_type(content: bytes) -> str | None:
    """The media type read from the content, if it is on the allow-list (PDF, PNG, JPEG, DOCX, XLSX, text)."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"PK\x03\x04"):
        return _ooxml(content)
    return _text(content)


def check_file(filename: str, content: bytes, *, files_already: int) -> tuple[Sniffed | None, list[Problem]]:
    """Accept a file or say why not: empty, too large, too many, or a type not on the allow-list."""
    problems = []
    if not filename.strip() or "/" in filename or "\\" in filename or len(filename) > 200:
        problems.append(Problem("BAD_FILENAME", "give a plain file name (no path, at most 200 characters)", "filename"))
    if not content:
        problems.append(Problem("EMPTY_FILE", "the file is empty", "content"))
    elif len(content) > MAX_FILE_BYTES:
        problems.append(Problem("FILE_TOO_LARGE", f"a file may have at most {MAX_FILE_BYTES // 2**20} MiB", "content"))
    if files_already >= MAX_FILES_PER_APPEAL:
        problems.append(Problem("TOO_MANY_FILES", f"an appeal may carry at most {MAX_FILES_PER_APPEAL} files"))
    media_type = sniff_type(content) if content and not problems else None
    if content and not problems and media_type is None:
        problems.append(
            Problem(
                "FILE_TYPE_REFUSED",
                "only PDF, PNG, JPEG, DOCX, XLSX and plain text (UTF-8) files are accepted, judged by content",
                "content",
            )
        )
    if problems:
        return None, problems
    assert media_type is not None
    return Sniffed(media_type, hashlib.sha256(content).hexdigest(), len(content)), []
