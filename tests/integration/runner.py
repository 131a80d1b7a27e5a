"""Runs real ansible-playbook processes and collects what the test-only callback recorded."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

from msemu.terminal import run_on_terminal

HERE = pathlib.Path(__file__).resolve().parent
BIN = pathlib.Path(sys.executable).parent
# The Python modules run on: the controller's own unless the matrix names an older target (tests/ci/matrix.py).
MODULE_PYTHON = os.environ.get("ONEDRIVE_TEST_MODULE_PYTHON") or sys.executable
# tests/conftest.py makes sure this ansible_collections layout exists.
COLLECTIONS_PATH = str(HERE.parent.parent / ".build" / "collections")


@dataclasses.dataclass
class PlaybookResult:
    rc: int
    stdout: str
    stderr: str
    tmp_dir: pathlib.Path
    tasks: list
    stats: dict

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def task(self, name: str) -> dict:
        for entry in reversed(self.tasks):
            if entry["name"] == name:
                return entry["result"]
        raise KeyError(f"no task named {name!r}; ran: {[t['name'] for t in self.tasks]}")

    def _total(self, key: str) -> int:
        return sum(host.get(key, 0) for host in self.stats.values())

    @property
    def changed(self) -> int:
        return self._total("changed")

    @property
    def failed(self) -> int:
        return self._total("failures")


class Runner:
    """One per test: every run gets its own numbered folder below the test's tmp_path."""

    def __init__(self, tmp_path: pathlib.Path):
        self._tmp = tmp_path
        self._count = 0

    def _folder(self) -> pathlib.Path:
        self._count += 1
        folder = self._tmp / f"run{self._count}"
        (folder / "ansible-tmp").mkdir(parents=True)
        return folder

    def _environment(self, folder: pathlib.Path, extra: dict | None) -> dict:
        env = dict(os.environ)
        env.update(
            ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH,
            ANSIBLE_CALLBACK_PLUGINS=str(HERE / "callback_plugins"),
            ANSIBLE_CONNECTION_PLUGINS=str(HERE / "connection_plugins"),
            ANSIBLE_CALLBACKS_ENABLED="record_results",
            ANSIBLE_LOCAL_TEMP=str(folder / "ansible-tmp"),
            ANSIBLE_REMOTE_TEMP=str(folder / "ansible-tmp"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_RETRY_FILES_ENABLED="0",
            ANSIBLE_HOME=str(folder / "ansible-home"),
            ANSIBLE_PYTHON_INTERPRETER=MODULE_PYTHON,
            ONEDRIVE_TEST_RESULTS=str(folder / "results.jsonl"),
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        env.update(extra or {})
        return env

    def __call__(self, playbook, *, cwd=None, stdin=None, timeout=300, **options) -> PlaybookResult:
        """Run ansible-playbook without a terminal; see _prepare for the options."""
        folder, command, env = self._prepare(playbook, **options)
        proc = subprocess.run(
            command, cwd=cwd or folder, env=env, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        return self._result(folder, proc.returncode, proc.stdout, proc.stderr)

    def on_terminal(self, playbook, prompt, answer, **options) -> PlaybookResult:
        """Run ansible-playbook on a pty, typing ``answer(output)`` at ``prompt``; stdout holds the screen."""
        folder, command, env = self._prepare(playbook, **options)
        rc, screen = run_on_terminal(command, env, prompt, answer, cwd=folder, timeout=300)
        return self._result(folder, rc, screen, "")

    def _prepare(self, playbook, *, extra_vars=None, check=False, diff=False, verbosity=0,
                 vault_password_file=None, vault_ids=None, env=None):
        folder = self._folder()
        if isinstance(playbook, str) and "\n" in playbook:
            path = folder / "playbook.yml"
            path.write_text(playbook, encoding="utf-8")
            playbook = path
        inventory = folder / "inventory.ini"
        inventory.write_text(
            f"localhost ansible_connection=local ansible_python_interpreter={MODULE_PYTHON}\n",
            encoding="utf-8",
        )
        command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)]
        if extra_vars:
            vars_file = folder / "extra_vars.json"
            vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")
            command += ["-e", f"@{vars_file}"]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if verbosity:
            command.append("-" + "v" * verbosity)
        if vault_password_file:
            command += ["--vault-password-file", str(vault_password_file)]
        for vault_id in vault_ids or ():
            command += ["--vault-id", str(vault_id)]
        return folder, command, self._environment(folder, env)

    @staticmethod
    def _result(folder, rc, stdout, stderr) -> PlaybookResult:
        results = folder / "results.jsonl"
        tasks = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
        stats_file = folder / "results.jsonl.stats"
        stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        # No ansible-core release in the matrix may find anything deprecated in what the collection does.
        assert "[DEPRECATION WARNING]" not in stdout + stderr, stdout + stderr
        return PlaybookResult(rc, stdout, stderr, folder / "ansible-tmp", tasks, stats)
