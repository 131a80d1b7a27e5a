"""Answers Microsoft gives in the field (msemu/answers.py, sources cited there): the `answer` fault kind at the
token endpoint and the drive, inside a $batch, a fixture user's `drive_answer`, and plain-text throttling."""

from __future__ import annotations

import json

import pytest
import requests
import yaml
from msemu import answers, config
from msemu.client import EmulatorError
from msemu.process import EmulatorProcess

ALL = ["User.Read", "Files.Read", "offline_access"]


def _refresh_token(emulator, proto, user=None):
    return emulator.grant(proto.PUBLIC, user or proto.ADELE, ALL)["refresh_token"]


@pytest.mark.parametrize("name", sorted(answers.LOGIN_ANSWERS))
def test_token_answers_have_microsofts_shape(proto, emulator, login_error, name):
    answer = answers.LOGIN_ANSWERS[name]
    refresh_token = _refresh_token(emulator, proto)
    emulator.fault("token", "answer", answer=name)
    body = login_error(proto.refresh(refresh_token), 400, answer.error, answer.code)
    assert body.get("suberror") == answer.suberror
    assert ("claims" in body) == answer.claims
    if answer.claims:
        assert "capolids" in json.loads(body["claims"])["access_token"]
    # Used up: the same token works again afterwards.
    assert proto.refresh(refresh_token).status_code == 200


def test_token_answers_cover_the_field_reports():
    seen = {(a.error, a.code, a.suberror) for a in answers.LOGIN_ANSWERS.values()}
    assert {("invalid_grant", 70043, "token_expired"), ("interaction_required", 70043, "token_expired"),
            ("invalid_grant", 700084, None), ("invalid_grant", 50078, "basic_action"),
            ("interaction_required", 50079, "basic_action"), ("interaction_required", 53003, "message_only"),
            ("invalid_grant", 50196, None)} <= seen
    assert {a.suberror for a in answers.LOGIN_ANSWERS.values() if a.error == "interaction_required"} >= set(
        answers.SUBERRORS)


def test_plain_text_429_from_the_token_endpoint(proto, emulator):
    refresh_token = _refresh_token(emulator, proto)
    emulator.fault("token", "non_json", status=429, retry_after=60)
    response = proto.refresh(refresh_token)
    assert response.status_code == 429
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "Too Many Requests"
    assert response.headers["Retry-After"] == "60"


@pytest.mark.parametrize("name", sorted(answers.DRIVE_ANSWERS))
def test_drive_answers_on_the_drive_itself(proto, emulator, name):
    answer = answers.DRIVE_ANSWERS[name]
    access_token = emulator.grant(proto.PUBLIC, proto.ADELE, ALL)["access_token"]
    emulator.fault("drive", "answer", answer=name)
    response = proto.graph("/me/drive", access_token)
    assert response.status_code == answer.status
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (answer.code, answer.message)
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert proto.graph("/me/drive", access_token).status_code == 200


@pytest.mark.parametrize("name", sorted(answers.DRIVE_ANSWERS))
def test_drive_answers_inside_a_batch(proto, emulator, name):
    answer = answers.DRIVE_ANSWERS[name]
    access_token = emulator.grant(proto.PUBLIC, proto.ADELE, ALL)["access_token"]
    emulator.fault("drive", "answer", answer=name)
    payload = {"requests": [{"id": "me", "method": "GET", "url": "/me"},
                            {"id": "drive", "method": "GET", "url": "/me/drive"}]}
    response = proto.graph("/$batch", access_token, "POST", payload, {"Content-Type": "application/json"})
    assert response.status_code == 200
    inner = {item["id"]: item for item in response.json()["responses"]}
    assert inner["me"]["status"] == 200
    assert inner["drive"]["status"] == answer.status
    assert inner["drive"]["body"]["error"]["code"] == answer.code
    assert inner["drive"]["body"]["error"]["message"] == answer.message


@pytest.mark.parametrize(
    "endpoint, name, complaint",
    [
        ("token", "no_such_answer", "unknown answer"),
        ("token", "no_spo_license", "unknown answer"),
        ("drive", "ca_blocked", "unknown answer"),
        ("me", "no_spo_license", "answer faults target"),
        ("token", None, "unknown answer"),
    ],
)
def test_bad_answer_faults_are_refused(emulator, endpoint, name, complaint):
    with pytest.raises(EmulatorError, match=complaint):
        emulator.fault(endpoint, "answer", answer=name)
    assert emulator.pending_faults() == 0


def _fixtures_with(tmp_path, **extra_user):
    raw = yaml.safe_load(config.DEFAULT_FIXTURES.read_text(encoding="utf-8"))
    raw["users"].append(dict(login="nospo@contoso.onmicrosoft.com", id="f9e5a6b7-8c9d-4e0f-8a1b-3c4d5e6f7a81",
                             tenant="contoso", given_name="Nora", surname="Nospo", **extra_user))
    path = tmp_path / "fixtures.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_a_user_whose_tenant_has_no_sharepoint_licence(tmp_path):
    fixtures = _fixtures_with(tmp_path, drive=None, drive_answer="no_spo_license")
    with EmulatorProcess(tmp_path / "state", https=False, config=fixtures) as process:
        client = process.client
        access_token = client.grant("3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "nospo@contoso.onmicrosoft.com",
                                    ALL)["access_token"]
        response = requests.get(f"{client.base_url}/v1.0/me/drive", timeout=30,
                                headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"
    assert response.json()["error"]["message"] == "Tenant does not have a SPO license."


@pytest.mark.parametrize("extra", [dict(drive=None, drive_answer="nonsense"),
                                   dict(drive=dict(id="x", type="business", total=1, used=0),
                                        drive_answer="no_spo_license")])
def test_a_drive_answer_needs_no_drive_and_a_known_name(tmp_path, extra):
    with pytest.raises(ValueError, match="drive_answer"):
        config.load(_fixtures_with(tmp_path, **extra))


def test_a_user_without_drive_answer_keeps_the_default_404(proto, emulator):
    access_token = emulator.grant(proto.PUBLIC, proto.NODRIVE, ALL)["access_token"]
    response = proto.graph("/me/drive", access_token)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ResourceNotFound"


def test_scope_answer_switches_change_only_how_scope_is_written(emulator):
    app, work = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "adele@contoso.onmicrosoft.com"
    asked = ["offline_access", "User.Read", "Files.Read"]
    assert emulator.grant(app, work, asked)["scope"].split() == [
        "https://graph.microsoft.com/Files.Read", "https://graph.microsoft.com/User.Read", "offline_access"]

    emulator.scope_answer(omit_offline_access=True, full_uris=False)
    answer = emulator.grant(app, work, asked)
    assert answer["scope"].split() == ["Files.Read", "User.Read"] and answer["refresh_token"]

    emulator.scope_answer(extra=["Calendars.Read"], case="upper")
    assert "https://graph.microsoft.com/CALENDARS.READ" in emulator.grant(app, work, asked)["scope"].split()

    emulator.reset()
    assert "offline_access" in emulator.grant(app, work, asked)["scope"].split()
