"""Vaulted connection files for the benchmark: seeded with real grants from the emulator, read back to check."""

from __future__ import annotations

import concurrent.futures
import datetime
import os
import threading
from pathlib import Path

import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

KEY = "onedrive_connections"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"  # the emulator's default public app
SCOPES = ["offline_access", "User.Read", "Files.Read"]
# Accounts whose refresh and Graph checks succeed: work (two tenants) and personal.
USERS = ("adele@contoso.onmicrosoft.com", "megan@outlook.com", "alex@fabrikam.onmicrosoft.com")
# Older than the rotate role's default onedrive_rotate_after (7d), so every seeded connection is due.
SEEDED_AGE = datetime.timedelta(days=8)


class Vault:
    def __init__(self, path: Path, password: str) -> None:
        self.path = path
        self._lib = VaultLib([("default", VaultSecret(password.encode()))])

    def seed(self, emulator, count: int) -> dict:
        """Store ``count`` connections as the bootstrap role would, each with its own grant; returns them."""
        connections = seed_connections(emulator, count)
        self.write(connections)
        return connections

    def write(self, connections: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = yaml.dump({KEY: connections}, Dumper=yaml.CSafeDumper, sort_keys=False)
        self.path.write_bytes(self._lib.encrypt(document))

    def read(self) -> dict:
        return yaml.load(self._lib.decrypt(self.path.read_bytes()), Loader=yaml.CSafeLoader).get(KEY, {})

    def folder_state(self) -> dict[str, tuple[int, int]]:
        """Every file beside the vault with its size and modification time, to show a run touched none."""
        return {entry.name: (entry.stat().st_size, entry.stat().st_mtime_ns) for entry in self.path.parent.iterdir()}


class WriteWatch(threading.Thread):
    """Counts the writes of a file while a run goes on: each replacement (a new inode) or rewrite (a new size or
    modification time) seen, polled every few milliseconds. The store's writes of a run are seconds apart."""

    def __init__(self, path: Path, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.interval = interval
        self.writes = 0
        self._done = threading.Event()
        self._last = self._state()

    def __enter__(self) -> WriteWatch:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self.join()
        self._look()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self._look()

    def _look(self) -> None:
        state = self._state()
        if state is not None and state != self._last:
            self.writes += 1
        self._last = state if state is not None else self._last

    def _state(self) -> tuple[int, int, int] | None:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return None  # between the removal and the rename of a replacement, if ever
        return status.st_ino, status.st_size, status.st_mtime_ns


def seed_connections(emulator, count: int) -> dict:
    """``count`` connections as the bootstrap role stores them, each with its own grant, every one due."""
    obtained_at = (datetime.datetime.now(datetime.timezone.utc) - SEEDED_AGE).strftime("%Y-%m-%dT%H:%M:%SZ")

    def connection(number: int) -> dict:
        user = USERS[number % len(USERS)]
        tokens = emulator.grant(PUBLIC_APP, user, SCOPES)
        return dict(
            client_id=PUBLIC_APP, tenant="common", cloud="public", scopes=SCOPES,
            refresh_token=tokens["refresh_token"], access_token=tokens["access_token"],
            user_principal_name=user, obtained_at=obtained_at,
        )

    # The control API makes one grant per call: a few at a time keeps seeding 1,000 short.
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        records = list(pool.map(connection, range(count)))
    return {f"robot{number:04d}": record for number, record in enumerate(records)}


def with_new_token(before: dict, after: dict) -> list[str]:
    """The connections whose stored refresh token is no longer the one they had before."""
    return [name for name, record in before.items()
            if after.get(name, {}).get("refresh_token") not in (None, record["refresh_token"])]
