"""Nothing lost: rotations killed or run at the same time keep a whole vault holding a working, newest token,
and the roles leave a vault they cannot read untouched."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import pathlib
import random
import signal
import stat
import subprocess
import time

import pytest
import requests
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from runner import PlaybookResult, Runner

COLLECTION_PLAYBOOKS = pathlib.Path(__file__).resolve().parents[2] / "playbooks"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
ADELE = "adele@contoso.onmicrosoft.com"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
PASSWORD = "nothing lost vault password"
STORE_TASK = "Rotate the tokens that are due, and store them"


class Launcher(Runner):
    """A Runner whose runs start in a session of their own, so that a test can stop, resume or kill a run with
    every process it forked."""

    def start(self, playbook, **options) -> tuple[subprocess.Popen, pathlib.Path]:
        folder, command, env = self._prepare(playbook, **options)
        with open(folder / "output", "wb") as output:
            process = subprocess.Popen(
                command, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        return process, folder

    def finish(self, process: subprocess.Popen, folder: pathlib.Path) -> PlaybookResult:
        rc = process.wait(timeout=120)
        return self._result(folder, rc, (folder / "output").read_text(errors="replace"), "")


class Vault:
    """The vault of one connection, robot1, and the options a collection playbook needs to use it."""

    def __init__(self, folder: pathlib.Path, emulator):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "vault.yml"
        self.password_file = folder / "vault-password"
        self.password_file.write_text(PASSWORD + "\n")
        self._lib = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
        self._emulator = emulator

    def grant(self) -> str:
        """Stores robot1 with a new grant's refresh token, rotated long ago; returns the token."""
        token = self._emulator.grant(PUBLIC_APP, ADELE, SCOPES)["refresh_token"]
        record = {"client_id": PUBLIC_APP, "refresh_token": token, "obtained_at": "2020-01-01T00:00:00Z"}
        self.path.write_bytes(self._lib.encrypt(yaml.safe_dump({"onedrive_connections": {"robot1": record}})))
        return token

    def token(self) -> str:
        """The stored refresh token of robot1; decrypting fails the test if the file is not a whole vault."""
        return yaml.safe_load(self._lib.decrypt(self.path.read_bytes()))["onedrive_connections"]["robot1"]["refresh_token"]

    def options(self, **extra_vars) -> dict:
        extra_vars = dict(
            onedrive_client_id=PUBLIC_APP,
            onedrive_connection="robot1",
            onedrive_vault_file=str(self.path),
            onedrive_login_url=self._emulator.base_url,
            onedrive_graph_url=self._emulator.base_url,
            onedrive_ca_path=str(self._emulator.ca_path),
            **extra_vars,
        )
        return dict(extra_vars=extra_vars, vault_password_file=self.password_file)


def works(emulator, refresh_token: str) -> bool:
    """Whether the service still redeems the token (in the default mode, redeeming it again later works too)."""
    answer = requests.post(
        f"{emulator.base_url}/common/oauth2/v2.0/token",
        data={"client_id": PUBLIC_APP, "grant_type": "refresh_token", "refresh_token": refresh_token},
        verify=str(emulator.ca_path),
        timeout=30,
    )
    return answer.status_code == 200


def refresh_tokens(secrets: list[str]) -> list[str]:
    # The emulator's refresh tokens for work accounts start like Microsoft's (its access tokens are JWTs).
    return [secret for secret in secrets if secret.startswith("1.A")]


def wait_for_refresh(emulator, process: subprocess.Popen) -> None:
    """Returns once the emulator answered a token request (its log was cleared before the run started)."""
    deadline = time.monotonic() + 60
    while not emulator.log()["counts"].get("token"):
        assert process.poll() is None and time.monotonic() < deadline, "the run ended without redeeming a token"
        time.sleep(0.01)


# --- killed at random moments ---


