"""Customer files for ``POST /v1/customers/import``: CSV read as it arrives.

``read_rows`` turns a binary stream into ``(line, {column: text})`` per row,
or a ``Rejected`` row, holding one row at a time: a 100,000-row body is never
in memory. A problem with the file itself (no header, unknown columns, not
UTF-8) is a ``BadRequest`` naming ``file``.

``import_file`` reads the whole file first, into a spool that moves to disk
past 1 MB, so a file refused for such a problem imports nothing; then it
sends the rows in batches and adds up the results.
"""
from __future__ import annotations

import csv
import heapq
import io
import json
import re
import tempfile
from typing import Callable, Iterator, NamedTuple

from .http import BadRequest

COLUMNS = ("name", "mobile", "email", "city", "gender", "birthday", "notes")
REQUIRED = ("name", "mobile")
ARABIC = {
    "name": ("الاسم",),
    "mobile": ("الجوال", "رقم الجوال", "الهاتف"),
    "email": ("البريد الإلكتروني", "البريد"),
    "city": ("المدينة",),
    "gender": ("الجنس",),
    "birthday": ("تاريخ الميلاد",),
    "notes": ("ملاحظات",),
}
MAX_CELL = 10_000
# Raw characters of one row. Seven cells of 10,000 characters fit (unless
# most of them are doubled quotes), and it stays below csv's own field limit,
# so csv never fails on size: a longer row is skipped and reported.
MAX_ROW = 131_000
BATCH_ROWS = 1_000  # the customers service takes at most this many per call
BATCH_CHARS = 1_000_000  # and fewer when the cells are long: RPC messages stay small
MAX_REJECTED = 1_000  # listed in the response; rejected_count counts them all
SPOOL_MEMORY = 1 << 20
CHUNK = 64 * 1024

OVERLONG = "\udcff"  # a lone surrogate: strict UTF-8 decoding never produces one

_ARABIC_MARKS = re.compile("[\u0640\u064b-\u0652\ufeff]")  # tatweel, harakat, a stray BOM
_ALEFS = str.maketrans("أإآ", "ااا")


class Rejected(NamedTuple):
    """A row that is not imported: its first line in the file, and why."""

    line: int
    reason: str
    field: str | None = None

    def as_dict(self) -> dict:
        return {"line": self.line, "reason": self.reason, "field": self.field}


def _key(header: str) -> str:
    """Headers compare without case, spaces, Arabic diacritics or hamza forms."""
    return "".join(_ARABIC_MARKS.sub("", header).translate(_ALEFS).casefold().split())


HEADERS = {_key(alias): column for column in COLUMNS for alias in (column, *ARABIC[column])}


def _file_error(*problems: str) -> BadRequest:
    return BadRequest("invalid_file", problems[0], {"file": list(problems)})


def columns_of(header: list[str]) -> list[str]:
    """The column of each header cell; a ``BadRequest`` naming every problem."""
    problems, columns, unknown, seen = [], [], [], {}
    for position, cell in enumerate(header, 1):
        column = HEADERS.get(_key(cell))
        if not cell.strip():
            problems.append(f"column {position} of the header has no name")
        elif column is None:
            unknown.append(cell.strip()[:50])
        elif column in seen:
            problems.append(f"{seen[column]!r} and {cell.strip()!r} are both the {column} column")
        else:
            seen[column] = cell.strip()
        columns.append(column)
    if unknown:
        hint = "; separate the columns with commas" if any(";" in u or "\t" in u for u in unknown) else ""
        problems.append(f"unknown columns: {', '.join(unknown)}; the columns are {', '.join(COLUMNS)} "
                        f"(or their Arabic names){hint}")
    missing = [column for column in REQUIRED if column not in seen]
    if missing:
        problems.append(f"the header must name the columns name and mobile; missing: {', '.join(missing)}")
    if problems:
        raise _file_error(*problems)
    return columns


# --- lines for csv.reader: counted, and each row's size capped ---------------------

# Where csv's parser is, as far as finding the end of a row goes. After a
# closing quote the next character acts as at the start of a cell.
START, UNQUOTED, QUOTED = range(3)


def _scan(text: str, state: int) -> int:
    """csv's quoting rules (excel dialect) over text that holds no line end."""
    i, n = 0, len(text)
    while i < n:
        if state == QUOTED:
            j = text.find('"', i)
            if j < 0:
                return QUOTED
            state, i = START, j + 1  # a closing quote, or the first of a doubled one
        elif state == START:
            c = text[i]
            state, i = (QUOTED if c == '"' else START if c == "," else UNQUOTED), i + 1
        else:
            j = text.find(",", i)
            if j < 0:
                return UNQUOTED
            state, i = START, j + 1
    return state


class _Lines:
    """The text's physical lines for ``csv.reader``, counted in ``line``.

    A row whose raw text passes ``MAX_ROW`` is read to its end here (by csv's
    quoting rules) without being kept, and csv gets a marker in its place: a
    one-cell row, or the end of the quoted cell it was in.
    """

    def __init__(self, text: io.TextIOBase):
        self._text = text
        self._row_chars = 0
        self._after_cr = False
        self.line = 0

    def begin_row(self) -> None:
        self._row_chars = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        limit = MAX_ROW + 1 - self._row_chars
        piece = self._read(limit)
        if not piece:
            raise StopIteration
        if len(piece) < limit:
            self._row_chars += len(piece)
            self.line += 1
            return piece
        # csv asks for a row's second line only from inside a quoted cell.
        inside = self._row_chars > 0
        self._skip_row(piece, QUOTED if inside else START)
        return OVERLONG + ('"\n' if inside else "\n")

    def _read(self, limit: int) -> str:
        piece = self._text.readline(limit)
        if self._after_cr and piece.startswith("\n"):
            piece = piece[1:] or self._text.readline(limit)  # a CRLF the limit cut in two
        self._after_cr = piece.endswith("\r")
        return piece

    def _skip_row(self, piece: str, state: int) -> None:
        self.line += 1
        while True:
            body = piece.rstrip("\r\n")
            state = _scan(body, state)
            ended = len(body) != len(piece)
            if ended and state != QUOTED:
                return
            piece = self._read(CHUNK)
            if not piece:
                return
            if ended:
                self.line += 1


