# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Crash-safe replacement of a file on the controller, and the writer lock that serialises replacements."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import tempfile
import time
from collections.abc import Iterable

_TEMPORARY_SUFFIX = ".partial"
_LOCK_POLL_SECONDS = 0.05


class LockTimeout(Exception):
    """Another writer held the lock for longer than the caller was willing to wait."""


def _hidden_sibling(path: str, suffix: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}{suffix}")


def read_existing(path: str) -> tuple[bytes, int] | None:
    """The content and permission bits of path, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read(), os.fstat(handle.fileno()).st_mode & 0o7777
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def exclusive_lock(path: str, timeout: float):
    """Hold an exclusive lock for writers of path, and clear what killed writers left behind.

    The lock is an flock on a hidden sibling file, not on path: path is replaced by rename, so a lock on
    the inode being replaced would not exclude a writer that opened the new one. The sibling is never
    removed, since a writer that removed it could let the next two writers lock two different inodes.
    The kernel releases an flock when its holder dies, so a killed writer never leaves the lock held.
    """
    descriptor = os.open(_hidden_sibling(path, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"another writer held the lock on {path} for more than {timeout:g} s") from None
                time.sleep(_LOCK_POLL_SECONDS)
        _remove_abandoned_temporaries(path)
        yield
    finally:
        os.close(descriptor)


def _remove_abandoned_temporaries(path: str) -> None:
    # Only the lock holder creates temporaries, so any found while holding it belong to a killed writer.
    folder, name = os.path.split(path)
    pattern = os.path.join(glob.escape(folder), f".{glob.escape(name)}.*{_TEMPORARY_SUFFIX}")
    for abandoned in glob.glob(pattern):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(abandoned)


def replace_atomically(path: str, content: bytes | Iterable[bytes], mode: int) -> None:
    """Make path hold content (bytes, or chunks of them) with the given mode, so that at every instant it holds
    the old or the new file.

    The temporary file is created 0600 in path's own folder (a rename is only atomic within one file system),
    is flushed to disk before the rename, and the folder is flushed after it so the rename itself survives
    a power loss.
    """
    folder, name = os.path.split(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=_TEMPORARY_SUFFIX, dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in (content,) if isinstance(content, bytes) else content:
                handle.write(chunk)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    folder_descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder_descriptor)
    finally:
        os.close(folder_descriptor)
