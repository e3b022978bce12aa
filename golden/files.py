"""Reading and writing the project's files safely: every user file is untrusted input.

* ``read_npz``: an ``.npz`` read without pickles, with every way a corrupt or
  hostile file can fail turned into one error naming the file, and its size
  checked before anything is decompressed (``MAX_FILE_BYTES``).
* ``strict_json``: JSON without NaN, Infinity, numbers beyond float range or
  unbounded nesting (Python's parser accepts all of them).
* ``check_output``/``atomic_write``/``atomic_path``: an output path is checked before the work
  starts, and a file is written under a temporary name and renamed into place,
  so it is complete or absent (an interrupted or failed write leaves the
  previous file as it was).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import zipfile

import numpy as np

__all__ = ["MAX_FILE_BYTES", "read_npz", "strict_json", "check_output", "atomic_write", "atomic_path",
           "atomic_folder", "check_output_folder", "OutputError"]

#: Most bytes an ``.npz`` may hold once decompressed (all members together).
MAX_FILE_BYTES = 2 << 30
#: Deepest nesting a JSON header may have.
MAX_JSON_DEPTH = 32


class OutputError(OSError):
    """An output path cannot be written; the message names the path and why."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_npz(path, what: str, error: type[Exception], *, max_bytes: int = MAX_FILE_BYTES,
             only=None, sizes: dict | None = None) -> dict:
    """The members of the ``.npz`` at ``path`` as NumPy arrays, or ``error`` with one line.

    ``what`` names the kind of file in messages ("network file", "input file", ...).
    ``only``: read just these members (the others are not decompressed). ``sizes``: the
    members the file may hold and the most bytes each may take decompressed; any other
    member, or one larger, is an error before anything is decompressed.
    """
    path = os.fspath(path)

    def fail(msg):
        raise error(f"{path}: {msg}") from None

    if not os.path.exists(path):
        fail("no such file")
    if os.path.isdir(path):
        fail(f"is a directory, not {_a(what)}")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        fail(f"cannot be read: {_first_line(exc)}")
    if magic.startswith(b"\x93NUMPY"):
        fail(f"is a single NumPy array (.npy), not {_a(what)} (.npz)")
    if not magic.startswith(b"PK"):
        fail(f"not {_a(what)} (.npz, a zip archive): it starts with {magic[:4]!r}")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            unaccounted = _unaccounted_bytes(zf, path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        fail(f"not a readable {what} (.npz): {_first_line(exc)}")
    if unaccounted:
        fail(f"damaged: {unaccounted} bytes before its directory belong to no member (a member "
             f"lost from the archive's directory?)")
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        fail(f"declares {total:,} bytes uncompressed, more than the {max_bytes:,} a {what} may hold")
    names = [i.filename for i in infos]
    bad = [n for n in names if not n.endswith(".npy")]
    if bad:
        fail(f"member {bad[0]!r} is not a NumPy array (.npy); a {what} holds arrays only")
    if len(set(names)) != len(names):
        fail("holds the same member twice")
    if sizes is not None:
        for info in infos:
            key = info.filename[:-4]
            if key not in sizes:
                fail(f"unexpected array {key!r}; this {what} holds {', '.join(sorted(sizes))}")
            if info.file_size > sizes[key]:
                fail(f"array {key!r} takes {info.file_size:,} bytes, more than its declared "
                     f"shape allows ({sizes[key]:,})")
    contents = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                if only is not None and key not in only:
                    continue
                value = data[key]
                if not isinstance(value, np.ndarray):
                    fail(f"member {key!r} is not a NumPy array")
                contents[key] = value
    except ValueError as exc:
        if "pickle" in str(exc):
            fail(f"member holds Python objects (pickled data), which are never loaded; a {what} "
                 f"holds numeric arrays only")
        fail(f"not a readable {what} (.npz): {_first_line(exc)}")
    except MemoryError:
        fail(f"a member is too large to load")
    except Exception as exc:   # zlib.error, BadZipFile, EOFError, NotImplementedError, ...
        fail(f"not a readable {what} (.npz): {type(exc).__name__}: {_first_line(exc)}")
    return contents


def _unaccounted_bytes(zf: zipfile.ZipFile, path: str) -> int:
    """Bytes between the members and the central directory that no member covers (beyond a
    data descriptor's): a directory that lost an entry still opens, and would silently drop
    that member."""
    covered = 0
    with open(path, "rb") as fh:
        for info in zf.infolist():
            fh.seek(info.header_offset)
            local = fh.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise zipfile.BadZipFile(f"member {info.filename!r} has no local header")
            name_len = int.from_bytes(local[26:28], "little")
            extra_len = int.from_bytes(local[28:30], "little")
            covered = max(covered, info.header_offset + 30 + name_len + extra_len + info.compress_size)
    gap = zf.start_dir - covered
    return gap if gap > 24 else 0          # up to a (zip64) data descriptor is legitimate


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond the float range")
    return value


def _depth(obj, level=0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(obj, dict):
        return max([_depth(v, level + 1) for v in obj.values()] + [level + 1])
    if isinstance(obj, list):
        return max([_depth(v, level + 1) for v in obj] + [level + 1])
    return level


def strict_json(text: str):
    """Parse JSON, refusing NaN, Infinity, out-of-range numbers and deep nesting
    (``ValueError`` with one line)."""
    try:
        obj = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if _depth(obj) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return obj


def _check_parent(path: str) -> str:
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(parent):
        raise OutputError(f"{path}: folder {parent} does not exist")
    if not os.path.isdir(parent):
        raise OutputError(f"{path}: {parent} is not a folder")
    try:                                   # the real test: can a file be made there?
        fd, probe = tempfile.mkstemp(prefix=".spikeforge-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{path}: folder {parent} is not writable: {_first_line(exc)}") from None
    return parent


def check_output(path, what: str = "output") -> str:
    """Refuse, before any work, an output path that cannot be written: a directory, a
    missing or non-directory parent, a folder where no file can be made, a special file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a directory; give a file name for the {what}")
    if os.path.exists(path) and not os.path.isfile(path):
        raise OutputError(f"{path}: is not a regular file (a device or pipe); the {what} is "
                          f"written by renaming a complete file into place")
    _check_parent(path)
    return path


def check_output_folder(path, marker: str, what: str = "output folder") -> str:
    """Refuse a folder output that cannot be made, or a folder that holds other things than
    an earlier output of the same kind (``marker``, a file every such output has)."""
    path = os.fspath(path)
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise OutputError(f"{path}: is a file, not a folder for the {what}")
        if os.listdir(path) and not os.path.isfile(os.path.join(path, marker)):
            raise OutputError(f"{path}: holds files that are not an earlier {what} (no {marker}); "
                              f"give a new or empty folder, it is replaced as a whole")
    _check_parent(path)
    return path


@contextlib.contextmanager
def atomic_folder(path, marker: str, what: str = "output folder"):
    """Yield a temporary folder beside ``path``; on success it replaces ``path`` as a whole
    (no stale files of an earlier output survive); on failure it is removed and ``path`` is
    left as it was."""
    path = os.path.abspath(check_output_folder(path, marker, what))
    parent = os.path.dirname(path)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".", dir=parent)
    try:
        yield tmp
        if os.path.exists(path):
            old = tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".old.", dir=parent)
            os.rename(path, os.path.join(old, "previous"))
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"{path}: cannot be written: {_first_line(exc)}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_path(path, what: str = "output"):
    """Yield the name of an empty temporary file beside ``path``, for writers that take a
    file name; on success it is renamed to ``path``; on any failure it is removed and
    ``path`` is left as it was. Write errors (a full disk) become ``OutputError``."""
    path = check_output(path, what)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"{path}: cannot be written: {_first_line(exc)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path, what: str = "output"):
    """Yield a binary file handle on a temporary file beside ``path``; on success it is
    flushed, synced and renamed to ``path`` (``atomic_path``)."""
    with atomic_path(path, what) as tmp, open(tmp, "wb") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def _a(what: str) -> str:
    """``what`` with its article: "a network file", "an input file"."""
    return ("an " if what[:1] in "aeiou" else "a ") + what