def _buffered(stream) -> io.BufferedIOBase:
    if isinstance(stream, io.BufferedIOBase):
        return stream
    if not isinstance(stream, io.RawIOBase):
        stream = _Raw(stream)
    return io.BufferedReader(stream, CHUNK)


class _Raw(io.RawIOBase):
    """Any object with ``read(n)`` (a WSGI input) as a raw stream."""

    def __init__(self, source):
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _row(line: int, cells: list[str], columns: list[str]) -> tuple[int, dict[str, str]] | Rejected:
    if any(OVERLONG in cell for cell in cells):
        return Rejected(line, f"the row is longer than {MAX_ROW:,} characters")
    if len(cells) != len(columns):
        return Rejected(line, f"{len(cells)} cells where the header has {len(columns)} columns")
    for column, cell in zip(columns, cells):
        if len(cell) > MAX_CELL:
            return Rejected(line, f"{column}: longer than {MAX_CELL:,} characters", column)
        if "\x00" in cell:
            return Rejected(line, f"{column}: must not contain NUL characters", column)
    return line, dict(zip(columns, cells))


def read_rows(stream) -> Iterator[tuple[int, dict[str, str]] | Rejected]:
    """Each row of a UTF-8 CSV file (a BOM is fine) after its header row, with
    the line it starts on (the header is line 1 when nothing precedes it).
    Empty lines, and rows whose every cell is blank, are skipped."""
    buffer = _buffered(stream)
    text = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="")
    lines = _Lines(text)
    reader = csv.reader(lines)
    columns = None
    try:
        while True:
            lines.begin_row()
            start = lines.line + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # not expected with these lines; reported, never fatal
                yield Rejected(start, f"unreadable: {exc}")
                continue
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                if any(OVERLONG in cell for cell in cells):
                    raise _file_error(f"the header row is longer than {MAX_ROW:,} characters")
                columns = columns_of(cells)
                continue
            yield _row(start, cells, columns)
        if columns is None:
            raise _file_error("the file is empty: it needs a header row naming its columns "
                              f"({', '.join(COLUMNS)}), then a row per customer")
    except UnicodeDecodeError:
        raise _file_error(f"not UTF-8 (at or after line {lines.line + 1}): save the file as "
                          "\"CSV UTF-8\"") from None
    finally:
        if not text.closed:
            unwrapped = text.detach()
            if unwrapped is not stream:
                unwrapped.detach()  # leave the caller's stream open


# --- the import: read everything, then send it in batches ----------------------------


class _Totals:
    def __init__(self):
        self.counts = {"created": 0, "updated": 0, "unchanged": 0}
        self.rejected: list[dict] = []
        self.rejected_count = 0
        self.pending: list[dict] = []  # rejected here, among rows not sent yet
        self.pending_count = 0

    def hold(self, rejected: Rejected) -> None:
        self.pending_count += 1
        if len(self.rejected) + len(self.pending) < MAX_REJECTED:
            self.pending.append(rejected.as_dict())

    def add(self, result: dict) -> None:
        for key in self.counts:
            self.counts[key] += int(result.get(key, 0))
        theirs = sorted(({"line": r["line"], "reason": r["reason"], "field": r.get("field")}
                         for r in result.get("rejected", ())), key=lambda r: r["line"])
        merged = heapq.merge(self.pending, theirs, key=lambda r: r["line"])
        room = MAX_REJECTED - len(self.rejected)
        self.rejected.extend(r for r, _ in zip(merged, range(room)))
        self.rejected_count += self.pending_count + len(theirs)
        self.pending, self.pending_count = [], 0

    def result(self) -> dict:
        return {**self.counts, "rejected": self.rejected, "rejected_count": self.rejected_count}


def import_file(stream, send: Callable[[list], dict]) -> dict:
    """Import a customer file: ``send(rows)`` imports up to ``BATCH_ROWS``
    rows ``[[line, {column: text}]]`` and returns the customers service's
    ``{created, updated, unchanged, rejected}``. Nothing is sent unless the
    whole file reads; each batch then commits on its own."""
    with tempfile.SpooledTemporaryFile(SPOOL_MEMORY, mode="w+", encoding="utf-8", newline="\n") as spool:
        for item in read_rows(stream):
            spool.write(json.dumps(item.as_dict() if isinstance(item, Rejected) else list(item)) + "\n")
        spool.seek(0)
        totals, batch, chars = _Totals(), [], 0
        for record in spool:
            item = json.loads(record)
            if isinstance(item, dict):
                totals.hold(Rejected(**item))
                continue
            batch.append(item)
            chars += sum(len(cell) for cell in item[1].values())
            if len(batch) >= BATCH_ROWS or chars >= BATCH_CHARS:
                totals.add(send(batch))
                batch, chars = [], 0
        totals.add(send(batch) if batch else {})
    return totals.result()
