# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connections kept in an ansible-vault encrypted vars file: decrypt, merge, compare, encrypt, replace.

Idempotency rests on comparing decrypted data, never ciphertext: every encryption uses a fresh salt, so
re-encrypting unchanged data would change the file on every run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import grp
import hashlib
import math
import os
import pwd
import time
from collections.abc import Collection, Iterable, Mapping

from ansible.errors import AnsibleError
from ansible.parsing.vault import is_encrypted, match_encrypt_secret

from ansible_collections.onedrive.connection.plugins.module_utils.rotation import SECRET_FIELDS
from ansible_collections.onedrive.connection.plugins.module_utils.store_options import DEFAULT_KEY
from ansible_collections.onedrive.connection.plugins.plugin_utils import vault_stream, vault_yaml
from ansible_collections.onedrive.connection.plugins.plugin_utils.atomic_file import (
    LockError,
    UnsafeFile,
    exclusive_lock,
    probe_lock,
    read_existing,
    replace_atomically,
    trusted_target,
)
from ansible_collections.onedrive.connection.plugins.plugin_utils.connection_changes import (
    masked_diff,
    merge,
    plain_secrets,
    reported,
    unmet,
)

DEFAULT_SECRET_FIELDS = SECRET_FIELDS
ENCRYPTIONS = ("file", "inline")
NO_SECRET_LOADED = (
    "no vault secret is loaded: run ansible-playbook with --ask-vault-pass, --vault-password-file or --vault-id"
)