def descendants(process: subprocess.Popen) -> list[int]:
    """Every process the run forked. Ansible's workers start sessions of their own (setsid), so signalling the
    run's process group alone would not reach the worker of the current task."""
    children = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(pathlib.Path(f"/proc/{entry}/stat").read_text(errors="replace").rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        children.setdefault(ppid, []).append(int(entry))
    tree, pending = [], [process.pid]
    while pending:
        found = children.get(pending.pop(), [])
        tree += found
        pending += found
    return tree


def signal_tree(process: subprocess.Popen, signum: int) -> None:
    for pid in [process.pid, *descendants(process)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL a run and everything it forked."""
    os.killpg(process.pid, signal.SIGSTOP)  # no new worker while the tree is read
    tree = descendants(process)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def last_write_after(process: subprocess.Popen, paths: list[pathlib.Path]) -> float:
    """Follows a run to its end; returns how many seconds after the call the last of paths changed."""

    def versions():
        return [path.stat().st_mtime_ns if path.exists() else None for path in paths]

    started, seen, last = time.monotonic(), versions(), 0.0
    while process.poll() is None:
        if (now := versions()) != seen:
            seen, last = now, time.monotonic() - started
        time.sleep(0.005)
    return last


# Per playbook: how many runs (the first completes, the others are killed), and its variables to rotate.
KILLED_RUNS = {
    "rotate": (10, dict(onedrive_rotate_force=True)),
    "configure_plugin": (7, dict(onedrive_rotate_after="0")),
}
# A killed run leaves its claim behind, which keeps the next run off the connection until it expires.
KILLED_LEASE = 2


@pytest.mark.slow
@pytest.mark.parametrize("playbook", sorted(KILLED_RUNS))
def test_a_rotation_killed_at_any_moment_keeps_a_whole_vault_with_a_working_token(emulator, tmp_path, playbook):
    """SIGKILL a rotating run, with every process it forked, at a random moment after the service rotated the
    token: the vault is whole and holds the old token, which still works, or the new one; the plugin's file is
    absent or whole, with a working token."""
    vault = Vault(tmp_path, emulator)
    stored = vault.grant()
    plugin_file = tmp_path / "plugin.json"
    runs, extra_vars = KILLED_RUNS[playbook]
    options = vault.options(
        **extra_vars, onedrive_plugin_config_path=str(plugin_file), onedrive_claim_lease=f"{KILLED_LEASE}s"
    )
    launcher = Launcher(tmp_path)
    rng = random.Random(playbook)
    window = None
    for attempt in range(runs):
        before = len(emulator.issued())
        emulator.clear_log()
        process, folder = launcher.start(COLLECTION_PLAYBOOKS / f"{playbook}.yml", **options)
        wait_for_refresh(emulator, process)
        if window is None:
            # The first run completes; kills then land from the refresh to a little past its last write.
            window = 1.5 * last_write_after(process, [vault.path, plugin_file])
            assert launcher.finish(process, folder).rc == 0
        else:
            time.sleep(rng.uniform(0, window))
            kill_tree(process)
            time.sleep(KILLED_LEASE + 0.5)

        rotated = refresh_tokens(emulator.issued()[before:])
        assert len(rotated) == 1, f"attempt {attempt}: one refresh per run"
        now_stored = vault.token()
        assert now_stored in (stored, rotated[0]), f"attempt {attempt}: the vault holds a token of this chain"
        assert works(emulator, now_stored), f"attempt {attempt}: the stored token works"
        if playbook == "configure_plugin" and plugin_file.exists():
            settings = json.loads(plugin_file.read_text())
            assert settings["client_id"] == PUBLIC_APP and works(emulator, settings["refresh_token"])
        stored = now_stored
    assert len(list(tmp_path.glob(".vault.yml.*.partial"))) <= 1, "a killed writer leaves at most its one temporary"


# --- rotations at the same time ---


def rotate_together(launchers, options) -> list[PlaybookResult]:
    with concurrent.futures.ThreadPoolExecutor(len(launchers)) as pool:
        runs = [pool.submit(launcher, COLLECTION_PLAYBOOKS / "rotate.yml", **options) for launcher in launchers]
        return [run.result() for run in runs]


@pytest.mark.slow
def test_rotations_of_one_connection_at_the_same_time_redeem_it_once_and_store_the_newest_token(emulator, tmp_path):
    vault = Vault(tmp_path, emulator)
    vault.grant()
    options = vault.options(onedrive_rotate_force=True)
    launchers = Launcher(tmp_path / "a"), Launcher(tmp_path / "b")

    for attempt in range(3):
        before = len(emulator.issued())
        runs = rotate_together(launchers, options)
        assert [run.rc for run in runs] == [0, 0], [run.output for run in runs]
        rotated = refresh_tokens(emulator.issued()[before:])
        claimed = [run.task(STORE_TASK)["statuses"]["claimed"] for run in runs]
        assert vault.token() == rotated[-1], f"attempt {attempt}"
        if len(rotated) == 1:
            # They overlapped: one claimed and redeemed, the other left the connection to it.
            assert sorted(claimed) == [[], ["robot1"]], f"attempt {attempt}"
        else:
            # One ended before the other read the vault, which then rotated on from the stored token.
            assert len(rotated) == 2 and claimed == [[], []], f"attempt {attempt}"
    assert works(emulator, vault.token())

    # A slow run: A redeems, then stalls before it stores (its Graph check answers late, and every process of
    # the run is stopped meanwhile). B finds A's claim and redeems nothing; A then stores its token.
    emulator.clear_log()
    before = len(emulator.issued())
    emulator.fault("batch", "delay", delay=2)
    slow, folder = launchers[0].start(COLLECTION_PLAYBOOKS / "rotate.yml", **options)
    wait_for_refresh(emulator, slow)
    signal_tree(slow, signal.SIGSTOP)
    try:
        fast = launchers[1](COLLECTION_PLAYBOOKS / "rotate.yml", **options)
    finally:
        signal_tree(slow, signal.SIGCONT)
    slow_run = launchers[0].finish(slow, folder)
    assert (fast.rc, slow_run.rc) == (0, 0), slow_run.output
    [redeemed] = refresh_tokens(emulator.issued()[before:])
    assert fast.task(STORE_TASK)["statuses"]["claimed"] == ["robot1"]
    assert "left to another run" in fast.output
    assert slow_run.task(STORE_TASK)["connections_skipped"] == []
    assert vault.token() == redeemed
    assert works(emulator, redeemed)


# --- unreadable vaults ---

UNDECRYPTABLE = (
    "{path} cannot be decrypted with the loaded vault secrets: a wrong password, a vault id that is not loaded, or "
    "damaged content (the file names vault id {label!r}; loaded: default)"
)
BAD_VAULTS = {
    "wrong_password": (
        lambda document: VaultLib().encrypt(document, VaultSecret(b"not the password")),
        UNDECRYPTABLE.format(path="{path}", label="default"),
    ),
    "other_vault_id": (
        lambda document: VaultLib().encrypt(document, VaultSecret(b"prod password"), vault_id="prod"),
        UNDECRYPTABLE.format(path="{path}", label="prod"),
    ),
    "corrupt": (
        lambda document: b"$ANSIBLE_VAULT;1.1;AES256\n" + document.encode().hex().encode() + b"zz\n",
        "{path} is damaged: it starts like an ansible-vault file but is not one",
    ),
}
ROLE_PLAYBOOKS = ("bootstrap", "rotate", "configure_plugin")


@pytest.mark.slow
def test_the_roles_leave_a_vault_they_cannot_read_untouched_and_say_why(emulator, tmp_path):
    secret = "1.AX-refresh-token-that-must-stay-SECRET"
    document = yaml.safe_dump({"onedrive_connections": {"robot1": {"client_id": PUBLIC_APP, "refresh_token": secret}}})
    cases = [(playbook, kind) for playbook in ROLE_PLAYBOOKS for kind in BAD_VAULTS]
    vaults = {}
    for playbook, kind in cases:
        vaults[playbook, kind] = Vault(tmp_path / playbook / kind, emulator)
        vaults[playbook, kind].path.write_bytes(BAD_VAULTS[kind][0](document))

    def snapshot(path):
        info = path.stat()
        return path.read_bytes(), info.st_mtime_ns, stat.S_IMODE(info.st_mode)

    def run(case):
        vault = vaults[case]
        options = vault.options(onedrive_plugin_config_path=str(vault.path.parent / "plugin.json"))
        return Runner(vault.path.parent)(COLLECTION_PLAYBOOKS / f"{case[0]}.yml", **options)

    before = {case: snapshot(vault.path) for case, vault in vaults.items()}
    emulator.clear_log()
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        runs = dict(zip(cases, pool.map(run, cases)))
    for (playbook, kind), result in runs.items():
        vault = vaults[playbook, kind]
        assert result.rc != 0, (playbook, kind)
        assert BAD_VAULTS[kind][1].format(path=vault.path) in result.output, (playbook, kind, result.output)
        assert "Traceback" not in result.output and secret not in result.output, (playbook, kind)
        assert snapshot(vault.path) == before[playbook, kind], (playbook, kind)
        assert sorted(path.name for path in vault.path.parent.iterdir() if not path.name.startswith("run")) == [
            "vault-password", "vault.yml"
        ], (playbook, kind)
    assert emulator.log()["counts"] == {}
