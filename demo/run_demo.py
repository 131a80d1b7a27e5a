"""`make demo`: the whole job against the local emulator, with a scripted user at the keyboard.

The emulator stands in for login.microsoftonline.com and graph.microsoft.com. The scripted user opens
the sign-in URL the playbook prints, signs in on the emulator's pages as a browser would, and pastes
the address-bar URL at the playbook's prompt through a real terminal (a pty).

`make demo STORE=hashi_vault` keeps the connection in a real OpenBao dev server (started here) instead of
an ansible-vault file, as runs on several controllers or in throwaway job environments would.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
DEMO = REPO / "demo"
WORK = DEMO / "work"
BIN = pathlib.Path(sys.executable).parent
PASSWORD_FILE = DEMO / "vault-password.txt"
VAULT = WORK / "vault.yml"
PLUGIN_CONFIG = WORK / "onedrive-plugin.json"
CLIENT_ID = ""  # the app the demo registers first (register_app)
USER = "adele@contoso.onmicrosoft.com"
CONNECTION = "robot1"
AUTHORIZE_URL = re.compile(r"https://127\.0\.0\.1:\d+/[^\s\"']+/oauth2/v2\.0/authorize\?[^\s\"']+")
PROMPT = "Paste the address-bar URL"

sys.path.insert(0, str(REPO / "tests" / "emulator"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
from msemu.client import EmulatorClient  # noqa: E402  (the emulator is test tooling, not installed)
from msemu.process import EmulatorProcess  # noqa: E402
from msemu.terminal import ANSI, run_on_terminal  # noqa: E402


def echo(text: str) -> None:
    # Without the terminal's control sequences, which show as stray characters once the demo's output is a log.
    sys.stdout.write(ANSI.sub("", text))
    sys.stdout.flush()


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


class FileStore:
    """The connection in an ansible-vault encrypted file."""

    name = "ansible_vault"

    def options(self) -> list[str]:
        return ["--vault-password-file", str(PASSWORD_FILE), "-e", f"onedrive_vault_file={VAULT}"]

    def environment(self) -> dict:
        return {}

    def read(self) -> dict:
        view = subprocess.run(
            [str(BIN / "ansible-vault"), "view", "--vault-password-file", str(PASSWORD_FILE), str(VAULT)],
            env=environment(), capture_output=True, text=True, check=True,
        )
        return yaml.safe_load(view.stdout)["onedrive_connections"][CONNECTION]

    def where(self) -> str:
        return f"{VAULT} (ansible-vault encrypted; password in {PASSWORD_FILE.relative_to(REPO)})"


class BaoStore:
    """The connection in OpenBao (the open-source fork of HashiCorp Vault), a dev server of the demo's own."""

    name = "hashi_vault"
    path = "onedrive/connections"

    def __init__(self, server):
        self._server = server

    def options(self) -> list[str]:
        hashi = {"url": self._server.url, "path": self.path}
        return ["-e", "onedrive_store=hashi_vault", "-e", json.dumps({"onedrive_hashi_vault": hashi})]

    def environment(self) -> dict:
        # As a pipeline gives it: the token in the environment, never on the command line.
        from openbao import ROOT_TOKEN

        return {"VAULT_TOKEN": ROOT_TOKEN}

    def read(self) -> dict:
        return self._server.read(self.path)[CONNECTION]

    def where(self) -> str:
        return f"OpenBao {self._server.url}, secret/{self.path}/{CONNECTION} (KV version 2)"


STORE = FileStore()


def playbook_command(emulator: EmulatorClient, playbook: str, *extra: str) -> list[str]:
    return [
        str(BIN / "ansible-playbook"), str(REPO / "playbooks" / playbook),
        *STORE.options(),
        "-e", f"onedrive_connection={CONNECTION}",
        "-e", f"onedrive_client_id={CLIENT_ID}",
        "-e", f"onedrive_plugin_config_path={PLUGIN_CONFIG}",
        "-e", f"onedrive_login_url={emulator.base_url}",
        "-e", f"onedrive_graph_url={emulator.base_url}",
        "-e", f"onedrive_ca_path={emulator.ca_path}",
        *extra,
    ]


