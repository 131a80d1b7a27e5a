# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Crash-safe replacement of a file on the controller, the writer lock that serialises replacements, and the
refusal of links and locks that another user may have planted beside the file."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable

_TEMPORARY_SUFFIX = ".partial"
# The random part of a temporary's name: this module's own, or tempfile.mkstemp's of earlier releases. Neither
# holds a dot, so the temporaries of "v.yml" never match those of "v.yml.bak", and the reverse.
_TEMPORARY_RANDOM = r"(?:[0-9a-f]{16}|[a-z0-9_]{8})"
_LOCK_POLL_SECONDS = 0.05
_MAX_LINKS = 40  # as the kernel's limit on a chain of symbolic links


class LockError(Exception):
    """The writer lock could not be taken; the message names the lock file and what to do."""


class LockTimeout(LockError):
    """Another writer held the lock for longer than the caller was willing to wait."""


class UnsafeFile(Exception):
    """A link or lock that another user may have planted, refused rather than followed or waited on."""


def _hidden_sibling(path: str, suffix: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}{suffix}")


def lock_file(path: str) -> str:
    """The file whose flock serialises the writers of path."""
    return _hidden_sibling(path, ".lock")


def _trusted_owners(entry: str) -> set[int]:
    # The rule of the kernel's fs.protected_symlinks: whoever owns the folder could replace its content anyway,
    # so only an entry of someone else (say, in a folder others may write to) may be a trap.
    return {os.geteuid(), 0, os.stat(os.path.dirname(entry) or ".").st_uid}


def _planted_advice(path: str) -> str:
    folder = os.path.dirname(path) or "."
    return f"keep {folder} writable only by the users who write {os.path.basename(path)}"


def trusted_target(path: str) -> str:
    """The absolute, resolved path of the file that path names, following a symbolic link at path only when
    it is owned by this user, by root, or by the owner of its folder (a chain of links: every one of them).

    A link owned by anyone else is refused, whether it points at a file or nowhere: following it would write
    where its owner chose, and a dangling one would create its target.
    """
    current = os.path.abspath(path)
    for dummy in range(_MAX_LINKS):
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return os.path.realpath(current)
        if not stat.S_ISLNK(info.st_mode):
            return os.path.realpath(current)
        if info.st_uid not in _trusted_owners(current):
            raise UnsafeFile(
                f"{current} is a symbolic link owned by uid {info.st_uid}, neither you, root nor the owner of its "
                f"folder, so it is not followed: another user may have planted it to redirect the write of "
                f"{path}. Replace it with the file itself or with a link of your own, and "
                f"{_planted_advice(current)}."
            )
        current = os.path.join(os.path.dirname(current), os.readlink(current))
    raise UnsafeFile(f"{path} is a chain of more than {_MAX_LINKS} symbolic links: point it at the file directly.")


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
    descriptor = _open_lock(path, create=True)
    try:
        _acquire(descriptor, path, timeout)
        _remove_abandoned_temporaries(path)
        yield
    finally:
        os.close(descriptor)


def probe_lock(path: str, timeout: float) -> None:
    """Raise now what exclusive_lock(path, timeout) would raise, taking the lock and letting it go at once.

    It creates nothing: a lock file that does not exist is neither planted nor held. A caller about to do what
    cannot be undone learns before it, rather than after, that the write would fail; the lock is not kept,
    so a writer that comes in between can still make that write wait or fail.
    """
    descriptor = _open_lock(path, create=False)
    if descriptor is not None:
        try:
            _acquire(descriptor, path, timeout)
        finally:
            os.close(descriptor)


