"""The inputs of an ingest, before DuckDB: finding files, telling their kinds apart, inflating
delivery files into bare ``Records`` arrays, splitting the other kinds into record texts.

Nothing here imports DuckDB (~0.2 s to import): ``Prefetch`` starts on the files while the store
is still being opened. ``store/ingest.py`` loads what this module makes ready.
"""

from __future__ import annotations

import enum
import gzip
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

try:  # zlib-ng inflates CloudTrail's gzip files in about 60% of zlib's time; same API and results
    from zlib_ng import zlib_ng as _zlib
except ImportError:  # pragma: no cover - a dependency; zlib is the fallback
    _zlib = zlib  # type: ignore[misc,assignment]

from trailhound.errors import StoreError, UserInputError

_INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error, getattr(_zlib, "error", zlib.error))


class _ZlibShim:
    """``_ZlibDecompressor``'s interface over ``decompressobj`` (a zlib without it: 3.11's)."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj(wbits=31)
        self._tail = b""
        self._full = False  # the last piece filled its limit: there may be more to come

    def decompress(self, data: bytes, max_length: int) -> bytes:
        piece = self._inflater.decompress(data or self._tail, max_length)
        self._tail = self._inflater.unconsumed_tail
        self._full = len(piece) == max_length
        return piece

    @property
    def eof(self) -> bool:
        return self._inflater.eof

    @property
    def needs_input(self) -> bool:
        return not (self.eof or self._tail or self._full)

    @property
    def unused_data(self) -> bytes:
        return self._inflater.unused_data


def _gzip_member() -> Any:
    """An inflater of one gzip member. ``_ZlibDecompressor`` keeps the input it has not used
    yet, where ``decompressobj`` hands it back (``unconsumed_tail``), a copy of what is left for
    each piece: inflating 400 of the benchmark's files (nothing written) took 0.92 s of CPU that
    way, 0.52 s this way, handed 16 KB at a time (``_inflated``)."""
    make = getattr(_zlib, "_ZlibDecompressor", None)
    return make(wbits=31) if make else _ZlibShim()


MAX_OBJECT = 2**31 - 1
MAX_THREADS = 8  # threads inflating files, and DuckDB branches of a parallel insert, at most
_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz")


class Kind(enum.StrEnum):
    """What a file holds, told from its first bytes."""

    DELIVERY = "delivery"  # {"Records": [...]}: read by DuckDB
    LOOKUP = "lookup"  # aws cloudtrail lookup-events output: split in Python
    JSONL = "jsonl"  # JSON Lines, or one JSON document: split in Python


DELIVERY, LOOKUP, JSONL = Kind.DELIVERY, Kind.LOOKUP, Kind.JSONL
GZIP_MAGIC = b"\x1f\x8b"

@dataclass
class Reject:
    file: str
    record: int | None  # index of the record in the file (0-based), None when the whole file is bad
    reason: str

    def __str__(self) -> str:
        where = self.file if self.record is None else f"{self.file}: record {self.record}"
        return f"{where}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "record": self.record, "reason": self.reason}



def find_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and directories (recursively) into a list of files, each once, in order.

    A directory lists its files with the suffixes the loader knows, hidden ones (``.name``) left
    out, sorted by path; symbolic links to files are followed, links to directories are not. A
    file reached twice (named and inside a directory, or through a link) is listed the first time.
    """
    out: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for p in map(Path, paths):
        try:
            st = p.stat()
        except OSError:
            raise UserInputError(f"{p}: no such file or directory") from None
        if stat.S_ISDIR(st.st_mode):
            found = sorted(_walk(str(p)), key=lambda f: f[0])
        elif stat.S_ISREG(st.st_mode):
            found = [((), str(p), (st.st_dev, st.st_ino))]
        else:
            raise UserInputError(f"{p}: no such file or directory")
        for _, name, key in found:
            if key not in seen:
                seen.add(key)
                out.append(Path(name))
    return out


def _walk(top: str, parts: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str, tuple[int, int]]]:
    """(path components under the walk's top, path, (device, inode)) of each file to load under
    ``top``: os.scandir, one stat a file (rglob and resolve() took ~0.1 ms a file)."""
    try:
        entries = list(os.scandir(top))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path, (*parts, entry.name))
            elif (entry.name.endswith(_SUFFIXES) and not entry.name.startswith(".")
                  and entry.is_file()):
                st = entry.stat()
                yield (*parts, entry.name), entry.path, (st.st_dev, st.st_ino)
        except OSError:  # vanished or unreadable while listed: not a file to load
            continue


