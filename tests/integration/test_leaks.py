"""Secrets: every playbook under tests/integration/playbooks, run once at -vvvv with --diff, shows no code, token,
verifier, secret or password, neither in its output nor in the folders Ansible used for temporary files.

(The collection's own playbooks get the same search in test_role_secrets.py.)
"""

from __future__ import annotations

import concurrent.futures
import json
import pathlib
import socket
import threading

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from runner import Runner

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / "playbooks"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
CONFIDENTIAL_APP = "8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22"
CONFIDENTIAL_SECRET = "emu-secret-8c2a9f4e-value"
ADELE = "adele@contoso.onmicrosoft.com"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
PASSWORD = "leak test vault password"
FIRST_SERIAL = 7_340_001  # rewrite_loop.yml stores token-<serial> for 400 serials from here


class Scenarios:
    """What each playbook is given: real grants from the emulator, vaults of the test's own. ``given`` collects
    the secrets the test made up itself; the emulator records every secret it issued or received."""

    def __init__(self, emulator, folder: pathlib.Path, openbao=None):
        self._emulator = emulator
        self._openbao = openbao
        self._folder = folder
        self._vault = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
        self.password_file = folder / "vault-password"
        self.password_file.write_text(PASSWORD + "\n")
        self.given = {PASSWORD} | {f"token-{serial}" for serial in range(FIRST_SERIAL, FIRST_SERIAL + 400)}
        self.sign_in = None

    def options(self, playbook: str) -> dict:
        """The run options for one playbook (its path below PLAYBOOKS)."""
        return getattr(self, playbook.removesuffix(".yml").replace("/", "__"))()

    # --- helpers ---

    def _endpoints(self, **variables) -> dict:
        url = self._emulator.base_url
        return {"emulator_url": url, "login_url": url, "graph_url": url, "ca_path": str(self._emulator.ca_path), **variables}

    def _refresh_token(self, client_id=PUBLIC_APP) -> str:
        return self._emulator.grant(client_id, ADELE, SCOPES)["refresh_token"]

    def _vaulted(self, name: str, connections: dict, secret=None) -> pathlib.Path:
        path = self._folder / f"{name}.yml"
        path.write_bytes(self._vault.encrypt(yaml.safe_dump({"onedrive_connections": connections}), secret))
        return path

    def _with_vault(self, **extra_vars) -> dict:
        return dict(extra_vars=extra_vars, vault_password_file=self.password_file)

    def _made_up(self, secret: str) -> str:
        self.given.add(secret)
        return secret

    # --- one method per playbook ---

    def authorize_url__clouds(self):
        return {}

    def authorize_url__sign_in_url(self):
        handover = self._folder / "sign-in.json"
        self.sign_in = handover
        return dict(extra_vars=dict(client_id=CONFIDENTIAL_APP, login_url=self._emulator.base_url, handover=str(handover)))

    def redeem_code__redeem(self):
        """Redeems what the sign_in_url scenario's sign-in returned, as the confidential app."""
        sign_in = json.loads(self.sign_in.read_text())
        self.given.add(sign_in["code_verifier"])
        answer = self._emulator.sign_in(sign_in["url"], ADELE)
        return dict(extra_vars=self._endpoints(
            client_id=CONFIDENTIAL_APP, client_secret=CONFIDENTIAL_SECRET, response_url=answer, state=sign_in["state"],
            code_verifier=sign_in["code_verifier"], token_file=str(self._folder / "redeemed.json"),
        ))

    def _when_handed_over(self, name: str, act) -> None:
        """Runs ``act(text)`` in the background once the playbook wrote the file ``name`` (a user code, a URL)."""
        handover = self._folder / name

        def wait():
            for _ in range(1200):
                if handover.exists() and handover.read_text():
                    act(handover.read_text())
                    return
                threading.Event().wait(0.1)

        threading.Thread(target=wait, daemon=True).start()

    def device_code__sign_in(self):
        """A device-code sign-in: Adele types the code on /devicelogin while the playbook polls."""
        self._emulator.device_answer(interval=1)
        self._when_handed_over("user-code", lambda user_code: self._emulator.device_sign_in(user_code, ADELE))
        return dict(extra_vars=self._endpoints(
            client_id=PUBLIC_APP, emulator_url=self._emulator.base_url, handover=str(self._folder / "user-code"),
            token_file=str(self._folder / "device-tokens.json"),
        ))

    def app_registration__app_registration(self):
        """An administrator's delegated token registers the app, with the consent for its users."""
        from test_app_registration import ADMIN, GRAPH_CLI

        scopes = ["Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"]
        token = self._emulator.grant(GRAPH_CLI, ADMIN, scopes)["access_token"]
        return dict(extra_vars=self._endpoints(access_token=token, unique_name="leak-test-app", grant_admin_consent=True))

    def receive_redirect__loopback(self):
        """A loopback sign-in: the browser brings the response to the playbook's listener."""
        from test_receive_redirect import free_port, get

        self._when_handed_over("loopback-url", lambda url: get(self._emulator.sign_in(url, ADELE)))
        return dict(extra_vars=self._endpoints(
            client_id=PUBLIC_APP, emulator_url=self._emulator.base_url, handover=str(self._folder / "loopback-url"),
            redirect_uri=f"http://localhost:{free_port()}/",
        ))

    def verify__verify(self):
        return dict(extra_vars=self._endpoints(
            client_id=CONFIDENTIAL_APP, client_secret=CONFIDENTIAL_SECRET, refresh_token=self._refresh_token(CONFIDENTIAL_APP)
        ))

    def verify__strict_rotation(self):
        # In the emulator's default mode, since strict mode would reach every scenario running meanwhile.
        return dict(extra_vars=self._endpoints(client_id=PUBLIC_APP, refresh_token=self._refresh_token()))

    def bad_input__bad_input(self):
        # Its cases reach no server, so the emulator saw nothing of it (-v shows its made-up code in loop items).
        return dict(extra_vars=dict(client_id=PUBLIC_APP))

    def faults__verify(self):
        # A failure after the refresh: Graph refuses connections, so the run holds a new token and an error.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            nowhere = f"https://127.0.0.1:{probe.getsockname()[1]}"
        return dict(extra_vars=self._endpoints(
            client_id=PUBLIC_APP, refresh_token=self._refresh_token(), graph_url=nowhere, timeout=5, max_retry_wait=1
        ))

    def rotate_tokens__rotate_and_store(self):
        connections = {name: {"client_id": PUBLIC_APP, "refresh_token": self._refresh_token()} for name in ("one", "two")}
        return self._with_vault(**self._endpoints(vault_path=str(self._vaulted("rotate", connections))))

    def rotate_tokens__rotate_vault(self):
        connections = {name: {"client_id": PUBLIC_APP, "refresh_token": self._refresh_token()} for name in ("one", "two")}
        return self._with_vault(**self._endpoints(vault_path=str(self._vaulted("rotate-vault", connections))))

    def store__hashi_vault(self):
        """vault_config writes two connections to OpenBao, then rotate_tokens rotates them there."""
        from openbao import ROOT_TOKEN

        self.given.add(ROOT_TOKEN)
        seed = {name: {"client_id": PUBLIC_APP, "refresh_token": self._refresh_token()} for name in ("one", "two")}
        return dict(extra_vars=self._endpoints(hashi=self._openbao.options(self._openbao.new_path()), seed=seed))

    def security_rotation__rotate(self):
        # One connection whose stored access token HTTP cannot carry fails alone; the other rotates and is stored.
        connections = {
            "fine": {"client_id": PUBLIC_APP, "refresh_token": self._refresh_token()},
            "odd": {"client_id": PUBLIC_APP, "refresh_token": self._refresh_token(),
                    "access_token": self._made_up("acc\u2019ess-leak-test"), "rotated_at": "2999-01-01T00:00:00Z"},
        }
        return self._with_vault(**self._endpoints(
            vault_path=str(self._vaulted("security-rotation", connections)), connections=connections
        ))

    def vault_config__write(self):
        values = {"client_id": PUBLIC_APP, "refresh_token": self._refresh_token(),
                  "client_secret": self._made_up("cs~leak-test-client-SECRET")}
        path = self._vaulted("write", {"robot": {"client_id": PUBLIC_APP, "refresh_token": self._refresh_token()}})
        return self._with_vault(vault_path=str(path), vc_connection="robot", vc_values=values)

    def vault_config__load(self):
        connections = {"robot": {"client_id": PUBLIC_APP, "refresh_token": self._refresh_token()}}
        return self._with_vault(vault_path=str(self._vaulted("load", connections)), expected=connections)

    def vault_config__refusals(self):
        unreadable = self._vaulted(
            "wrong-password", {"robot": {"refresh_token": self._refresh_token()}}, VaultSecret(b"another password")
        )
        damaged = self._folder / "damaged.yml"
        damaged.write_bytes(self._vaulted("damaged", {"robot": {"refresh_token": self._refresh_token()}}).read_bytes()[:-40])
        return self._with_vault(refused_paths=[str(unreadable), str(damaged)], new_token=self._refresh_token())

    def vault_config__rewrite_loop(self):
        return self._with_vault(vault_path=str(self._folder / "rewritten.yml"), first_serial=FIRST_SERIAL)

    def vault_config__store_issued_token(self):
        token_file = self._folder / "issued.yml"
        ciphertext = self._vault.encrypt(self._refresh_token()).decode()
        token_file.write_text("issued_refresh_token: !vault |\n" + "".join(f"  {line}\n" for line in ciphertext.splitlines()))
        return self._with_vault(
            vault_path=str(self._folder / "issued-store.yml"), token_file=str(token_file),
            given_client_secret=self._made_up("cs~leak-test-given-SECRET"),
        )


