"""The hashi_vault store against a real OpenBao server: vault_config and rotate_tokens, auth, refusals, claims."""

from __future__ import annotations

import json
import pathlib

import pytest

from openbao import ROOT_TOKEN, OpenBao, free_port

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "store" / "hashi_vault.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
OLD = "2020-01-01T00:00:00Z"


def connection(emulator, user="adele@contoso.onmicrosoft.com", **extra):
    tokens = emulator.grant(PUBLIC_APP, user, SCOPES)
    return dict(client_id=PUBLIC_APP, refresh_token=tokens["refresh_token"], obtained_at=OLD, **extra)


def assert_no_secret(emulator, run, *more):
    shown = run.output + json.dumps(run.tasks)
    leaked = [secret for secret in [*emulator.issued(), *more] if secret and secret in shown]
    assert not leaked, f"{len(leaked)} secrets in the output"


@pytest.fixture
def store(ansible_run, emulator, openbao):
    """Runs the playbook against a path of its own on the session's OpenBao; .path and .hashi (the option)."""
    path = openbao.new_path()

    def run(hashi=None, secrets=(), check=False, **extra_vars):
        variables = dict(
            hashi=hashi or openbao.options(path),
            emulator_url=emulator.base_url,
            ca_path=str(emulator.ca_path),
            **extra_vars,
        )
        result = ansible_run(PLAYBOOK, extra_vars=variables, diff=True, verbosity=3, check=check)
        assert result.rc == 0, result.output
        assert_no_secret(emulator, result, ROOT_TOKEN, *secrets)
        return result

    run.path = path
    return run


def status(run, name: str) -> str:
    [found] = [entry["status"] for entry in run.tasks if entry["name"] == name]
    return found


def token_requests(emulator) -> int:
    return emulator.log()["counts"].get("token", 0)


def test_vault_config_writes_each_connection_once_and_a_rerun_changes_nothing(emulator, openbao, store):
    seed = {"robot1": connection(emulator), "robot2": connection(emulator, tenant="contoso.onmicrosoft.com")}
    first = store(seed=seed, rotate=False)
    assert first.task("Store")["changed"] is True
    assert first.task("Store")["connections_changed"]["robot1"] == ["client_id", "obtained_at", "refresh_token"]
    assert "******** (changed)" in first.output
    assert openbao.read(store.path) == seed
    versions = openbao.versions(store.path)
    assert versions == {"robot1": 1, "robot2": 1}

    again = store(seed=seed, rotate=False)
    assert again.task("Store")["changed"] is False and again.changed == 0
    assert openbao.versions(store.path) == versions  # no new version for a write that changes nothing

    check = store(seed={"robot1": {"tenant": "organizations"}}, rotate=False, check=True)
    assert check.task("Store")["changed"] is True
    assert openbao.versions(store.path) == versions


def test_rotation_stores_each_token_with_a_claim_and_a_result_write_and_a_rerun_writes_nothing(emulator, openbao, store):
    seed = {"robot1": connection(emulator), "robot2": connection(emulator)}
    openbao.write(store.path, seed)
    emulator.clear_log()

    run = store(rotate_after="7d")
    rotation = run.task("Rotate")
    assert rotation["statuses"]["rotated"] == ["robot1", "robot2"] and rotation["changed"] is True
    assert sorted(rotation["connections_changed"]["robot1"]) == [
        "access_token", "access_token_expires_at", "account_type", "drive_id", "drive_type", "granted_scopes",
        "refresh_token", "rotated_at", "user_id", "user_principal_name", "verified_at",
    ]
    assert token_requests(emulator) == 2
    stored = openbao.read(store.path)
    for name in seed:
        assert stored[name]["refresh_token"] != seed[name]["refresh_token"] and "claim" not in stored[name]
    # A claim write and a result write per rotated connection.
    assert openbao.versions(store.path) == {"robot1": 3, "robot2": 3}
    assert "run_id" not in run.output  # a claim is bookkeeping, not a change shown in the diff

    again = store(rotate_after="7d")
    assert again.task("Rotate")["statuses"]["not_due"] == ["robot1", "robot2"] and again.changed == 0
    assert openbao.versions(store.path) == {"robot1": 3, "robot2": 3}
    assert token_requests(emulator) == 2