def _json_size(fh: Any, size: int, gz: bool) -> int:
    """Bytes of JSON in an open file of ``size`` bytes: its size, or for gzip the size the trailer
    records (ISIZE)."""
    if not gz:
        return size
    fh.seek(max(0, size - 4))
    isize = int.from_bytes(fh.read(4), "little")
    # ISIZE is modulo 2**32 and covers only the last member of a multi-member file; CloudTrail
    # writes one member, which inflates to more than it deflated from.
    return isize if isize >= size else MAX_OBJECT


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def _open(path: Path) -> Any:
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


class FileError(Exception):
    """A whole file cannot be loaded (the message says why)."""



class _Ready(NamedTuple):
    """A delivery file made readable for DuckDB (``_array_copy``)."""

    path: Path  # the file as given
    read: str  # its records for DuckDB: the bare Records array, or one record a line
    size: int  # the bytes of that file
    first_id: str | None  # the first record's eventID, as far as a glance at its text tells


_PROBE_BYTES = 4096
_TRUNCATED_GZIP = ("unreadable or truncated compressed file "
                   "(Compressed file ended before the end-of-stream marker was reached)")
_LEADING_KEY = re.compile(rb'^\s*\{\s*"([A-Za-z]+)"')
_READ_ERRORS = (OSError, EOFError, zlib.error)


