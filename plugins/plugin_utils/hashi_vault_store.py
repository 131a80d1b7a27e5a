# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connections kept in OpenBao or HashiCorp Vault: one KV version 2 secret per connection, written check-and-set.

Each secret holds the fields a connection holds in the vars file. Every write names the version it was
computed from (``cas``), so two writers never overwrite each other unseen: the loser reads again and decides
again, exactly as a file writer does under its lock. A write that changes nothing is not sent, so it makes no
new version.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import typing as t
from collections.abc import Iterable, Mapping

from ansible_collections.onedrive.connection.plugins.plugin_utils.connection_changes import masked_diff, merge, reported, unmet
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_file import (
    DEFAULT_KEY,
    DEFAULT_SECRET_FIELDS,
    Outcome,
    VaultConfigError,
    checked_update,
)

try:
    import hvac
    import hvac.exceptions
    import requests
    import requests.exceptions
    import requests.utils
except ImportError:
    HAS_HVAC = False
else:
    HAS_HVAC = True

# Enough parallel requests to hide a server's round trip with thousands of connections, few enough to be polite.
WORKERS = 8
# A connection written by someone else between our read and our write is read again this often before giving up.
CAS_ATTEMPTS = 5
LEAST_PRIVILEGE = 'read, create, update and list on "<mount_point>/data/<path>/*" and "<mount_point>/metadata/<path>/*"'


class StoreError(VaultConfigError):
    """A refusal of the server, with a stable reason: store_unavailable, store_denied or store_invalid."""

    def __init__(self, msg: str, reason: str):
        super().__init__(msg)
        self.reason = reason