def test_approle_login_with_the_least_privilege_policy_rotates(emulator, openbao, store):
    openbao.write(store.path, {"robot1": connection(emulator)})
    role_id, secret_id = openbao.approle(openbao_policy(store.path))
    hashi = dict(url=openbao.url, auth_method="approle", role_id=role_id, secret_id=secret_id, path=store.path)
    run = store(hashi=hashi, secrets=(secret_id,))
    assert run.task("Rotate")["statuses"]["rotated"] == ["robot1"]
    assert run.task("Rotate")["invocation"]["module_args"]["hashi_vault"]["secret_id"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def openbao_policy(path: str, capabilities=("create", "read", "update"), listing=True) -> str:
    policy = f'path "secret/data/{path}/*" {{ capabilities = {json.dumps(list(capabilities))} }}\n'
    if listing:
        policy += f'path "secret/metadata/{path}" {{ capabilities = ["list"] }}\n'
        policy += f'path "secret/metadata/{path}/*" {{ capabilities = ["list", "read"] }}\n'
    return policy


REFUSALS = {
    "no_write": (dict(capabilities=("read",)), "store_denied", "does not allow create or update"),
    "no_list": (dict(listing=False), "store_denied", "permission denied"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_token_whose_policy_lacks_a_capability_is_refused_before_any_refresh(emulator, openbao, store, case):
    seed = {"robot1": connection(emulator)}
    openbao.write(store.path, seed)
    policy, reason, words = REFUSALS[case]
    token = openbao.token_with(openbao_policy(store.path, **policy))
    emulator.clear_log()
    run = store(hashi=openbao.options(store.path, token=token), secrets=(token,))
    rotation = run.task("Rotate")
    assert status(run, "Rotate") == "failed" and rotation["reason"] == reason and words in rotation["msg"]
    assert "create, update and list" in rotation["msg"] or "read, create, update and list" in rotation["msg"]
    assert token_requests(emulator) == 0
    assert openbao.read(store.path) == seed and openbao.versions(store.path) == {"robot1": 1}


def test_a_mount_that_is_not_kv_version_2_or_missing_is_named(emulator, openbao, store):
    kv1 = openbao.kv1()
    emulator.clear_log()
    for mount, words in ((kv1, "not KV version 2"), ("nothing-here", "no secrets engine the token may use")):
        run = store(hashi=openbao.options(store.path, mount_point=mount))
        rotation = run.task("Rotate")
        assert rotation["reason"] == "store_invalid" and words in rotation["msg"], rotation["msg"]
        assert run.task("Store") is not None
    assert token_requests(emulator) == 0


def test_a_server_that_is_down_or_sealed_is_named_and_nothing_is_refreshed(emulator, store, tmp_path):
    emulator.clear_log()
    down = store(hashi=dict(url=f"http://127.0.0.1:{free_port()}", token="t", path="p", timeout=5))
    assert down.task("Rotate")["reason"] == "store_unavailable" and "did not answer" in down.task("Rotate")["msg"]
    with OpenBao(tmp_path) as sealed:
        sealed.write("onedrive/connections", {"robot1": connection(emulator)})
        sealed.seal()
        run = store(hashi=dict(url=sealed.url, token=ROOT_TOKEN))
        assert run.task("Rotate")["reason"] == "store_unavailable" and "sealed" in run.task("Rotate")["msg"]
    assert token_requests(emulator) == 0


def test_a_live_claim_of_another_run_is_left_alone_and_an_expired_one_is_taken_over(emulator, openbao, store):
    other = {"run_id": "other", "host": "controller-2", "pid": 1, "expires_at": "2999-01-01T00:00:00Z"}
    expired = {**other, "expires_at": "2001-01-01T00:00:00Z"}
    seed = {"held": connection(emulator, claim=other), "crashed": connection(emulator, claim=expired)}
    openbao.write(store.path, seed)
    emulator.clear_log()
    run = store()
    rotation = run.task("Rotate")
    assert status(run, "Rotate") == "changed"  # not failed: a claimed connection is left to its holder
    assert rotation["statuses"]["claimed"] == ["held"] and rotation["statuses"]["rotated"] == ["crashed"]
    assert rotation["connection_results"]["held"]["claimed_by"]["host"] == "controller-2"
    assert token_requests(emulator) == 1
    stored = openbao.read(store.path)
    assert stored["held"] == seed["held"]
    assert "claim" not in stored["crashed"] and stored["crashed"]["refresh_token"] != seed["crashed"]["refresh_token"]


def test_a_write_between_read_and_write_is_merged_again_or_skipped_by_its_expectation(emulator, openbao):
    from ansible_collections.onedrive.connection.plugins.plugin_utils.hashi_vault_store import HashiVaultStore

    path = openbao.new_path()
    openbao.write(path, {"robot1": {"refresh_token": "a", "tenant": "common"}})
    store = HashiVaultStore(dict(openbao.options(path), auth_method="token", namespace=None, mount_point="secret",
                                 ca_path=None, validate_certs=True, timeout=10, role_id=None, secret_id=None))
    assert store.read()["robot1"]["refresh_token"] == "a"
    openbao.write(path, {"robot1": {"refresh_token": "b", "tenant": "common"}})  # another writer, after the read

    outcome = store.update({"robot1": {"drive_id": "d"}})
    assert outcome.changed and openbao.read(path)["robot1"] == {"refresh_token": "b", "tenant": "common", "drive_id": "d"}

    openbao.write(path, {"robot1": {"refresh_token": "c", "tenant": "common"}})
    outcome = store.update({"robot1": {"refresh_token": "a2"}}, expect={"robot1": {"refresh_token": "a"}})
    assert outcome.skipped == ["robot1"] and not outcome.changed
    assert openbao.read(path)["robot1"]["refresh_token"] == "c"
