"""rotate_tokens when a stored record or a token answer holds a token no HTTP header can carry (issue 20, item 3).

One such connection used to abort the whole rotation with an unexpected exception, losing every token already
rotated in the run. Now it fails alone, with a reason, and what rotated is stored (given ``path``) or returned
(given ``connections``), including the new refresh token of a connection that failed after its refresh.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import pathlib
import threading
import urllib.parse

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "security_rotation" / "rotate.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
PASSWORD = "security rotation vault password"
LIB = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
# A typographic apostrophe, as a word processor or a chat client puts into a pasted token.
ODD = "\u2019"
RECENT = "2999-01-01T00:00:00Z"  # never due, so with check_not_due the stored access token is what is checked
WORK_ID = "2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c"


def without_verdict(record):
    """The record without the verdict its last check recorded (connection_status reads it)."""
    return {key: value for key, value in record.items() if key not in ("last_status", "last_reason", "last_checked_at")}


@pytest.fixture
def vault(tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    path = tmp_path / "onedrive.yml"

    class Vault:
        def write(self, connections):
            path.write_bytes(LIB.encrypt(yaml.safe_dump({"onedrive_connections": connections}, sort_keys=False)))

        def read(self):
            return yaml.safe_load(LIB.decrypt(path.read_bytes()))["onedrive_connections"]

    Vault.path, Vault.password_file = path, password_file
    return Vault()


@pytest.fixture
def rotate(ansible_run, vault):
    """Runs the playbook on the vault with the same connections; the secrets must not show in any output."""

    def run(connections, secrets, **variables):
        vault.write(connections)
        variables.update(vault_path=str(vault.path), connections=connections)
        result = ansible_run(PLAYBOOK, extra_vars=variables, vault_password_file=vault.password_file, verbosity=2)
        assert result.rc == 0, result.output
        shown = result.output + json.dumps(result.tasks)
        leaked = [secret for secret in secrets if secret in shown or json.dumps(secret)[1:-1] in shown]
        assert not leaked, f"{len(leaked)} tokens in the output"
        assert "Traceback" not in shown and "codec" not in shown, result.output
        return result

    return run


def _status(run, name):
    [status] = [entry["status"] for entry in run.tasks if entry["name"] == name]
    return status


def _connection(emulator, user, **extra):
    tokens = emulator.grant(PUBLIC_APP, user, SCOPES)
    return dict(client_id=PUBLIC_APP, refresh_token=tokens["refresh_token"], **extra)


def test_a_stored_token_http_cannot_carry_fails_alone_and_the_others_are_stored(emulator, vault, rotate):
    stored = {
        "fine": _connection(emulator, "megan@outlook.com"),
        "odd_access": _connection(
            emulator, "adele@contoso.onmicrosoft.com",
            rotated_at=RECENT, access_token=f"acc{ODD}ess", access_token_expires_at=RECENT,
        ),
        "odd_refresh": dict(client_id=PUBLIC_APP, refresh_token=f"ref{ODD}resh"),
    }
    secrets = [*emulator.issued(), f"acc{ODD}ess", f"ref{ODD}resh"]
    run = rotate(
        stored, secrets, max_workers=1, login_url=emulator.base_url, graph_url=emulator.base_url,
        ca_path=str(emulator.ca_path),
    )
    secrets = [*emulator.issued(), f"acc{ODD}ess", f"ref{ODD}resh"]
    shown = run.output + json.dumps(run.tasks)
    assert not [secret for secret in secrets if secret in shown]

    result = run.task("Rotate")
    assert _status(run, "Rotate") == "failed" and "2 of 3 connections failed" in result["msg"]
    assert result["statuses"]["rotated"] == ["fine"]
    assert result["statuses"]["failed"] == ["odd_access", "odd_refresh"]
    outcomes = result["connection_results"]
    for name, field in (("odd_access", "access_token"), ("odd_refresh", "refresh_token")):
        assert outcomes[name]["reason"] == "token_invalid", outcomes[name]
        assert f"connections.{name}.{field}" in outcomes[name]["msg"]
    assert list(result["connections_changed"]) == ["fine"]
    after = vault.read()
    assert after["fine"]["refresh_token"] != stored["fine"]["refresh_token"] and after["fine"]["verified_at"]
    assert without_verdict(after["odd_access"]) == stored["odd_access"]
    assert without_verdict(after["odd_refresh"]) == stored["odd_refresh"]
    # Nothing was sent for the odd ones: one refresh and one Graph check for each run's fine connection.
    counts = emulator.log()["counts"]
    assert counts.get("token") == 2 and counts.get("batch") == 2

    report = run.task("Report")["msg"]
    assert report["failed"] is True and "2 of 3 connections failed" in report["msg"]
    assert report["statuses"]["rotated"] == ["fine"]
    assert report["statuses"]["failed"] == ["odd_access", "odd_refresh"]
    assert report["connection_results"]["odd_access"]["reason"] == "token_invalid"
    assert list(report["update_fields"]) == ["fine"]
    assert {"refresh_token", "access_token", "verified_at"} <= set(report["update_fields"]["fine"])


class _TokenService(http.server.ThreadingHTTPServer):
    """A token endpoint and Graph on loopback that answer each refresh token with the tokens ``answers`` names."""

    daemon_threads = True

    def __init__(self, answers):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers = answers
        self.seen = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the name http.server calls
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/oauth2/v2.0/token"):
            refresh_token = urllib.parse.parse_qs(body.decode())["refresh_token"][0]
            self.server.seen.append(("token", refresh_token))
            access_token, new_refresh_token = self.server.answers[refresh_token]
            self._json(dict(
                token_type="Bearer", expires_in=3600, access_token=access_token, refresh_token=new_refresh_token,
                scope=" ".join(f"https://graph.microsoft.com/{scope}" for scope in ("User.Read", "Files.Read")),
            ))
        elif self.path == "/v1.0/$batch":
            self.server.seen.append(("batch", self.headers.get("Authorization")))
            me = {"id": WORK_ID, "displayName": "Adele", "userPrincipalName": "adele@contoso.com"}
            self._json({"responses": [
                {"id": "me", "status": 200, "body": me},
                {"id": "drive", "status": 200, "body": {"id": "drive-1", "driveType": "business"}},
            ]})
        else:
            self.send_error(404)

    def _json(self, answer):
        # ensure_ascii=False: the odd character travels as UTF-8, as a real service would send it.
        data = json.dumps(answer, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def token_service(answers):
    server = _TokenService(answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_an_answer_with_a_token_http_cannot_carry_fails_alone_and_keeps_a_usable_refresh_token(vault, rotate):
    answers = {
        "rt-fine": ("at-fine-new", "rt-fine-new"),
        "rt-odd-access": (f"at{ODD}odd-access-new", "rt-odd-access-new"),
        "rt-odd-refresh": ("at-odd-refresh-new", f"rt{ODD}odd-refresh-new"),
    }
    stored = {
        name: dict(client_id=PUBLIC_APP, refresh_token=f"rt-{name.replace('_', '-')}", access_token=f"at-{name}-old")
        for name in ("fine", "odd_access", "odd_refresh")
    }
    secrets = [token for pair in answers.items() for token in (pair[0], *pair[1])]
    with token_service(answers) as service:
        run = rotate(stored, secrets, max_workers=1, login_url=service.url, graph_url=service.url)
    # Each run refreshed each connection once, and only the fine one's access token went to Graph.
    assert sorted(service.seen) == sorted(
        [("token", token) for token in answers] * 2 + [("batch", "Bearer at-fine-new")] * 2
    )

    result = run.task("Rotate")
    assert _status(run, "Rotate") == "failed" and "2 of 3 connections failed" in result["msg"]
    assert result["statuses"]["rotated"] == ["fine"]
    assert result["statuses"]["failed"] == ["odd_access", "odd_refresh"]
    for name in ("odd_access", "odd_refresh"):
        outcome = result["connection_results"][name]
        assert outcome["reason"] == "unexpected_response" and outcome["needs_authorization"] is False, outcome
    assert "access token" in result["connection_results"]["odd_access"]["msg"]
    assert "refresh token" in result["connection_results"]["odd_refresh"]["msg"]
    assert sorted(result["connections_changed"]) == ["fine", "odd_access"]

    after = vault.read()
    assert after["fine"]["refresh_token"] == "rt-fine-new" and after["fine"]["access_token"] == "at-fine-new"
    # The service rotated odd_access's refresh token although its access token is unusable: the new one is kept,
    # and the old access token stays rather than one that could never be sent.
    assert after["odd_access"]["refresh_token"] == "rt-odd-access-new"
    assert after["odd_access"]["access_token"] == "at-odd_access-old" and "verified_at" not in after["odd_access"]
    assert after["odd_access"]["rotated_at"]
    assert without_verdict(after["odd_refresh"]) == stored["odd_refresh"]

    report = run.task("Report")["msg"]
    assert report["failed"] is True and "2 of 3 connections failed" in report["msg"]
    assert report["statuses"]["rotated"] == ["fine"]
    assert report["statuses"]["failed"] == ["odd_access", "odd_refresh"]
    assert sorted(report["update_fields"]) == ["fine", "odd_access"]
    assert "access_token" in report["update_fields"]["fine"]
    assert "refresh_token" in report["update_fields"]["odd_access"]
    assert "access_token" not in report["update_fields"]["odd_access"]
