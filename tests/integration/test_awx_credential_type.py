"""The AWX credential type of the OpenBao / HashiCorp Vault store (playbooks/awx/credential_type.yml).

awx.awx is not installed here and there is no AWX: the definition is checked as AWX checks a custom credential type
when it is saved, its injectors are rendered from sample inputs as AWX renders them when a job starts (each value a
Jinja template in a sandbox over the credential's non-empty inputs, `tower.filename` naming the file a file injector
wrote into the job's env/ folder), and the rotate role runs against a real OpenBao with nothing but the environment
that gives. The example playbook is run with a stand-in for awx.awx.credential_type that records what it was given.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import stat
import tempfile

import jsonschema
import pytest
from ansible.parsing.dataloader import DataLoader
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from runner import COLLECTIONS_PATH

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFINITION_FILE = REPO / "playbooks" / "awx" / "credential_type.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
USERS = {"robot1": "adele@contoso.onmicrosoft.com", "robot2": "megan@outlook.com"}
# What AWX accepts as a custom credential type's inputs (its CredentialTypeInputField, read in AWX's source).
INPUTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "required": {"type": "array", "items": {"type": "string"}},
        "fields": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "label"],
            "properties": {
                "id": {"type": "string", "pattern": "^[a-zA-Z_]+[a-zA-Z0-9_]*$"},
                "label": {"type": "string"},
                "type": {"enum": ["string", "boolean"]},
                "format": {"enum": ["ssh_private_key", "url"]},
                "choices": {"type": "array", "minItems": 1, "items": {"type": "string"}, "uniqueItems": True},
                "help_text": {"type": "string"},
                "multiline": {"type": "boolean"},
                "secret": {"type": "boolean"},
                "ask_at_runtime": {"type": "boolean"},
                "default": {},
            },
        }},
    },
}


def definition() -> dict:
    # Through Ansible's own loader, which reads the !unsafe tags; then plain data, as the API would store it.
    return json.loads(json.dumps(DataLoader().load_from_file(str(DEFINITION_FILE))["onedrive_awx_credential_type"]))


class _Tower:
    pass


def inject(credential_type: dict, inputs: dict, private_data_dir: pathlib.Path) -> tuple[dict, dict]:
    """(env, safe_env) of a job with a credential of this type holding ``inputs``, rendered as AWX renders them."""
    fields = credential_type["inputs"]["fields"]
    secret = {field["id"] for field in fields if field.get("secret")}
    tower = _Tower()
    namespace, safe_namespace = {"tower": tower}, {"tower": tower}
    for name, value in inputs.items():
        if isinstance(value, bool):
            namespace[name] = safe_namespace[name] = value
            continue
        # An empty input is left out, so that a template sees it undefined (and false).
        if value:
            namespace[name] = value
            safe_namespace[name] = "**********" if name in secret else value
    for field in fields:
        if field.get("type") == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = safe_namespace[field["id"]] = False
    sandbox = ImmutableSandboxedEnvironment()
    (private_data_dir / "env").mkdir(parents=True, exist_ok=True)
    for label, template in credential_type["injectors"].get("file", {}).items():
        handle, path = tempfile.mkstemp(dir=private_data_dir / "env")
        with os.fdopen(handle, "w") as file:
            file.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if "." not in label:
            tower.filename = path
        else:
            if not hasattr(tower, "filename"):
                tower.filename = _Tower()
            setattr(tower.filename, label.split(".", 1)[1], path)
    env, safe_env = {}, {}
    for name, template in credential_type["injectors"].get("env", {}).items():
        env[name] = sandbox.from_string(template).render(**namespace)
        safe_env[name] = sandbox.from_string(template).render(**safe_namespace)
    assert not credential_type["injectors"].get("extra_vars"), "extra variables show in the job's details"
    return env, safe_env


def test_awx_would_accept_the_credential_type():
    credential_type = definition()
    assert set(credential_type) == {"name", "description", "kind", "inputs", "injectors"}
    assert credential_type["kind"] in ("cloud", "net")
    jsonschema.validate(credential_type["inputs"], INPUTS_SCHEMA)
    ids = [field["id"] for field in credential_type["inputs"]["fields"]]
    assert ids == ["url", "token", "role_id", "secret_id", "vault_namespace", "ca_cert"]
    # An empty input is undefined in the templates: a field named as a Jinja global would render that global.
    assert not set(ids) & set(ImmutableSandboxedEnvironment().globals)
    assert set(credential_type["inputs"]["required"]) <= set(ids)
    assert {field["id"] for field in credential_type["inputs"]["fields"] if field.get("secret")} == {"token", "secret_id"}
    # AWX renders every template with each field defined and StrictUndefined when the type is saved, and refuses
    # environment variables that configure Ansible.
    sandbox = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    tower = _Tower()
    tower.filename = "EXAMPLE_FILENAME"
    example = dict.fromkeys(ids, "EXAMPLE") | {"tower": tower}
    injectors = credential_type["injectors"]
    assert set(injectors) <= {"env", "file", "extra_vars"} and list(injectors["file"]) == ["template"]
    for kind in ("env", "file"):
        for template in injectors[kind].values():
            sandbox.from_string(template).render(example)
    assert all(name.startswith("VAULT_") for name in injectors["env"])


def days_ago(days):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(emulator, openbao) -> str:
    path = openbao.new_path()
    openbao.write(path, {
        name: dict(client_id=PUBLIC_APP, obtained_at=days_ago(8),
                   refresh_token=emulator.grant(PUBLIC_APP, user, ["offline_access", "User.Read", "Files.Read"])["refresh_token"])
        for name, user in USERS.items()
    })
    return path


def rotate(collection_playbook, path, env):
    # The job template's variables: the store and where on it; the server and the login come from the credential.
    return collection_playbook("rotate", env=env, extra_vars=dict(
        onedrive_store="hashi_vault", onedrive_hashi_vault={"path": path}, onedrive_vault_file=""))


def test_a_token_credential_runs_the_rotate_role(emulator, openbao, collection_playbook, tmp_path):
    path = seed(emulator, openbao)
    token = openbao.least_privilege_token(path)
    # As AWX keeps a credential: the inputs the user filled in.
    env, safe_env = inject(definition(), {"url": openbao.url, "token": token}, tmp_path / "job")
    assert env == {
        "VAULT_ADDR": openbao.url, "VAULT_TOKEN": token, "VAULT_AUTH_METHOD": "token", "VAULT_ROLE_ID": "",
        "VAULT_SECRET_ID": "", "VAULT_NAMESPACE": "", "VAULT_CACERT": "",
    }
    # What AWX stores with the job, and shows, holds no secret.
    assert safe_env["VAULT_TOKEN"] == "**********" and token not in json.dumps(safe_env)

    before = openbao.read(path)
    run = rotate(collection_playbook, path, env)
    assert run.rc == 0, run.output
    assert "robot1: rotated (adele@contoso.onmicrosoft.com)" in run.output and "robot2: rotated" in run.output
    after = openbao.read(path)
    assert all(after[name]["refresh_token"] != before[name]["refresh_token"] for name in USERS)
    assert token not in run.output


def test_an_approle_credential_with_a_namespace_and_ca_runs_the_rotate_role(emulator, openbao, collection_playbook, tmp_path):
    path = seed(emulator, openbao)
    role_id, secret_id = openbao.approle(
        f'path "secret/data/{path}/*" {{ capabilities = ["create", "read", "update"] }}\n'
        f'path "secret/metadata/{path}/*" {{ capabilities = ["read", "list"] }}\n'
        f'path "secret/metadata/{path}" {{ capabilities = ["list"] }}\n'
    )
    ca = pathlib.Path(emulator.ca_path).read_text()
    inputs = {"url": openbao.url, "token": "", "role_id": role_id, "secret_id": secret_id, "ca_cert": ca}
    env, safe_env = inject(definition(), inputs, tmp_path / "job")
    assert (env["VAULT_AUTH_METHOD"], env["VAULT_ROLE_ID"], env["VAULT_SECRET_ID"]) == ("approle", role_id, secret_id)
    assert env["VAULT_TOKEN"] == "" and safe_env["VAULT_SECRET_ID"] == "**********"
    # The CA goes into a file of the job's own, readable by its owner only.
    cacert = pathlib.Path(env["VAULT_CACERT"])
    assert cacert.parent == tmp_path / "job" / "env" and cacert.read_text() == ca
    assert stat.S_IMODE(cacert.stat().st_mode) == 0o600

    before = openbao.read(path)
    run = rotate(collection_playbook, path, env)
    assert run.rc == 0, run.output
    assert "robot1: rotated" in run.output and "robot2: rotated" in run.output
    after = openbao.read(path)
    assert all(after[name]["refresh_token"] != before[name]["refresh_token"] for name in USERS)
    assert secret_id not in run.output

    # A wrong secret ID fails in the role's words, and does not show.
    env["VAULT_SECRET_ID"] = "not-" + secret_id
    failed = rotate(collection_playbook, path, env)
    assert failed.rc != 0 and "AppRole" in failed.output, failed.output
    assert secret_id not in failed.output


STAND_IN = '''#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        name=dict(type="str", required=True), description=dict(type="str"), kind=dict(type="str"),
        inputs=dict(type="dict"), injectors=dict(type="dict"), state=dict(type="str", default="present"),
    ))
    module.exit_json(changed=True, received=module.params)


if __name__ == "__main__":
    main()
'''


def test_the_example_playbook_gives_awx_the_definition_as_it_is(ansible_run, tmp_path):
    modules = tmp_path / "stand-in" / "ansible_collections" / "awx" / "awx" / "plugins" / "modules"
    modules.mkdir(parents=True)
    (modules / "credential_type.py").write_text(STAND_IN)
    run = ansible_run(REPO / "playbooks" / "awx_credential_type.yml",
                      env={"ANSIBLE_COLLECTIONS_PATH": f"{tmp_path / 'stand-in'}{os.pathsep}{COLLECTIONS_PATH}"})
    assert run.rc == 0, run.output
    received = run.task("Create the credential type")["received"]
    # The injectors' templates reach AWX unrendered: AWX renders them, per job.
    assert received == dict(definition(), state="present")
    assert received["injectors"]["env"]["VAULT_ADDR"] == "{{ url }}"
