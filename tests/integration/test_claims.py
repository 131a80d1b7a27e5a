"""Claims keep overlapping rotations from redeeming one refresh token twice, in both stores.

Separate ansible-playbook processes run the rotate playbook at the same time against the emulator in strict
mode (a rotated-out refresh token that comes back revokes the whole grant, as RFC 9700 section 4.14.2 allows)
with added latency, so that their requests overlap.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import socket
import threading
import time
import urllib.parse

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from openbao import ROOT_TOKEN
from test_nothing_lost import COLLECTION_PLAYBOOKS, PUBLIC_APP, SCOPES, Launcher, kill_tree, refresh_tokens, works

PASSWORD = "claims test password"
OLD = "2020-01-01T00:00:00Z"
USERS = ("adele@contoso.onmicrosoft.com", "alex@fabrikam.onmicrosoft.com")
NAMES = tuple(f"robot{number}" for number in range(1, 6))
# Long enough for a whole ansible-playbook run on a busy machine to start and end within it.
LEASE = 12


class FileStore:
    def __init__(self, folder):
        self.path = folder / "vault.yml"
        self.password_file = folder / "password"
        self.password_file.write_text(PASSWORD + "\n")
        self._lib = VaultLib([("default", VaultSecret(PASSWORD.encode()))])

    def write(self, connections):
        self.path.write_bytes(self._lib.encrypt(yaml.safe_dump({"onedrive_connections": connections})))

    def read(self):
        return yaml.safe_load(self._lib.decrypt(self.path.read_bytes()))["onedrive_connections"]

    def options(self, **extra_vars):
        return dict(extra_vars=dict(onedrive_vault_file=str(self.path), **extra_vars), vault_password_file=self.password_file)


class BaoStore:
    def __init__(self, openbao):
        self._openbao = openbao
        self.path = openbao.new_path()

    def write(self, connections):
        self._openbao.write(self.path, connections)

    def read(self):
        return self._openbao.read(self.path)

    def options(self, **extra_vars):
        hashi = dict(url=self._openbao.url, path=self.path)
        # The token comes from the environment, as in a pipeline.
        return dict(
            extra_vars=dict(onedrive_store="hashi_vault", onedrive_hashi_vault=hashi, **extra_vars),
            env={"VAULT_TOKEN": ROOT_TOKEN},
        )


@pytest.fixture(params=["ansible_vault", "hashi_vault"])
def store(request, tmp_path):
    if request.param == "hashi_vault":
        return BaoStore(request.getfixturevalue("openbao"))
    return FileStore(tmp_path)


def rotate_options(store, emulator, **extra_vars):
    return store.options(
        onedrive_login_url=emulator.base_url,
        onedrive_graph_url=emulator.base_url,
        onedrive_ca_path=str(emulator.ca_path),
        onedrive_rotate_after="1d",
        **extra_vars,
    )


def seed(store, emulator) -> dict:
    connections = {}
    for index, name in enumerate(NAMES):
        token = emulator.grant(PUBLIC_APP, USERS[index % 2], SCOPES)["refresh_token"]
        connections[name] = {"client_id": PUBLIC_APP, "refresh_token": token, "obtained_at": OLD}
    store.write(connections)
    return connections


def make_due(store) -> None:
    """As if a day had passed: every connection is due again (a write of time stamps, no token)."""
    store.write({name: {**record, "rotated_at": OLD} for name, record in store.read().items()})


def run_together(launchers, options):
    with concurrent.futures.ThreadPoolExecutor(len(launchers)) as pool:
        runs = [pool.submit(launcher, COLLECTION_PLAYBOOKS / "rotate.yml", **options) for launcher in launchers]
        return [run.result() for run in runs]


def assert_no_secret(emulator, runs):
    issued = [*emulator.issued(), ROOT_TOKEN]
    for run in runs:
        shown = run.output + json.dumps(run.tasks)
        assert not [secret for secret in issued if secret in shown], "a secret in the output"


@pytest.mark.slow
def test_two_then_ten_overlapping_rotations_redeem_each_connection_once_and_all_keep_working(emulator, store, tmp_path):
    seed(store, emulator)
    emulator.strict(True)
    emulator.latency(0.05)
    options = rotate_options(store, emulator)
    for count in (2, 10):
        make_due(store)
        before = len(emulator.issued())
        runs = run_together([Launcher(tmp_path / f"{count}-{index}") for index in range(count)], options)
        assert [run.rc for run in runs] == [0] * count, [run.output for run in runs if run.rc]
        redeemed = refresh_tokens(emulator.issued()[before:])
        assert len(redeemed) == len(NAMES), f"{count} runs: each connection redeemed once"
        stored = store.read()
        assert sorted(record["refresh_token"] for record in stored.values()) == sorted(redeemed)
        assert not any("claim" in record for record in stored.values())
        statuses = [run.task("Rotate the tokens that are due, and store them")["statuses"] for run in runs]
        assert sorted(name for status in statuses for name in status["rotated"]) == sorted(NAMES)
        assert all(not status["failed"] for status in statuses)
        assert_no_secret(emulator, runs)
    emulator.latency(0)
    assert all(works(emulator, record["refresh_token"]) for record in store.read().values())


@pytest.mark.slow
def test_a_run_killed_while_holding_claims_is_taken_over_after_the_lease(emulator, store, tmp_path):
    """Microsoft keeps a rotated-out refresh token valid, so whatever the killed run redeemed, the stored token
    still works; the claims it left keep other runs off until the lease ends, and then the next run takes over."""
    original = seed(store, emulator)
    options = rotate_options(store, emulator, onedrive_claim_lease=f"{LEASE}s")
    emulator.fault("token", "delay", delay=3, count=len(NAMES))
    killed, folder = Launcher(tmp_path / "killed").start(COLLECTION_PLAYBOOKS / "rotate.yml", **options)
    deadline = time.monotonic() + 60
    while not all("claim" in record for record in store.read().values()):
        assert killed.poll() is None and time.monotonic() < deadline, "the run ended without claiming"
        time.sleep(0.05)
    kill_tree(killed)
    claimed_at = time.monotonic()
    held = store.read()
    assert [record["refresh_token"] for record in held.values()] == [record["refresh_token"] for record in original.values()]

    time.sleep(3.5)  # the killed run's delayed token requests are answered (to no one) meanwhile
    emulator.clear_log()
    early = Launcher(tmp_path / "early")(COLLECTION_PLAYBOOKS / "rotate.yml", **options)
    assert time.monotonic() - claimed_at < LEASE, "the lease ended before the early run did: raise LEASE"
    result = early.task("Rotate the tokens that are due, and store them")
    assert early.rc == 0 and result["statuses"]["claimed"] == list(NAMES), early.output
    assert not emulator.log()["counts"].get("token")

    time.sleep(max(0.0, LEASE + 1 - (time.monotonic() - claimed_at)))
    late = Launcher(tmp_path / "late")(COLLECTION_PLAYBOOKS / "rotate.yml", **options)
    assert late.rc == 0, late.output
    result = late.task("Rotate the tokens that are due, and store them")
    assert result["statuses"]["rotated"] == list(NAMES), result["statuses"]
    after = store.read()
    assert not any("claim" in record for record in after.values())
    assert all(works(emulator, record["refresh_token"]) for record in after.values())
    assert_no_secret(emulator, [early, late])


class HoldingProxy:
    """A TCP relay to the emulator that, while holding, takes connections and forwards nothing: the requests a
    run sends then never reach the service, as when a network fails before they arrive."""

    def __init__(self, target_url: str):
        self._target = urllib.parse.urlsplit(target_url).port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}"
        self.holding = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, dummy = self._listener.accept()
            except OSError:
                return
            if self.holding.is_set():
                self.held.append(client)
                continue
            upstream = socket.create_connection(("127.0.0.1", self._target))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def drop_held(self) -> None:
        for connection in self.held:
            connection.close()
        self.held.clear()
        self.holding.clear()

    def close(self) -> None:
        self.drop_held()
        self._listener.close()


@pytest.mark.slow
def test_a_run_killed_before_its_refreshes_arrive_loses_nothing_on_a_strict_server(emulator, store, tmp_path):
    """With a server that revokes the grant when a rotated-out token comes back, a run killed while it holds its
    claims and before its refreshes reach the service leaves every stored token good: the claims keep the next
    run off until the lease ends, and then the next run takes over and rotates every connection."""
    seed(store, emulator)
    emulator.strict(True)
    proxy = HoldingProxy(emulator.base_url)
    try:
        options = rotate_options(store, emulator, onedrive_claim_lease=f"{LEASE}s")
        options["extra_vars"]["onedrive_login_url"] = proxy.url
        proxy.holding.set()
        emulator.clear_log()
        killed, folder = Launcher(tmp_path / "killed").start(COLLECTION_PLAYBOOKS / "rotate.yml", **options)
        deadline = time.monotonic() + 60
        while not (proxy.held and all("claim" in record for record in store.read().values())):
            assert killed.poll() is None and time.monotonic() < deadline, "the run ended without claiming"
            time.sleep(0.05)
        time.sleep(0.5)  # the other refreshes of the run connect meanwhile, and are held too
        kill_tree(killed)
        claimed_at = time.monotonic()
        proxy.drop_held()
        assert not emulator.log()["counts"].get("token"), "no refresh reached the service"

        early = Launcher(tmp_path / "early")(COLLECTION_PLAYBOOKS / "rotate.yml", **options)
        assert time.monotonic() - claimed_at < LEASE, "the lease ended before the early run did: raise LEASE"
        assert early.task("Rotate the tokens that are due, and store them")["statuses"]["claimed"] == list(NAMES)
        assert not emulator.log()["counts"].get("token")

        time.sleep(max(0.0, LEASE + 1 - (time.monotonic() - claimed_at)))
        late = Launcher(tmp_path / "late")(COLLECTION_PLAYBOOKS / "rotate.yml", **options)
        assert late.rc == 0, late.output
        assert late.task("Rotate the tokens that are due, and store them")["statuses"]["rotated"] == list(NAMES)
    finally:
        proxy.close()
    after = store.read()
    assert not any("claim" in record for record in after.values())
    assert all(works(emulator, record["refresh_token"]) for record in after.values())
    assert_no_secret(emulator, [early, late])