def environment() -> dict:
    return dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **STORE.environment(),
    )


def run(command: list[str]) -> int:
    """Run a playbook, show its output, and return how many tasks changed something."""
    proc = subprocess.run(command, env=environment(), capture_output=True, text=True, check=False)
    sys.stdout.write(proc.stdout + proc.stderr)
    if proc.returncode:
        sys.exit(f"Failed: {' '.join(command[:2])}")
    return changed_count(proc.stdout)


def changed_count(output: str) -> int:
    return sum(int(n) for n in re.findall(r"changed=(\d+)", output))


def bootstrap(emulator: EmulatorClient) -> None:
    say("1. Bootstrap: the playbook prints the sign-in URL and waits for the address bar")

    def sign_in_and_paste(output: str) -> str:
        url = AUTHORIZE_URL.findall(output)[-1]
        address_bar = emulator.sign_in(url, USER)
        print(f"\n   [the scripted user signed in as {USER} and pastes the address bar]", flush=True)
        return address_bar

    rc, _ = run_on_terminal(playbook_command(emulator, "bootstrap.yml"), environment(), PROMPT, sign_in_and_paste, echo)
    if rc:
        sys.exit("The bootstrap playbook failed.")


# The device-code message as the bootstrap role shows it: the address to open and the code to type there.
DEVICE_MESSAGE = re.compile(r"open the page (\S+) and enter the code (\w+)")


