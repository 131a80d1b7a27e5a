"""The rotate playbook in jobs run as AWX and Automation Platform run them: ansible-runner, a fresh private data
directory per job with the project copied in, deleted when the job ends (see awx_job.py).

With the shared store (OpenBao here) each job rotates from what the one before stored. With the ansible-vault file
inside the project copy, the rotated tokens would go with the deleted directory: the role refuses, or warns when told
to rotate anyway.
"""

from __future__ import annotations

import datetime

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from awx_job import JobRunner, installed_collection  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.tooling

PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
USERS = {"robot1": "adele@contoso.onmicrosoft.com", "robot2": "megan@outlook.com"}
VAULT_PASSWORD = "awx job tests' vault password"
# What a project holds: a playbook that runs the collection's.
PROJECT_PLAYBOOK = """\
- name: Rotate the OneDrive connections
  ansible.builtin.import_playbook: onedrive.connection.rotate
"""


def days_ago(days):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def job(tmp_path, installed_collection):  # noqa: F811 - the fixture imported above
    return JobRunner(tmp_path, installed_collection)


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "rotate.yml").write_text(PROJECT_PLAYBOOK)
    return folder


def records(emulator):
    return {
        name: dict(client_id=PUBLIC_APP, refresh_token=emulator.grant(PUBLIC_APP, user, SCOPES)["refresh_token"],
                   obtained_at=days_ago(8))
        for name, user in USERS.items()
    }


def endpoints(emulator):
    return dict(onedrive_login_url=emulator.base_url, onedrive_graph_url=emulator.base_url,
                onedrive_ca_path=str(emulator.ca_path))


def test_two_jobs_in_a_row_rotate_through_openbao_and_lose_nothing(emulator, openbao, job, project):
    # A server that revokes the whole grant when a rotated-out token comes back: a job that started from a stale
    # token would break the connection for good.
    emulator.strict(True)
    path = openbao.new_path()
    openbao.write(path, records(emulator))
    token = openbao.least_privilege_token(path)
    extravars = dict(onedrive_store="hashi_vault", onedrive_hashi_vault={"path": path}, onedrive_rotate_force=True,
                     **endpoints(emulator))
    envvars = {"VAULT_ADDR": openbao.url, "VAULT_TOKEN": token}

    seen = []
    for number in (1, 2):
        before = openbao.read(path)
        run = job(project, "rotate.yml", extravars=extravars, envvars=envvars, verbosity=4)
        assert (run.rc, run.status) == (0, "successful"), run.stdout
        assert not job.last_private_data_dir.exists()
        for name, user in USERS.items():
            assert f"{name}: rotated ({user})" in run.stdout, run.stdout
        after = openbao.read(path)
        for name in USERS:
            assert after[name]["refresh_token"] != before[name]["refresh_token"], f"job {number}: {name}"
            assert after[name]["verified_at"] and "claim" not in after[name]
        seen.append(run)

    # Nothing the emulator issued or received, and not the OpenBao token, is in what AWX keeps of the jobs (their
    # output and events), at -vvvv.
    secrets = set(emulator.issued()) | {token}
    assert len(secrets) > 6
    shown = "\n".join(run.artifacts for run in seen)
    assert not [secret[:8] + "..." for secret in secrets if secret in shown]


def write_vault(path, connections):
    lib = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
    path.write_bytes(lib.encrypt(yaml.safe_dump({"onedrive_connections": connections})))


def read_vault(path):
    lib = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
    return yaml.safe_load(lib.decrypt(path.read_bytes()))["onedrive_connections"]


def test_a_vault_file_in_the_project_copy_is_refused_before_anything_is_sent(emulator, job, project, tmp_path):
    write_vault(project / "vault.yml", records(emulator))
    emulator.clear_log()

    refused = job(project, "rotate.yml", vault_password=VAULT_PASSWORD,
                  extravars=dict(onedrive_vault_file="vault.yml", **endpoints(emulator)))
    assert (refused.rc, refused.status) != (0, "successful")
    said = " ".join(refused.stdout.split())
    assert "onedrive_vault_file " in said and "/project/vault.yml is inside this job's private data directory" in said
    assert f"private data directory {job.last_private_data_dir.resolve()}, which ansible-runner" in said
    assert "the refresh tokens this run rotates would be lost with it" in said
    assert "onedrive_store=hashi_vault" in said and "onedrive_rotate_in_job_directory=true rotates anyway" in said
    assert emulator.log()["counts"] == {}

    # Told to rotate anyway (in text, as a survey gives it), it says what will be lost, and rotates.
    anyway = job(project, "rotate.yml", vault_password=VAULT_PASSWORD,
                 extravars=dict(onedrive_vault_file="vault.yml", onedrive_rotate_in_job_directory="true",
                                **endpoints(emulator)))
    assert anyway.rc == 0, anyway.stdout
    said = " ".join(anyway.stdout.split())
    assert "WARNING: onedrive_vault_file " in said and "Rotating anyway (onedrive_rotate_in_job_directory=true)" in said
    assert "robot1: rotated" in said

    # A vault file that outlives the job (a volume the execution environment mounts) is used without a word.
    kept = tmp_path / "volume" / "vault.yml"
    kept.parent.mkdir()
    write_vault(kept, records(emulator))
    before = read_vault(kept)
    used = job(project, "rotate.yml", vault_password=VAULT_PASSWORD,
               extravars=dict(onedrive_vault_file=str(kept), **endpoints(emulator)))
    assert used.rc == 0, used.stdout
    assert "private data directory" not in used.stdout and "robot1: rotated" in used.stdout
    after = read_vault(kept)
    assert all(after[name]["refresh_token"] != before[name]["refresh_token"] for name in USERS)


def test_the_private_data_directory_awx_names_counts_too(emulator, collection_playbook, tmp_path):
    # AWX names it in AWX_PRIVATE_DATA_DIR (outside a container, as with process isolation, the same path).
    lib = VaultLib([("default", VaultSecret(collection_playbook.password_file.read_text().strip().encode()))])
    collection_playbook.vault.write_bytes(lib.encrypt(yaml.safe_dump({"onedrive_connections": records(emulator)})))
    run = collection_playbook("rotate", env={"AWX_PRIVATE_DATA_DIR": str(tmp_path)})
    assert run.rc != 0
    said = " ".join(run.output.split())
    assert f"onedrive_vault_file {collection_playbook.vault.resolve()} is inside this job's private data directory" in said
    elsewhere = collection_playbook("rotate", env={"AWX_PRIVATE_DATA_DIR": str(tmp_path / "other")})
    assert elsewhere.rc == 0 and "robot1: rotated" in elsewhere.output, elsewhere.output
    assert "private data directory" not in elsewhere.output