class HashiVaultStore:
    """The connections under ``<mount_point>/<path>`` of a KV version 2 secrets engine."""

    def __init__(
        self, options: Mapping[str, t.Any], *, key: str = DEFAULT_KEY, secret_fields: Iterable[str] = DEFAULT_SECRET_FIELDS
    ):
        self._options = dict(options)
        self._secret_fields = frozenset(secret_fields)
        self._mount = self._options["mount_point"].strip("/")
        self._base = self._options["path"].strip("/")
        # What the file keeps under another top-level variable (pending sign-ins) lives in a folder below path.
        if key != DEFAULT_KEY:
            self._base = f"{self._base}/{key}" if self._base else key
        self._key = key
        self.path = f"{self._options['url']}/v1/{self._mount}/{self._base}"
        self._local = threading.local()
        self._versions: dict[str, int] = {}
        self._records: dict[str, dict | None] = {}
        self._token = None
        self._login = threading.Lock()
        self._checked = False
        _check_options(self._options)

    # What the callers use, as they use VaultConfigFile.

    def read(self, names: Iterable[str] | None = None) -> dict[str, dict]:
        """The stored connections (those named, or all under path), as plain data; versions are remembered."""
        self._preflight()
        if names is None:
            names = self._list()
        names = list(names)
        with self._pool() as pool:
            found = dict(zip(names, pool.map(self._read_one, names)))
        return {name: record for name, (record, dummy) in found.items() if record is not None}

    def check_writable(self) -> None:
        """Refuse now a token whose policy cannot write: the capabilities of the path are asked of the server."""
        self._preflight()
        probe = f"{self._mount}/data/{self._base}/*" if self._base else f"{self._mount}/data/*"
        try:
            answer = self._client().sys.get_capabilities(paths=[probe])
        except Exception as exc:
            raise self._error(exc, "ask the token's capabilities on") from None
        capabilities = set(answer.get(probe) or (answer.get("data") or {}).get(probe) or answer.get("capabilities") or ())
        if "root" in capabilities:
            return
        missing = [need for need in ("create", "update") if need not in capabilities]
        if missing:
            raise StoreError(
                f"the token's policy does not allow {' or '.join(missing)} on {self._mount}/{self._base}, so no token "
                f"was refreshed (a rotated token could not be stored): grant {LEAST_PRIVILEGE}.",
                "store_denied",
            )

    def update(
        self,
        updates: Mapping[str, Mapping[str, object]],
        removals: Iterable[str] = (),
        *,
        expect: Mapping[str, Mapping[str, object]] | None = None,
        check_mode: bool = False,
        backup: bool = False,
        diff: bool = False,
        hidden: Iterable[str] = (),
    ) -> Outcome:
        """As VaultConfigFile.update, one check-and-set write per changed connection; backup does not apply."""
        removals, expect = checked_update(updates, removals, expect)
        self._preflight()
        work = [(name, updates.get(name), name in removals) for name in [*updates, *removals]]
        with self._pool() as pool:
            done = list(pool.map(lambda item: self._update_one(*item, expect.get(item[0]), check_mode), work))
        written = {name: fields for name, fields, dummy, dummy, dummy in done if fields is not None}
        changes = reported(written, hidden)
        skipped = sorted(name for name, dummy, skip, dummy, dummy in done if skip)
        diffs = []
        if diff and changes:
            before = {name: old for name, dummy, dummy, old, dummy in done if old is not None}
            after = {name: new for name, dummy, dummy, dummy, new in done if new is not None}
            diffs.append(masked_diff(self.path, self._key, before, after, changes, self._secret_fields, hidden))
        return Outcome(bool(changes), changes, None, diffs, skipped, [])

    # One connection.

    def _update_one(self, name, values, remove, expected, check_mode):
        """(name, changed fields or None, skipped, record before, record after)."""
        for dummy in range(CAS_ATTEMPTS):
            record, version = self._current(name)
            before = {} if record is None else {name: record}
            if expected is not None and unmet(before, {name: expected}):
                return name, None, True, record, record
            if remove:
                if record is None:
                    return name, None, False, None, None
                if not check_mode:
                    self._call("delete", name, lambda: self._kv().delete_metadata_and_all_versions(
                        self._secret_path(name), mount_point=self._mount))
                return name, sorted(record), False, record, None
            after, changes = merge(before, {name: dict(values or {})})
            if name not in changes:
                return name, None, False, record, record
            if check_mode:
                return name, changes[name], False, record, after[name]
            if self._write(name, after[name], version):
                return name, changes[name], False, record, after[name]
            self._versions.pop(name, None)  # written meanwhile by another: read again, decide again
        raise StoreError(
            f"{self.path}/{name} kept changing while it was written ({CAS_ATTEMPTS} tries), so it was not written: "
            "run again once the other writers are done.",
            "store_unavailable",
        )

    def _current(self, name: str) -> tuple[dict | None, int]:
        if name in self._versions:
            return self._records[name], self._versions[name]
        return self._read_one(name)

    def _read_one(self, name: str) -> tuple[dict | None, int]:
        try:
            answer = self._kv().read_secret_version(self._secret_path(name), mount_point=self._mount, raise_on_deleted_version=True)
        except Exception as exc:
            if HAS_HVAC and isinstance(exc, hvac.exceptions.InvalidPath):
                record, version = None, 0
            else:
                raise self._error(exc, "read", name) from None
        else:
            record = answer["data"]["data"]
            version = answer["data"]["metadata"]["version"]
            if not isinstance(record, dict):
                raise VaultConfigError(f"{self.path}/{name} does not hold a mapping of fields")
        self._records[name], self._versions[name] = record, version
        return record, version

    def _write(self, name: str, record: dict, version: int) -> bool:
        """Whether the write landed; False when the secret is no longer at ``version``."""
        try:
            answer = self._kv().create_or_update_secret(self._secret_path(name), secret=record, cas=version, mount_point=self._mount)
        except Exception as exc:
            if HAS_HVAC and isinstance(exc, hvac.exceptions.InvalidRequest) and "check-and-set" in str(exc):
                return False
            raise self._error(exc, "write", name) from None
        self._records[name], self._versions[name] = record, answer["data"]["version"]
        return True

    def _list(self) -> list[str]:
        try:
            answer = self._kv().list_secrets(self._base, mount_point=self._mount)
        except Exception as exc:
            if HAS_HVAC and isinstance(exc, hvac.exceptions.InvalidPath):
                return []
            raise self._error(exc, "list") from None
        # A key ending in / is a folder below path, not a connection.
        return [key for key in answer["data"]["keys"] if not key.endswith("/")]

    def _call(self, verb: str, name: str, request: t.Callable[[], t.Any]) -> t.Any:
        try:
            return request()
        except Exception as exc:
            raise self._error(exc, verb, name) from None

    # The server.

    def _preflight(self) -> None:
        """The mount must be KV version 2: a version 1 engine would take our writes as secrets named data/..."""
        if self._checked:
            return
        try:
            answer = self._client().adapter.get(f"/v1/sys/internal/ui/mounts/{self._mount}/{self._base}")
        except Exception as exc:
            if HAS_HVAC and isinstance(exc, hvac.exceptions.Forbidden) and "preflight" in str(exc):
                raise StoreError(
                    f"{self._mount}/ on {self._options['url']} is no secrets engine the token may use: enable KV "
                    f"version 2 there (`bao secrets enable -path={self._mount} kv-v2`), or correct "
                    "hashi_vault.mount_point, or grant the token's policy " + LEAST_PRIVILEGE + ".",
                    "store_invalid",
                ) from None
            raise self._error(exc, "open") from None
        data = (answer or {}).get("data") or {}
        version = str((data.get("options") or {}).get("version") or "1")
        if data.get("type") not in ("kv", "generic") or version != "2":
            found = f"{data.get('type')} version {version}" if data.get("type") in ("kv", "generic") else str(data.get("type"))
            raise StoreError(
                f"{self._mount}/ on {self._options['url']} is a {found} secrets engine, not KV version 2, which the "
                "check-and-set writes need: choose a KV version 2 mount with hashi_vault.mount_point, or upgrade this one "
                f"(`bao kv enable-versioning {self._mount}`).",
                "store_invalid",
            )
        self._checked = True

    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            options = self._options
            client = hvac.Client(
                url=options["url"],
                namespace=options["namespace"] or None,
                verify=self._verify(),
                timeout=options["timeout"],
                session=self._session(),
            )
            client.token = self._auth_token(client)
            self._local.client = client
        return client

    def _verify(self):
        if self._options["ca_path"]:
            return self._options["ca_path"]
        if not self._options["validate_certs"]:
            return False
        # What requests would take from the environment per request (see _session), taken once.
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True

    def _session(self):
        # By default requests reads the environment again for every request (proxies, ~/.netrc, the CA bundle),
        # which costs more client CPU than the request itself with thousands of connections; the proxies and the
        # CA bundle are taken from it once instead.
        session = requests.Session()
        session.trust_env = False
        session.proxies = requests.utils.get_environ_proxies(self._options["url"])
        return session

    def _kv(self):
        return self._client().secrets.kv.v2

    def _auth_token(self, client) -> str:
        with self._login:
            return self._token or self._log_in(client)

    def _log_in(self, client) -> str:
        options = self._options
        if options["auth_method"] == "token":
            self._token = options["token"]
        else:
            try:
                answer = client.auth.approle.login(role_id=options["role_id"], secret_id=options["secret_id"])
            except Exception as exc:
                raise self._error(exc, "log in with AppRole to") from None
            self._token = answer["auth"]["client_token"]
        return self._token

    def _pool(self):
        return concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS)

    def _secret_path(self, name: str) -> str:
        return f"{self._base}/{name}" if self._base else name

    def _error(self, exc: Exception, verb: str, name: str | None = None) -> StoreError:
        where = f"{self._mount}/{self._secret_path(name)}" if name else f"{self._mount}/{self._base}"
        url = self._options["url"]
        if isinstance(exc, StoreError):
            return exc
        if HAS_HVAC and isinstance(exc, requests.exceptions.RequestException):
            return StoreError(
                f"could not {verb} {where}: OpenBao/Vault at {url} did not answer ({type(exc).__name__}); start it or "
                "correct hashi_vault.url, then run again.",
                "store_unavailable",
            )
        if HAS_HVAC and isinstance(exc, hvac.exceptions.VaultDown):
            return StoreError(
                f"could not {verb} {where}: OpenBao/Vault at {url} is sealed; unseal it (`bao operator unseal`), then run again.",
                "store_unavailable",
            )
        if HAS_HVAC and isinstance(exc, (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized)):
            return StoreError(
                f"could not {verb} {where}: permission denied. Check that hashi_vault.token (or the AppRole login) is "
                f"valid, and grant its policy {LEAST_PRIVILEGE}.",
                "store_denied",
            )
        if HAS_HVAC and isinstance(exc, hvac.exceptions.VaultError):
            return StoreError(f"could not {verb} {where}: OpenBao/Vault answered {type(exc).__name__}.", "store_unavailable")
        # Any other text may quote what it choked on, and that may be a secret.
        return StoreError(f"could not {verb} {where}: unexpected {type(exc).__name__}.", "store_unavailable")


def _check_options(options: Mapping[str, t.Any]) -> None:
    if not options.get("url"):
        raise StoreError("hashi_vault.url is not set: give the address of OpenBao/Vault, or set VAULT_ADDR.", "store_invalid")
    if not options["url"].startswith(("https://", "http://")):
        raise StoreError(f"hashi_vault.url must start with https:// or http://, not {options['url']!r}.", "store_invalid")
    if options["auth_method"] == "token" and not options.get("token"):
        raise StoreError("hashi_vault.token is not set: give a token, or set VAULT_TOKEN, or use auth_method approle.", "store_invalid")
    if options["auth_method"] == "approle" and not (options.get("role_id") and options.get("secret_id")):
        raise StoreError("hashi_vault.auth_method approle needs hashi_vault.role_id and hashi_vault.secret_id.", "store_invalid")
    if not options["mount_point"].strip("/"):
        raise StoreError("hashi_vault.mount_point is empty: name the KV version 2 mount, such as secret.", "store_invalid")