class VaultConfigError(Exception):
    """A refusal whose message is safe to show: it names files, keys, connections and fields, never values."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    changed: bool
    fields_changed: dict[object, list[str]]
    """Per changed connection, the sorted names of the fields that change."""
    backup_file: str | None = None
    diff: list[dict] = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    """The sorted names of the connections left as they were because they did not hold the expected fields."""
    warnings: list[str] = dataclasses.field(default_factory=list)
    """What the caller should show: the write succeeded, but not quite as the file was (its owner)."""


@dataclasses.dataclass(frozen=True)
class _Plan:
    existing_mode: int | None
    """The permission bits of the file as it is, or None when it does not exist."""
    existing_owner: tuple[int, int] | None
    """The (uid, gid) of the file as it is, or None when it does not exist."""
    document: dict
    before: dict
    after: dict
    changes: dict[object, list[str]]
    skipped: list
    encrypt: dict[object, list[str]]
    """Inline encryption only: per connection, the fields that hold plain values and must become `!vault`."""
    rewrite: bool
    chmod: bool

    @property
    def changed(self) -> bool:
        return self.rewrite or self.chmod


class VaultConfigFile:
    """One vars file whose `key` maps connection names to their fields.

    With encryption `file` the whole file is one vault; with `inline` it is plain YAML in which every secret
    field is a `!vault` value. Either way Ansible loads it with vars_files or include_vars. A mode of None
    keeps an existing file's permission bits (and creates a new one 0600).
    """

    def __init__(
        self,
        path: str,
        vault,
        *,
        key: str = DEFAULT_KEY,
        encryption: str = "file",
        secret_fields: Collection[str] = DEFAULT_SECRET_FIELDS,
        vault_id: str | None = None,
        mode: int | None = 0o600,
        lock_timeout: float = 60.0,
    ):
        if encryption not in ENCRYPTIONS:
            raise VaultConfigError(f"encryption must be one of {', '.join(ENCRYPTIONS)}, not {encryption!r}")
        if not (math.isfinite(lock_timeout) and lock_timeout >= 0):
            raise VaultConfigError(f"lock_timeout must be a number of seconds not below zero, not {lock_timeout!r}")
        self.path = path
        # Writes go to the file a symlink points at, so that a linked vars file stays linked; but only through
        # a link that this user, root or the folder's owner made, never through one another user planted.
        self._target = _trusted_target(path)
        self._vault = vault
        self._key = key
        self._encryption = encryption
        self._secret_fields = frozenset(secret_fields)
        self._vault_id = vault_id
        self._mode = mode
        self._lock_timeout = lock_timeout
        self._loaded = None

    def update(
        self,
        updates: Mapping[str, Mapping[str, object]],
        removals: Iterable[str] = (),
        *,
        expect: Mapping[str, Mapping[str, object]] | None = None,
        check_mode: bool = False,
        backup: bool = False,
        diff: bool = False,
        hidden: Collection[str] = (),
    ) -> Outcome:
        """Set fields of connections (updates) and remove connections (removals) in one write.

        Changes of the fields in hidden (bookkeeping, such as claims) are written, but not reported as changes
        nor shown in the diff.

        Values must be plain Python data (str, int, float, bool, None, list, dict). Nothing is written when
        the decrypted data already matches, nor in check mode.

        expect makes this a compare-and-set: a connection it names is updated or removed only if its stored
        fields equal the expected values when the file is written, under the writers' lock; otherwise it is left
        as it is and reported in Outcome.skipped. A caller that stores a token refreshed from the one it read,
        expecting that one, never puts it over a token another writer stored after the read.
        """
        removals, expect = checked_update(updates, removals, expect)
        vault_id, secret = self._encrypting_secret()
        plan = self._plan(updates, removals, expect)
        backup_file, warnings = None, []
        if plan.changed and not check_mode:
            os.makedirs(os.path.dirname(self._target), mode=0o700, exist_ok=True)
            with _refused_as_config_error(), exclusive_lock(self._target, self._lock_timeout):
                # Another writer may have replaced the file since the first read: decide again under the lock.
                plan = self._plan(updates, removals, expect)
                if plan.rewrite:
                    backup_file, warnings = self._replace(plan, vault_id, secret, backup)
                elif plan.chmod:
                    os.chmod(self._target, self._mode)
        changes = reported(plan.changes, hidden)
        return Outcome(
            bool(changes) or plan.chmod,
            changes,
            backup_file,
            self._diff(plan, changes, hidden) if diff and plan.changed else [],
            plan.skipped,
            warnings,
        )

    def read(self) -> dict[str, dict]:
        """The stored connections as plain data, inline `!vault` values decrypted; {} when the file does not exist."""
        document, whole_file, dummy = self._load()
        connections = {}
        for name, connection in self._connections(document).items():
            if not isinstance(name, str):
                raise VaultConfigError(f"{self.path}: connection name {name!r} under {self._key} is not text; quote it")
            plain = [] if whole_file else sorted(f for f in self._secret_fields if isinstance(connection.get(f), str))
            if plain:
                raise VaultConfigError(
                    f"{self.path}: connection {name!r} holds {', '.join(plain)} in plain text, not encrypted, so it was"
                    f" left as it is: encrypt the file with `ansible-vault encrypt {self.path}` first"
                )
            try:
                connections[name] = {field: _plain(value) for field, value in connection.items()}
            except vault_yaml.UndecryptableValue as exc:
                raise VaultConfigError(f"{self.path}: a value of connection {name!r} {exc}") from None
        return connections

    def _file_mode(self, existing_mode: int | None) -> int:
        if self._mode is not None:
            return self._mode
        return existing_mode if existing_mode is not None else 0o600

    def _load(self) -> tuple[dict, bool, os.stat_result | None]:
        """The file's document, whether it is encrypted as a whole, and its status (None: no file).

        A file whose bytes hash as they did at the last load is the one already parsed: decrypting and parsing
        a vault of thousands of connections again would cost more memory than its data, while hashing it
        holds a chunk at a time.
        """
        try:
            handle = open(self._target, "rb")
        except FileNotFoundError:
            return {}, False, None
        with handle:
            status = os.fstat(handle.fileno())
            digest = _sha256(handle)
            if self._loaded is not None and self._loaded[0] == digest:
                document, whole_file = self._loaded[1]
                return document, whole_file, status
            handle.seek(0)
            # Only the header: is_encrypted copies its whole argument twice over, as text and back.
            whole_file = is_encrypted(handle.read(64))
            handle.seek(0)
            if whole_file and self._encryption == "inline":
                raise VaultConfigError(
                    f"{self.path} is encrypted as a whole, and inline encryption would write its other content in "
                    "plain text: keep encryption=file, or decrypt the file first with ansible-vault decrypt"
                )
            content = self._decrypt(handle) if whole_file else handle.read()
        document = self._parse(content)
        if not whole_file and self._encryption == "file" and content.strip():
            raise _not_a_vault(self.path)
        self._loaded = digest, (document, whole_file)
        return document, whole_file, status

    def check_writable(self) -> None:
        """Refuse now what would refuse a write later: no secret to encrypt with, a folder that takes no file, or
        a writer lock that is planted, or held by another writer for longer than lock_timeout.

        The lock is taken and released again (see probe_lock): a caller about to do what cannot be undone
        (refresh a token) learns now rather than after it that the write would fail.
        """
        self._encrypting_secret()
        folder = os.path.dirname(self._target)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise VaultConfigError(f"{folder} is not writable, so {self.path} could not be rewritten")
        with _refused_as_config_error():
            probe_lock(self._target, self._lock_timeout)

    def _encrypting_secret(self):
        secrets = self._vault.secrets or []
        if not secrets:
            raise VaultConfigError(NO_SECRET_LOADED)
        loaded = list(dict.fromkeys(vault_id for vault_id, dummy in secrets))
        wanted = self._vault_id
        if not wanted:
            if len(loaded) > 1:
                raise VaultConfigError(
                    f"several vault ids are loaded ({', '.join(loaded)}): set vault_id, or the vault_encrypt_identity "
                    "setting, to the one that encrypts"
                )
            wanted = loaded[0]
        try:
            return match_encrypt_secret(secrets, wanted)
        except AnsibleError:
            raise VaultConfigError(f"vault id {wanted!r} is not loaded (loaded: {', '.join(loaded)})") from None

    def _plan(self, updates, removals, expect) -> _Plan:
        document, whole_file, status = self._load()
        existing_mode = None if status is None else status.st_mode & 0o7777
        before = self._connections(document)
        try:
            skipped = unmet(before, expect)
            after, changes = merge(
                before,
                {name: values for name, values in updates.items() if name not in skipped},
                [name for name in removals if name not in skipped],
            )
        except vault_yaml.UndecryptableValue as exc:
            raise VaultConfigError(f"{self.path}: {exc}") from None
        encrypt = plain_secrets(after, before, self._secret_fields) if self._encryption == "inline" else {}
        for name, fields in encrypt.items():
            self._require_text(after[name], name, fields)
            changes[name] = sorted({*changes.get(name, ()), *fields}, key=str)
        converts = existing_mode is not None and self._encryption == "file" and not whole_file
        return _Plan(
            existing_mode=existing_mode,
            existing_owner=None if status is None else (status.st_uid, status.st_gid),
            document={**document, self._key: after} if changes else document,
            before=before,
            after=after,
            changes=changes,
            skipped=skipped,
            encrypt=encrypt,
            rewrite=bool(changes) or converts,
            chmod=existing_mode is not None and self._mode is not None and existing_mode != self._mode,
        )

    def _parse(self, content: bytes) -> dict:
        try:
            document = vault_yaml.load(content.decode("utf-8"), self._vault)
        except UnicodeDecodeError:
            raise VaultConfigError(f"{self.path} is not UTF-8 text") from None
        except vault_yaml.InvalidYaml as exc:
            raise VaultConfigError(f"{self.path} {exc}") from None
        if document is None:
            return {}
        if not isinstance(document, dict):
            raise VaultConfigError(f"{self.path} does not hold a mapping of variables at the top level")
        return document

    def _decrypt(self, handle) -> bytes:
        if not self._vault.secrets:
            raise VaultConfigError(f"{self.path} is encrypted and {NO_SECRET_LOADED}")
        try:
            return vault_stream.decrypt(handle, self._vault.secrets)
        except vault_stream.MissingCryptography as exc:
            raise VaultConfigError(str(exc)) from None
        except vault_stream.VaultFormatError:
            raise VaultConfigError(f"{self.path} is damaged: it starts like an ansible-vault file but is not one") from None
        except vault_stream.NoSecretOpens as exc:
            loaded = ", ".join(dict.fromkeys(vault_id for vault_id, dummy in self._vault.secrets))
            raise VaultConfigError(
                f"{self.path} cannot be decrypted with the loaded vault secrets: a wrong password, a vault id that is "
                f"not loaded, or damaged content (the file names vault id {exc.vault_id!r}; loaded: {loaded})"
            ) from None

    def _connections(self, document: dict) -> dict:
        connections = document.get(self._key)
        if connections is None:
            return {}
        if not isinstance(connections, dict):
            raise VaultConfigError(f"{self.path}: {self._key} is not a mapping of connections")
        for name, connection in connections.items():
            if not isinstance(connection, dict):
                raise VaultConfigError(f"{self.path}: connection {name!r} under {self._key} is not a mapping of fields")
        return connections

    def _require_text(self, connection: dict, name: object, fields: Iterable[str]) -> None:
        for field in fields:
            if not isinstance(connection[field], str):
                raise VaultConfigError(
                    f"field {field!r} of connection {name!r} must be a string to be stored as an inline !vault value"
                )

    def _replace(self, plan: _Plan, vault_id: str, secret, backup: bool) -> tuple[str | None, list[str]]:
        """Write the planned file; returns the backup file, if any, and the warnings for the caller to show."""
        if self._encryption == "inline":
            connections = dict(plan.after)
            for name, fields in plan.encrypt.items():
                connections[name] = {
                    field: vault_yaml.VaultValue.encrypt(value, self._vault, secret, vault_id) if field in fields else value
                    for field, value in plan.after[name].items()
                }
            content = vault_yaml.dump({**plan.document, self._key: connections}).encode("utf-8")
        else:
            try:
                content = vault_stream.encrypt(vault_yaml.dump(plan.document).encode("utf-8"), secret, vault_id)
            except vault_stream.MissingCryptography as exc:
                raise VaultConfigError(str(exc)) from None
        backup_file = None
        if backup and plan.existing_mode is not None:
            backup_file = f"{self._target}.{os.getpid()}.{time.strftime('%Y-%m-%d@%H:%M:%S~')}"
            # Read again under the writers' lock, which every writer holds while it replaces the file.
            replace_atomically(backup_file, *read_existing(self._target))
        if replace_atomically(self._target, content, self._file_mode(plan.existing_mode), plan.existing_owner):
            return backup_file, []
        return backup_file, [self._owner_not_kept(plan.existing_owner)]

    def _owner_not_kept(self, owner: tuple[int, int]) -> str:
        status = os.stat(self._target)
        uid, gid = owner
        return (
            f"{self.path} was rewritten, but this user may not give the new file the old one's owner "
            f"{_user_name(uid)}:{_group_name(gid)}, so it is now owned by "
            f"{_user_name(status.st_uid)}:{_group_name(status.st_gid)}: if the old owner must read it, run "
            f"`chown {uid}:{gid} {self._target}` as root, or write the file as that user."
        )

    def _diff(self, plan: _Plan, changes: dict, hidden: Collection[str]) -> list[dict]:
        diffs = []
        if changes:
            diffs.append(masked_diff(self.path, self._key, plan.before, plan.after, changes, self._secret_fields, hidden))
        if plan.chmod:
            diffs.append({
                "before_header": self.path,
                "after_header": self.path,
                "before": {"mode": f"{plan.existing_mode:04o}"},
                "after": {"mode": f"{self._file_mode(plan.existing_mode):04o}"},
            })
        return diffs


def checked_update(updates: Mapping, removals: Iterable[str], expect: Mapping | None) -> tuple[list, dict]:
    """removals and expect as lists and dicts, once they agree with updates; raises VaultConfigError otherwise."""
    removals = list(removals)
    expect = dict(expect or {})
    if both := sorted(map(str, set(updates) & set(removals))):
        raise VaultConfigError(f"connections both updated and removed: {', '.join(both)}")
    if stray := sorted(map(str, set(expect) - set(updates) - set(removals))):
        raise VaultConfigError(f"expect names connections that are neither updated nor removed: {', '.join(stray)}")
    for name, fields in expect.items():
        if not isinstance(fields, Mapping):
            raise VaultConfigError(f"the expected fields of connection {name!r} must be a mapping of field to value")
    return removals, expect


def _not_a_vault(path: str) -> VaultConfigError:
    # Encrypting a plain file in place would turn what a person keeps readable into a vault without asking.
    return VaultConfigError(
        f"{path} is not an ansible-vault file (it is not encrypted as a whole), so it was left as it is: encrypt it"
        f" with `ansible-vault encrypt {path}`, keep it plain with only its secrets encrypted (encryption=inline;"
        " onedrive_vault_encryption=inline in the roles), or give the path of a new file"
    )


def encryption_of(path: str) -> tuple[str, str | None]:
    """How an existing file is encrypted: "file" as a whole, or else "inline" (value by value, if at all); and
    for a whole file, the vault id its header names (None for none, or for "default")."""
    with open(_trusted_target(path), "rb") as handle:
        head = handle.read(256)
    if not is_encrypted(head):
        return "inline", None
    fields = head.splitlines()[0].split(b";") if head.splitlines() else []
    vault_id = fields[3].strip().decode("utf-8", "replace") if len(fields) > 3 else None
    return "file", None if vault_id == "default" else vault_id


@contextlib.contextmanager
def _refused_as_config_error():
    # The refusals of atomic_file name files and say what to do, so they reach the user as they are.
    try:
        yield
    except (LockError, UnsafeFile) as exc:
        raise VaultConfigError(str(exc)) from None


def _trusted_target(path: str) -> str:
    with _refused_as_config_error():
        return trusted_target(path)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _plain(value: object) -> object:
    if isinstance(value, vault_yaml.VaultValue):
        return value.plaintext()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _sha256(handle) -> bytes:
    # hashlib.file_digest would do, from Python 3.11; the controller may run 3.10.
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1 << 16), b""):
        digest.update(chunk)
    return digest.digest()