def shown(run) -> str:
    """The run's output and every file left in the folders Ansible used (temporary files, ANSIBLE_HOME)."""
    texts = [run.output]
    for folder in (run.tmp_dir, run.tmp_dir.parent / "ansible-home"):
        texts += [path.read_text(errors="replace") for path in folder.rglob("*") if path.is_file()]
    return "\n".join(texts)


@pytest.mark.slow
def test_every_integration_playbook_shows_no_secret_at_vvvv(emulator, openbao, tmp_path):
    scenarios = Scenarios(emulator, tmp_path, openbao)
    playbooks = sorted(str(path.relative_to(PLAYBOOKS)) for path in PLAYBOOKS.rglob("*.yml"))
    missing = [name for name in playbooks if not hasattr(scenarios, name.removesuffix(".yml").replace("/", "__"))]
    assert not missing, f"add a scenario to Scenarios in {pathlib.Path(__file__).name} for {missing}"

    def run(playbook):
        runner = Runner(tmp_path / playbook.replace("/", "-"))
        return runner(PLAYBOOKS / playbook, verbosity=4, diff=True, **scenarios.options(playbook))

    # The redeem scenario signs in with what sign_in_url handed over; the longest run starts first.
    first = "authorize_url/sign_in_url.yml"
    runs = {first: run(first)}
    rest = sorted(set(playbooks) - {first}, key=lambda name: name != "vault_config/rewrite_loop.yml")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs.update(zip(rest, pool.map(run, rest)))

    for playbook, result in runs.items():
        assert result.rc == 0 and result.tasks, (playbook, result.output[-3000:])
        assert "Traceback" not in result.output, playbook
    assert (tmp_path / "redeemed.json").exists(), "the redeem scenario redeemed its code"
    assert (tmp_path / "device-tokens.json").exists(), "the device code scenario got its tokens"
    assert runs["receive_redirect/loopback.yml"].task("Report")["msg"]["redeemed"]["changed"], "the loopback one too"
    issued = emulator.issued()
    assert len(issued) > 30, "the scenarios had codes, tokens and verifiers issued and received"
    secrets = set(issued) | scenarios.given
    leaks = {
        playbook: sorted(secret[:12] + "..." for secret in secrets if secret in text)
        for playbook, text in ((playbook, shown(result)) for playbook, result in runs.items())
    }
    assert not {playbook: found for playbook, found in leaks.items() if found}
