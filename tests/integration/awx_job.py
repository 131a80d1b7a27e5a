"""The collection as an execution environment gets it, and jobs run as AWX runs them (ansible-runner).

The tarball is built from the working tree and installed with ansible-galaxy into a collections path of its own,
so that the tests see only what ships. A job is ansible-runner on a fresh private data directory: the project
copied into project/, extra variables, environment and passwords in env/ (as AWX writes them, the Vault
credential's password as the answer to --ask-vault-pass), the installed collection on the collections path; the
directory is deleted when the job ends.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def clean_environment(**extra) -> dict:
    """This process's environment without Ansible's or the store's settings, which a job gets from its files."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "VAULT_", "BAO_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@dataclasses.dataclass
class Installed:
    tarball: pathlib.Path
    collections_path: pathlib.Path

    @property
    def root(self) -> pathlib.Path:
        return self.collections_path / "ansible_collections" / "onedrive" / "connection"


@pytest.fixture(scope="session")
def installed_collection(tmp_path_factory) -> Installed:
    """The tarball built from this working tree, and a collections path it was installed into."""
    folder = tmp_path_factory.mktemp("awx-collection")
    env = clean_environment(ANSIBLE_HOME=str(folder / "ansible-home"))
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", "--output-path", folder / "dist", REPO],
        env=env, check=True, capture_output=True, text=True, timeout=300,
    )
    [tarball] = (folder / "dist").glob("onedrive-connection-*.tar.gz")
    collections = folder / "collections"
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "install", "--offline", "-p", collections, tarball],
        env=env, check=True, capture_output=True, text=True, timeout=300,
    )
    return Installed(tarball, collections)


@dataclasses.dataclass
class Job:
    rc: int
    status: str
    stdout: str
    events: list
    # Every artifact AWX keeps of a job (its output and its events), as text.
    artifacts: str

    def event_results(self, task: str) -> list[dict]:
        return [event["event_data"]["res"] for event in self.events
                if event.get("event") == "runner_on_ok" and event["event_data"].get("task") == task]


class JobRunner:
    """Runs jobs in fresh private data directories below one test's tmp_path."""

    def __init__(self, tmp_path: pathlib.Path, installed: Installed):
        self._tmp = tmp_path
        self._installed = installed
        self._count = 0
        self.last_private_data_dir: pathlib.Path | None = None

    def __call__(self, project: pathlib.Path, playbook: str, *, extravars: dict, envvars: dict | None = None,
                 vault_password: str | None = None, verbosity: int = 0, timeout: int = 300) -> Job:
        self._count += 1
        private = self._tmp / f"job{self._count}"
        shutil.copytree(project, private / "project")
        (private / "env").mkdir()
        (private / "inventory").mkdir()
        (private / "inventory" / "hosts").write_text(
            f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
        )
        (private / "env" / "extravars").write_text(yaml.safe_dump(extravars))
        (private / "env" / "envvars").write_text(yaml.safe_dump({
            "ANSIBLE_COLLECTIONS_PATH": str(self._installed.collections_path),
            "ANSIBLE_HOME": str(self._tmp / "ansible-home"),
            "ANSIBLE_NOCOLOR": "1",
            **(envvars or {}),
        }))
        if vault_password is not None:
            (private / "env" / "cmdline").write_text("--ask-vault-pass")
            (private / "env" / "passwords").write_text(yaml.safe_dump({r"Vault password:\s*?$": vault_password}))
        command = [BIN / "ansible-runner", "run", private, "-p", playbook, "--ident", "1"]
        if verbosity:
            command.append("-" + "v" * verbosity)
        self.last_private_data_dir = private
        try:
            subprocess.run(command, env=clean_environment(), capture_output=True, text=True, timeout=timeout,
                           check=False)
            artifacts = private / "artifacts" / "1"
            events = [json.loads(path.read_text()) for path in sorted((artifacts / "job_events").glob("*.json"))]
            stdout = (artifacts / "stdout").read_text()
            texts = [stdout, *((path.read_text(errors="replace")) for path in (artifacts / "job_events").glob("*.json"))]
            job = Job(int((artifacts / "rc").read_text()), (artifacts / "status").read_text(), stdout, events,
                      "\n".join(texts))
        finally:
            # As AWX does once the job is over: whatever the job left in there is gone.
            shutil.rmtree(private)
        assert "[DEPRECATION WARNING]" not in job.stdout, job.stdout
        return job