def _acquire(descriptor: int, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout(_held_too_long(path, timeout)) from None
            time.sleep(_LOCK_POLL_SECONDS)


def _held_too_long(path: str, timeout: float) -> str:
    lock = lock_file(path)
    return (
        f"another writer held the lock on {path} (the file {lock}) for more than {timeout:g} s, so {path} was "
        f"not written: run again once the other writer is done, or raise lock_timeout. The lock is released "
        f"when its holder ends; `fuser {lock}` shows which process holds it"
    )


def _open_lock(path: str, create: bool) -> int | None:
    """The lock file of path, open, once it is known to be the writers' own; None when it does not exist and
    create is false."""
    lock = lock_file(path)
    try:
        # O_NOFOLLOW: a link planted in the lock's place (even one pointing nowhere) would otherwise be followed,
        # to lock, or create, a file anywhere its owner chose.
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if create else 0)
        descriptor = os.open(lock, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ENOENT and not create:
            return None
        if exc.errno == errno.ELOOP:
            raise UnsafeFile(
                f"{lock}, the lock of the writers of {path}, is a symbolic link, which it never is when this "
                f"collection creates it: another user may have planted it to block or redirect writes. Remove it "
                f"while no play writes {path}, and {_planted_advice(path)}."
            ) from None
        raise LockError(
            f"{lock}, the lock of the writers of {path}, could not be opened ({exc.strerror}): remove it while no "
            f"play writes {path}, or let its owner do so, so that the next writer creates it again."
        ) from None
    try:
        _require_own_lock(descriptor, lock, path)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _require_own_lock(descriptor: int, lock: str, path: str) -> None:
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        problem = "is not a plain file" if not stat.S_ISREG(info.st_mode) else "has other names (hard links)"
    elif info.st_uid not in _trusted_owners(lock):
        problem = f"is owned by uid {info.st_uid}, neither you, root nor the owner of its folder"
    else:
        return
    raise UnsafeFile(
        f"{lock}, the lock of the writers of {path}, {problem}: another user may have planted it to block writes. "
        f"Remove it while no play writes {path}, and {_planted_advice(path)}."
    )


def _remove_abandoned_temporaries(path: str) -> None:
    # Only the lock holder creates temporaries, so any found while holding it belong to a killed writer. Those
    # of another file (v.yml.bak beside v.yml) are under another lock, and may be in flight.
    folder, name = os.path.split(path)
    mine = re.compile(re.escape(f".{name}.") + _TEMPORARY_RANDOM + re.escape(_TEMPORARY_SUFFIX))
    with os.scandir(folder or ".") as entries:
        abandoned = [
            entry.path for entry in entries if mine.fullmatch(entry.name) and not entry.is_dir(follow_symlinks=False)
        ]
    for temporary in abandoned:
        # Clearing up is a courtesy: what cannot be removed must not stop the write.
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _create_temporary(folder: str, name: str) -> tuple[int, str]:
    # Named here rather than by tempfile, so that _remove_abandoned_temporaries knows the exact form.
    while True:
        temporary = os.path.join(folder, f".{name}.{secrets.token_hex(8)}{_TEMPORARY_SUFFIX}")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            return os.open(temporary, flags, 0o600), temporary
        except FileExistsError:
            continue


def _give_owner(descriptor: int, owner: tuple[int, int]) -> bool:
    """Give the file owner's (uid, gid) where this process may; False when it could not give both."""
    info = os.fstat(descriptor)
    if (info.st_uid, info.st_gid) == owner:
        return True
    try:
        os.fchown(descriptor, *owner)
        return True
    except OSError:
        pass
    # Without the right to give a file away, a process may still give it a group it is a member of.
    with contextlib.suppress(OSError):
        os.fchown(descriptor, -1, owner[1])
    return False


def replace_atomically(
    path: str, content: bytes | Iterable[bytes], mode: int, owner: tuple[int, int] | None = None
) -> bool:
    """Make path hold content (bytes, or chunks of them) with the given mode, so that at every instant it holds
    the old or the new file. With owner, a (uid, gid), the new file gets that owner where this process may;
    the return value is False when it could not (the file is then written all the same).

    The temporary file is created 0600 in path's own folder (a rename is only atomic within one file system),
    gets its owner and mode before it takes path's place, is flushed to disk before the rename, and the folder
    is flushed after it so the rename itself survives a power loss.
    """
    folder, name = os.path.split(os.path.abspath(path))
    descriptor, temporary = _create_temporary(folder, name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in (content,) if isinstance(content, bytes) else content:
                handle.write(chunk)
            handle.flush()
            owner_kept = owner is None or _give_owner(handle.fileno(), owner)
            # After the chown, which clears the set-user and set-group bits.
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
    return owner_kept