def probe(path: Path) -> tuple[Kind, bool, int]:
    """Which input kind a file holds, whether it is gzip and its bytes of JSON (``_json_size``),
    from one open of the file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_PROBE_BYTES)
            gz = head[:2] == GZIP_MAGIC
            if gz:  # the first bytes it inflates to (zlib, not GzipFile: half the time a file)
                inflater = _zlib.decompressobj(wbits=31)
                raw, head = head, inflater.decompress(head, _PROBE_BYTES)
                if len(head) < _PROBE_BYTES and len(raw) < _PROBE_BYTES and not inflater.eof:
                    raise FileError(_TRUNCATED_GZIP)
            size = _json_size(fh, os.fstat(fh.fileno()).st_size, gz)
    except _INFLATE_ERRORS as exc:
        raise FileError(f"unreadable or truncated compressed file ({exc})") from exc
    except OSError as exc:
        raise FileError(f"unreadable ({exc.strerror or exc})") from exc
    head = head.removeprefix(_BOM)
    if not head.strip():
        raise FileError("empty file; expected CloudTrail JSON")
    m = _LEADING_KEY.match(head)
    if m:
        key = m.group(1)
        if key == b"Records":
            return DELIVERY, gz, size
        if key == b"Events":
            return LOOKUP, gz, size
        return JSONL, gz, size
    if head.lstrip()[:1] in (b"{", b"["):
        return JSONL, gz, size
    raise FileError("not JSON: expected a CloudTrail object or JSON Lines")


def _diagnose(path: Path) -> str:
    """Explain why a delivery file failed to load, with the record index where that can be told."""
    try:
        with _open(path) as fh:
            data = fh.read()
    except _READ_ERRORS as exc:
        return f"unreadable or truncated compressed file ({exc})"
    return _explain(data)


def _explain(data: bytes) -> str:
    """Why these bytes (a delivery file's, inflated) are not a delivery file DuckDB can read."""
    data = data.removeprefix(_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        return f"{_record_at(text, exc.start)}not valid UTF-8 at byte {exc.start}"
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        where = _record_at(text, exc.pos)
        if _ends_early(text, exc):
            return f"{where}truncated: the JSON ends before the Records array closes"
        return f"{where}not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    if not isinstance(doc, dict) or not isinstance(doc.get("Records"), list):
        return "expected {\"Records\": [...]} (a CloudTrail delivery file)"
    return "could not be read as a CloudTrail delivery file"


def _ends_early(text: str, exc: json.JSONDecodeError) -> bool:
    """Whether a JSON error is the input ending too soon (a truncated file), not bad syntax."""
    return exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")


def _record_at(text: str, pos: int) -> str:
    """``record N: `` for the record of ``Records`` that contains character ``pos``, if any."""
    start = text.find("[")
    if start < 0 or pos <= start:
        return ""
    dec = json.JSONDecoder()
    i, n = start + 1, 0
    while i < len(text):
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]" or i > pos:
            break
        try:
            _, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            return f"record {n}: "
        if pos < end:
            return f"record {n}: "
        i, n = end, n + 1
    return f"record {n}: " if n else ""


def _document_records(path: Path) -> tuple[list[tuple[int, str]], list[Reject]]:
    """(index, record text) of a JSON Lines / lookup-events / single-document file, and its rejects."""
    name = str(path)
    try:
        with _open(path) as fh:
            data = fh.read()
        text = data.decode("utf-8-sig")
    except _READ_ERRORS as exc:
        raise FileError(f"unreadable or truncated compressed file ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise FileError(f"not valid UTF-8 at byte {exc.start}") from exc
    out: list[tuple[int, str]] = []
    rejects: list[Reject] = []
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        doc = None
    else:
        if isinstance(doc, dict) and "Events" in doc and "eventID" not in doc:
            events = doc["Events"]
            if not isinstance(events, list):
                raise FileError("expected an 'Events' list (aws cloudtrail lookup-events output)")
            for idx, ev in enumerate(events):
                raw = ev.get("CloudTrailEvent") if isinstance(ev, dict) else None
                if not isinstance(raw, str):
                    rejects.append(Reject(name, idx, "missing field CloudTrailEvent (a JSON string)"))
                    continue
                try:
                    orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    rejects.append(Reject(name, idx, f"CloudTrailEvent is not valid JSON ({exc})"))
                    continue
                out.append((idx, raw))
            return out, rejects
        if isinstance(doc, dict) and "Records" in doc and "eventID" not in doc:
            records = doc["Records"]
            if not isinstance(records, list):
                raise FileError("expected {\"Records\": [...]} (a CloudTrail delivery file)")
            return [(i, orjson.dumps(r).decode()) for i, r in enumerate(records)], rejects
        if isinstance(doc, list):
            return [(i, orjson.dumps(r).decode()) for i, r in enumerate(doc)], rejects
        return [(0, text)], rejects
    # Not one document: JSON Lines. Record index = line index (line number - 1).
    parsed: list[tuple[int, str, str | None]] = []
    for idx, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            parsed.append((idx, line, str(exc)))
        else:
            parsed.append((idx, line, None))
    if not any(err is None and line.lstrip().startswith("{") for _, line, err in parsed):
        # Not one object on any line: a single broken document (truncated, or not JSON at all).
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            if _ends_early(text, exc):
                raise FileError("truncated: the JSON ends early") from None
            raise FileError(f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    for idx, line, err in parsed:
        if err is None:
            out.append((idx, line))
        else:
            rejects.append(Reject(name, idx, f"line {idx + 1}: not valid JSON ({err})"))
    return out, rejects



# Batches are sized by JSON bytes (for gzip, the size its trailer records): at least BATCH_BYTES
# (unless the whole load is smaller), under twice that, all of a load about equal (``plan_batches``).
# DuckDB's insert threads each compress and write their own row groups only when each has filled
# one (``ROW_GROUP_ROWS`` in store/local.py); the rows of a thread with fewer are appended and
# compressed by one thread at a time. 320 MiB of ~1.4 KB records is ~3.5 groups for each of two
# threads, and few enough commits. Two batches are on disk at a time (``_Inflater``).
BATCH_BYTES = 320 * 1024 * 1024


def plan_batches(items: list[tuple[Path, bool, int]], batch_bytes: int) -> list[list[tuple[Path, bool, int]]]:
    """The files in batches of about equal JSON bytes, each at least ``batch_bytes`` (unless the
    whole load is less) and under twice that.

    Equal, not full-then-remainder: a small batch leaves DuckDB's threads with partial row
    groups, which are appended one thread at a time (see ``BATCH_BYTES``). With 122,880-row
    groups the 1M-event benchmark cut 192 + 3 x 384 MiB spent ~1.2 s on one core in its
    first batch (``docs/store.md``).
    """
    total = sum(size for _, _, size in items)
    share = max(1, total / max(1, total // batch_bytes))
    out: list[list[tuple[Path, bool, int]]] = []
    batch: list[tuple[Path, bool, int]] = []
    bound = share
    done = 0
    for item in items:
        if batch and done + item[2] / 2 > bound:  # this file lies mostly past the boundary
            out.append(batch)
            batch, bound = [], bound + share
        batch.append(item)
        done += item[2]
    if batch:
        out.append(batch)
    return out


class Prefetch:
    """An ingest's files found, told apart and cut into batches (``plan_batches``), the first
    batch already being inflated: ``Ingestor.ingest`` takes one in place of paths, once.

    ``trailhound ingest`` makes it before it opens the store: importing DuckDB and opening the
    file take ~0.25 s, during which the first batch is being inflated. Close it (or use it as a
    context manager) to remove its temporary files.
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]], *, batch_bytes: int = BATCH_BYTES,
                 threads: int | None = None):
        self.files = find_files(paths)
        self.rejects: list[Reject] = []  # files that cannot be read at all
        self.delivery: list[tuple[Path, bool, int]] = []  # (file, gzip, JSON bytes), for DuckDB
        self.documents: list[Path] = []  # JSON Lines, lookup-events output: split in Python
        for f in self.files:
            try:
                kind, gz, size = probe(f)
            except FileError as exc:
                self.rejects.append(Reject(str(f), None, str(exc)))
                continue
            if kind == DELIVERY:
                self.delivery.append((f, gz, size))
            else:
                self.documents.append(f)
        self._plan = plan_batches(self.delivery, batch_bytes)
        # CloudTrail's records one a line (``_copy_lines``), for the direct load; the ingest turns
        # this off once a batch of the run went the careful way, which reads arrays.
        self.lines = True
        self._handed = 0  # the batch handed out (``batches``)
        self._ahead: _Inflating | None = None  # the one after it, once started
        self._inflater = _Inflater(threads or min(MAX_THREADS, os.cpu_count() or 1))
        try:
            self._first = self._start(0) if self._plan else None
        except BaseException:
            self.close()
            raise

    def _start(self, i: int) -> _Inflating:
        """Start inflating batch ``i``: over the files of batch i - 2 (``_Inflater``), and the last
        to use its directory when no batch i + 2 follows."""
        return self._inflater.start(self._plan[i], last=i + 2 >= len(self._plan), lines=self.lines)

    def batches(self) -> Iterator[tuple[list[tuple[Path, bool, int]], _Inflating]]:
        """Each batch with its inflation. The batch after it starts inflating when the loader
        calls ``ahead`` (once it knows how that batch should be written: ``lines``), or when the
        loader is done with this one, at the latest."""
        current = self._first
        for i, batch in enumerate(self._plan):
            self._handed, self._ahead = i, None
            assert current is not None
            yield batch, current
            self.ahead()
            current = self._ahead

    def ahead(self) -> None:
        """Start inflating the batch after the one handed out, unless it has started."""
        if self._ahead is None and self._handed + 1 < len(self._plan):
            self._ahead = self._start(self._handed + 1)

    def close(self) -> None:
        self._inflater.__exit__(None, None, None)

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Inflating:
    """One batch's files being made readable for DuckDB (see ``_array_copy``) in one of the
    inflater's two directories, until it is closed."""

    def __init__(self, pool: ThreadPoolExecutor, cleaner: ThreadPoolExecutor, slot: Path,
                 files: list[tuple[Path, bool, int]], last: bool, lines: bool):
        self._cleaner = cleaner
        self._slot = slot
        self._last = last
        self._files = files
        self._futures = [pool.submit(_array_copy, path, gz, slot / f"{n:06d}.json", lines)
                         for n, (path, gz, _) in enumerate(files)]

    def result(self, rejects: list[Reject]) -> list[_Ready]:
        """Each readable file of the batch; the others are added to ``rejects``."""
        out: list[_Ready] = []
        for (path, _, _), future in zip(self._files, self._futures, strict=True):
            try:
                out.append(_Ready(path, *future.result()))
            except FileError as exc:
                rejects.append(Reject(str(path), None, str(exc)))
        return out

    def close(self) -> None:
        for future in self._futures:
            future.cancel()
        for future in self._futures:  # a running copy must end before its files are used again
            if not future.cancelled():
                future.exception()
        if self._last:  # no later batch writes over these: remove them (not waited for)
            self._cleaner.submit(shutil.rmtree, self._slot, ignore_errors=True)

    def __enter__(self) -> _Inflating:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


NICE = 10  # how far the inflating threads give way to DuckDB's: nice values above the process's


def _yield_cpu() -> None:
    """Lower the calling thread's priority by ``NICE`` (Linux, where a thread has its own nice
    value; elsewhere nothing).

    The next batch is inflated while DuckDB loads this one. At equal priority the inflating
    threads took CPU from one DuckDB thread more than the other, so one of the insert's two
    branches ended later and a core sat idle; and the end of each insert, when one branch is
    done, is when the inflating can take a core that would be idle. At nice 10 the DuckDB
    threads come first, and the inflating fills the gaps: idle core-seconds of the 1M benchmark
    2.4-3.2 -> 1.3-2.6, in six pairs side by side.
    """
    if sys.platform == "linux":
        try:
            me = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + NICE))
        except OSError:  # not allowed here: the thread keeps the process's priority
            pass


class _Inflater:
    """A thread pool making batches readable in a temporary directory (``$TMPDIR``), removed
    when it exits.

    Batches take turns in two directories, a batch's files written over those of the batch two
    before (the next batch is inflated while DuckDB loads this one). Writing over a file whose
    pages the system holds costs ~0.4 ms of CPU for 1.4 MB; a new file ~1 ms, and ~0.2 ms more
    to remove it: ~1 s of the 1M benchmark.
    """

    def __init__(self, threads: int):
        try:
            self._tmp = tempfile.TemporaryDirectory(prefix="trailhound-ingest-")
        except OSError as exc:
            raise StoreError(f"cannot create a temporary directory in {tempfile.gettempdir()} "
                             f"({exc.strerror or exc}); set TMPDIR to a writable directory") from exc
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="trailhound-inflate", initializer=_yield_cpu)
        self._cleaner = ThreadPoolExecutor(1, thread_name_prefix="trailhound-cleanup", initializer=_yield_cpu)
        self._open: list[_Inflating] = []

    def start(self, files: list[tuple[Path, bool, int]], *, last: bool = True, lines: bool = True) -> _Inflating:
        """Start on a batch (``last``: no batch after the next one, so its files can go; ``lines``:
        CloudTrail's records one a line)."""
        slot = Path(self._tmp.name) / "ab"[len(self._open) % 2]
        slot.mkdir(exist_ok=True)
        job = _Inflating(self._pool, self._cleaner, slot, files, last, lines)
        self._open.append(job)
        return job

    def __enter__(self) -> _Inflater:
        return self

    def __exit__(self, *exc: object) -> None:
        for job in self._open:  # an interrupted run leaves no directory behind
            job.close()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._cleaner.shutdown(wait=True)
        self._tmp.cleanup()


_BOM = b"\xef\xbb\xbf"
# Gzip is inflated in pieces this size: each is heap memory used again for the next, where a
# whole inflated file (~1.4 MB) is a fresh mapping of the allocator each time (page faults: 0.35M
# of them, ~2 s of CPU for the benchmark's 1.4 GB on this machine).
_PIECE = 64 * 1024
_STEP = 16 * 1024  # compressed bytes handed to the inflater at a time (``_inflated``)
_TAIL_BYTES = 64  # _TAIL is looked for in this many last bytes
# CloudTrail writes ``{"Records":[...]}``: the array is the file less this head and tail.
_HEAD = re.compile(rb'\A\s*\{\s*"Records"\s*:\s*(?=\[)')
_TAIL = re.compile(rb'(?<=\])\s*\}\s*\Z')
# Records one a line (``_copy_lines``): an array as CloudTrail writes it (no spaces, each record
# starting with its eventVersion), and the separator between two of its records, with the line
# break that takes the place of its comma.
_FIRST_RECORD = b'[{"eventVersion":"'
_SEP = b'},{"eventVersion":"'
_LINE_SEP = b'}\n{"eventVersion":"'
# The first eventID in a file's text: its first record's, unless that record nests another key of
# the name before its own (then only the guess of ``Ingestor._stored_any`` is off, not the load).
_FIRST_ID = re.compile(rb'"eventID"\s*:\s*"([^"\\]{1,256})"')


def _array_elements(text: str) -> list[str]:
    """The texts of a JSON array's elements, each exactly as it stands in ``text``."""
    decoder = json.JSONDecoder()
    out: list[str] = []
    i = text.index("[") + 1
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "]":
            return out
        _, end = decoder.raw_decode(text, i)
        out.append(text[i:end])
        i = end


def _array_copy(path: Path, gz: bool, dest: Path, lines: bool = True) -> tuple[str, int, str | None]:
    """Write a delivery file's records to ``dest``, with ``lines`` one a line where CloudTrail's
    layout allows (``_copy_lines``), else its ``Records`` array as its bytes stand in the file; the path, its
    size and (a guess, see ``_FIRST_ID``) the first record's eventID.

    Inflates gzip (every member; zlib-ng releases the GIL) in pieces and drops a byte-order mark.
    A file laid out otherwise (other keys, or ``Records`` not first) is parsed and its array
    written again. Raises FileError when the file cannot be read, its compressed stream is broken
    or cut short, or it is not a delivery file.
    """
    try:
        with open(path, "rb") as src:
            raw = src.read()
    except OSError as exc:
        raise FileError(f"unreadable ({exc.strerror or exc})") from exc
    # Over the file of a batch before, if there is one: its pages are used again.
    with open(dest, "r+b" if dest.exists() else "wb") as out:
        try:
            copied = _copy_array(_inflated(raw) if gz else iter((raw,)), out, lines=lines)
        except _NotLines:  # a line break in the array: copied as it stands
            out.seek(0)
            copied = _copy_array(_inflated(raw) if gz else iter((raw,)), out)
        if copied is not None:
            return str(dest), *copied
        data = (b"".join(_inflated(raw)) if gz else raw).removeprefix(_BOM)
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise FileError(_explain(data)) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("Records"), list):
            raise FileError("expected {\"Records\": [...]} (a CloudTrail delivery file)")
        body = orjson.dumps(doc["Records"])
        head_record = doc["Records"][0] if doc["Records"] else None
        first_id = head_record.get("eventID") if isinstance(head_record, dict) else None
        out.seek(0)
        out.truncate()
        out.write(body)
    return str(dest), len(body), first_id if isinstance(first_id, str) else None


def _copy_array(pieces: Iterator[bytes], out: Any, *, lines: bool = False) -> tuple[int, str | None] | None:
    """Write the bytes between ``_HEAD`` and ``_TAIL`` of a document arriving in ``pieces`` to
    ``out``: its size and first eventID (``_FIRST_ID``); None when the document does not start
    and end like ``{"Records": [...]}``. With ``lines``, an array as CloudTrail writes it is
    written one record a line instead (``_copy_lines``).

    Each piece is written as it comes and the document's last bytes (``}`` and any space) are cut
    off the file at the end: no piece is copied in memory on the way.
    """
    head = b""
    for piece in pieces:
        head += piece
        if len(head) >= _PIECE:
            break
    head = head.removeprefix(_BOM)
    start = _HEAD.match(head)
    if not start:
        return None
    found = _FIRST_ID.search(head, start.end(), start.end() + 16384)
    first_id = found.group(1).decode("utf-8", "replace") if found else None
    body = memoryview(head)[start.end():]
    if lines and body[:len(_FIRST_RECORD)] == _FIRST_RECORD:
        written = _copy_lines(bytes(body[1:]), pieces, out)
        return None if written is None else (written, first_id)
    out.write(body)
    size = len(body)
    last = bytes(body[-_TAIL_BYTES:])  # the document's last bytes so far
    for piece in pieces:
        out.write(piece)
        size += len(piece)
        last = _last_bytes(last, piece)
    end = _TAIL.search(last)
    if not end:
        return None
    size -= len(last) - end.start()
    out.truncate(size)
    return size, first_id


def _last_bytes(last: bytes, piece: bytes | bytearray) -> bytes:
    """The last ``_TAIL_BYTES`` of a document so far (``last``) once ``piece`` is added to it."""
    return bytes(piece[-_TAIL_BYTES:] if len(piece) >= _TAIL_BYTES else (last + piece)[-_TAIL_BYTES:])


class _NotLines(Exception):
    """The array holds a line break of its own: it cannot be written one record a line."""


def _copy_lines(first: bytes, pieces: Iterator[bytes], out: Any) -> int | None:
    """Write a records array (``first``, its bytes after the ``[``, then ``pieces``) one record a
    line, without its brackets: the comma of every ``},{"eventVersion":`` becomes a line break,
    one byte for one, so nothing moves. The file's size; None when the document does not end
    like ``...]}``; _NotLines when a line break stands anywhere before the array's end.

    The insert splits such a file at its line breaks, where DuckDB's JSON reader scans every byte
    of an array and parses each record before ``json_transform`` parses it again. CloudTrail
    writes no line breaks and each record's ``eventVersion`` first, and inside a JSON string a
    quote is escaped, so the separator is found only between records, unless a record nests an
    object whose first key is ``eventVersion`` after another (never seen in CloudTrail): then
    neither half of the record is a JSON document, DuckDB fails on the file, and the batch is
    read again from the array (``as_array``), never loaded wrong.
    """
    keep = len(_SEP) - 1  # a separator may straddle two pieces by this much at most
    written = 0
    own_break = -1  # where the first line break of the document itself is
    tail = b""  # the last bytes written
    chunk: bytes | None = first
    while chunk is not None:
        if own_break < 0 and (k := chunk.find(b"\n")) >= 0:
            own_break = written + k
        fixed: bytes | bytearray = chunk.replace(_SEP, _LINE_SEP)
        joint = tail[-keep:] + fixed[:keep]
        if _SEP in joint:  # a separator across the last piece and this one
            fixed = bytearray(fixed)
            base = written - len(tail[-keep:])
            j = joint.find(_SEP)
            while j >= 0:
                comma = base + j + 1
                if comma >= written:
                    fixed[comma - written] = 0x0A
                else:  # already written: the last byte of the piece before
                    out.flush()
                    os.pwrite(out.fileno(), b"\n", comma)
                j = joint.find(_SEP, j + 1)
        out.write(fixed)
        written += len(fixed)
        tail = _last_bytes(tail, fixed)
        chunk = next(pieces, None)
    end = _TAIL.search(tail)
    if not end:
        return None
    stop = written - len(tail) + end.start() - 1  # where the array's closing bracket is
    if 0 <= own_break < stop:
        raise _NotLines
    out.truncate(stop)
    return stop


def one_a_line(read: str) -> bool:
    """Whether a file ``_array_copy`` wrote holds one record a line (an array starts with ``[``)."""
    with open(read, "rb") as fh:
        return fh.read(1) == b"{"


def array_of(data: bytes) -> bytes:
    """The array a file ``_array_copy`` wrote holds, byte for byte: the file itself, or, one
    record a line, its records with each line break back to the comma it took the place of."""
    return data if data[:1] != b"{" else b"[" + data.replace(b"\n", b",") + b"]"


def as_array(path: Path) -> None:
    """Turn a file ``_copy_lines`` wrote back into its array (``array_of``); an array is left
    as it is."""
    if one_a_line(str(path)):
        path.write_bytes(array_of(path.read_bytes()))


def _inflated(raw: bytes) -> Iterator[bytes]:
    """The bytes a gzip file holds (all its members), in pieces of at most ``_PIECE`` bytes;
    FileError when the stream is broken.

    The compressed bytes are handed over ``_STEP`` at a time, as the inflater asks for them:
    what it keeps between pieces stays small (heap memory used again, not a fresh mapping).
    """
    view = memoryview(raw)
    at = 0  # where the compressed bytes not handed over yet start
    try:
        while True:
            inflater = _gzip_member()
            while not inflater.eof:
                step = view[at:at]  # nothing: the inflater still holds bytes to inflate
                if inflater.needs_input:
                    if at >= len(raw):  # all of it read, and the stream goes on
                        raise FileError(_TRUNCATED_GZIP)
                    step, at = view[at:at + _STEP], at + _STEP
                piece = inflater.decompress(step, _PIECE)
                if piece:
                    yield piece
            at = min(at, len(raw)) - len(inflater.unused_data)  # where the next member would start
            if view[at:at + len(GZIP_MAGIC)] != GZIP_MAGIC:
                break
    except _INFLATE_ERRORS as exc:
        raise FileError(f"unreadable or truncated compressed file ({exc})") from exc
    rest = raw[at:]
    if rest.strip(b"\0"):
        raise FileError("unreadable compressed file (data after the end of the gzip stream)")


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Python-side reader of one file's records (for tools and tests; the store uses DuckDB)."""
    kind, _, _ = probe(path)
    if kind == DELIVERY:
        with _open(path) as fh:
            data = fh.read().decode("utf-8")
        yield from json.loads(data)["Records"]
        return
    recs, _ = _document_records(path)
    for _, text in recs:
        rec = json.loads(text)
        if isinstance(rec, dict):
            yield rec