def bootstrap_device_code(emulator: EmulatorClient) -> None:
    say("1b. Bootstrap a second connection with a device code, the way for pipelines: nothing to paste, the"
        " playbook shows a code and waits")
    command = playbook_command(emulator, "bootstrap.yml", "-e", "onedrive_connection=robot2",
                               "-e", "onedrive_sign_in=device_code")
    proc = subprocess.Popen(command, env=environment(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    signed_in = False
    for line in proc.stdout:
        sys.stdout.write(line)
        shown = DEVICE_MESSAGE.search(line)
        if shown and not signed_in:
            emulator.device_sign_in(shown.group(2), USER)
            signed_in = True
            print(f"\n   [the scripted user opened {shown.group(1)} on another device, typed {shown.group(2)},"
                  f" signed in as {USER} and consented]\n", flush=True)
    if proc.wait() or not signed_in:
        sys.exit("The device-code bootstrap failed.")


APP_FILE = WORK / "app.yml"
ADMIN = "admin@contoso.onmicrosoft.com"


def register_app(emulator: EmulatorClient, title: str) -> int:
    """The register_app playbook, the emulator's administrator signing in at its device code; how many tasks changed.
    Sets CLIENT_ID to the registered app's, for the playbooks after it."""
    global CLIENT_ID
    say(title)
    command = [str(BIN / "ansible-playbook"), str(REPO / "playbooks" / "register_app.yml"),
               "-e", f"onedrive_login_url={emulator.base_url}", "-e", f"onedrive_graph_url={emulator.base_url}",
               "-e", f"onedrive_ca_path={emulator.ca_path}", "-e", f"onedrive_app_file={APP_FILE}"]
    proc = subprocess.Popen(command, env=environment(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    output, signed_in = [], False
    for line in proc.stdout:
        sys.stdout.write(line)
        output.append(line)
        shown = DEVICE_MESSAGE.search(line)
        if shown and not signed_in:
            emulator.device_sign_in(shown.group(2), ADMIN)
            signed_in = True
            print(f"\n   [the administrator opened {shown.group(1)}, typed {shown.group(2)}, signed in as {ADMIN}"
                  " and consented for the organization]\n", flush=True)
    if proc.wait() or not signed_in:
        sys.exit("The register_app playbook failed.")
    CLIENT_ID = yaml.safe_load(APP_FILE.read_text())["onedrive_client_id"]
    print(f"\n   The new app's client ID, {CLIENT_ID}, is in {APP_FILE} for the bootstrap.")
    return changed_count("".join(output))


def summary() -> None:
    connection = STORE.read()
    obtained = datetime.datetime.strptime(connection["obtained_at"], "%Y-%m-%dT%H:%M:%SZ")
    age = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - obtained
    say("Summary")
    print(f"   connection : {CONNECTION} (client {connection['client_id']})")
    print(f"   user       : {connection['user_principal_name']} ({connection['account_type']} account)")
    print(f"   drive      : {connection['drive_id']} ({connection['drive_type']})")
    print(f"   token age  : {int(age.total_seconds())} s (obtained {connection['obtained_at']})")
    print(f"   rotated    : {connection.get('rotated_at', 'never')}")
    print(f"   stored in  : {STORE.where()}")
    plugin = PLUGIN_CONFIG.read_text()
    for secret in (connection["refresh_token"], connection["access_token"]):
        plugin = plugin.replace(secret, secret[:6] + "...")
    mode = oct(PLUGIN_CONFIG.stat().st_mode & 0o777)
    print(f"                {PLUGIN_CONFIG} (mode {mode[2:]}, tokens shortened here):")
    print("                " + plugin.strip().replace("\n", "\n                "))
    assert json.loads(PLUGIN_CONFIG.read_text())["refresh_token"] == connection["refresh_token"]


def open_store(name: str, stack: contextlib.ExitStack) -> FileStore | BaoStore:
    if name == "ansible_vault":
        return FileStore()
    from openbao import OpenBao

    say("Starting OpenBao (bao server -dev): the connections' store, instead of an ansible-vault file")
    (WORK / "openbao").mkdir()
    server = stack.enter_context(OpenBao(WORK / "openbao"))
    print(f"   {server.url}, KV version 2 at secret/; the playbooks get VAULT_TOKEN from the environment")
    return BaoStore(server)


def main() -> None:
    global STORE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["ansible_vault", "hashi_vault"], default="ansible_vault")
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        STORE = open_store(args.store, stack)
        demo()


def demo() -> None:
    say("Starting the emulator of login.microsoftonline.com and graph.microsoft.com (HTTPS, own CA)")
    with EmulatorProcess(WORK / "emulator") as process:
        emulator = process.client
        print(f"   {emulator.base_url}, CA {emulator.ca_path}")
        register_app(emulator, "0. Register the app, from nothing: an administrator signs in with a device code and"
                               " the playbook makes the app registration through Graph")
        bootstrap(emulator)
        bootstrap_device_code(emulator)
        say("2. Configure the OneDrive plugin's connection from the store, with Test Connection")
        run(playbook_command(emulator, "configure_plugin.yml"))
        say("3. Rotate every stored token (forced here; a schedule rotates when onedrive_rotate_after is due)")
        run(playbook_command(emulator, "rotate.yml", "-e", "onedrive_rotate_force=true"))
        say("4. Configure the plugin again, so it holds the rotated token too")
        run(playbook_command(emulator, "configure_plugin.yml"))
        say("5. Everything again: the token still works and nothing is due, so nothing changes")
        changed = sum(run(playbook_command(emulator, name)) for name in ("bootstrap.yml", "rotate.yml", "configure_plugin.yml"))
        changed += register_app(emulator, "5b. The app registration again: it is as declared, so nothing is sent")
        if changed:
            sys.exit(f"The re-run changed {changed} thing(s); it should change nothing.")
        print("\n   changed=0 for register_app, bootstrap, rotate and configure_plugin.")
        summary()
    say("Against Microsoft")
    print(
        "   Register the app (ansible-playbook onedrive.connection.register_app, as an administrator), then run:\n"
        "   ansible-playbook onedrive.connection.bootstrap --ask-vault-pass \\\n"
        "     -e onedrive_connection=robot1 -e onedrive_client_id=<your app's client ID> -e onedrive_vault_file=vault.yml\n"
        "   Open the printed URL, sign in, and paste the address bar at the prompt. In a pipeline, add\n"
        "   -e onedrive_sign_in=device_code, and sign in with the code the run shows while it waits."
    )


if __name__ == "__main__":
    main()
