"""Bad input through ansible-playbook: one run of many cases, each refused naming its option or read correctly,
none failing with a traceback."""

from __future__ import annotations

import json
import pathlib
from urllib.parse import parse_qsl, urlsplit

import pytest

from runner import Runner

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "bad_input" / "bad_input.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
FREE_TEXT = "été ✓ 李雷 &=#?%2f\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The one playbook run every test here reads; pipelining saves a file copy per module run."""
    runner = Runner(tmp_path_factory.mktemp("bad_input"))
    result = runner(PLAYBOOK, extra_vars=dict(client_id=PUBLIC_APP), env=dict(ANSIBLE_PIPELINING="1"))
    assert result.rc == 0, result.output
    assert "Traceback" not in result.output and "MODULE FAILURE" not in result.output, result.output
    return result


def outcome(run, name: str) -> dict:
    """A task's result, with ``failed`` set from its status (Ansible leaves it out of a failed task's result)."""
    (result,) = [result for task_name, result in outcomes(run) if task_name == name]
    return result


def outcomes(run) -> list[tuple[str, dict]]:
    return [(entry["name"], dict(entry["result"], failed=entry["status"] == "failed")) for entry in run.tasks]


def assert_refused(result: dict, option: str) -> None:
    assert result["failed"] is True, result
    assert option in result["msg"], result["msg"]
    # Without traceback display on, Ansible puts this placeholder in every failed result.
    assert result.get("exception", "(traceback unavailable)") == "(traceback unavailable)", result
    assert "module_stderr" not in result and "Traceback" not in json.dumps(result), result


@pytest.mark.parametrize(
    "task", ["Sign-in URL options that are refused", "Rotation options and connection records that are refused"]
)
def test_each_item_is_refused_naming_its_option(run, task):
    results = outcome(run, task)["results"]
    assert len(results) >= 4
    for result in results:
        assert_refused(result, result["item"]["option"])


def test_unicode_and_url_syntax_reach_the_url_intact(run):
    result = outcome(run, "Unicode and URL syntax in every free-text option")
    query = dict(parse_qsl(urlsplit(result["url"]).query))
    assert query["state"] == query["login_hint"] == query["domain_hint"] == FREE_TEXT == result["state"]
    assert result["scopes"] == ["offline_access", "User.Read", "Files.Read"]


def test_every_pasted_shape_is_read(run):
    results = outcome(run, "Sign-in responses as users paste them (check mode reads them without redeeming)")["results"]
    assert [result["item"]["shape"] for result in results if "not redeemed" in result["msg"]] == [
        "form_post body with extra parameters",
        "whitespace and line breaks",
        "encoded twice",
        "a megabyte",
    ]


def test_responses_are_refused_with_their_reason(run):
    results = outcome(run, "Sign-in responses that are refused")["results"]
    refusals = {result["item"]["case"]: result for result in results}
    expected = {
        "missing code": ("invalid_option", "response_url holds no code"),
        "error redirect": ("access_denied", "AADSTS65004: Declined"),
        "different state": ("state_mismatch", "state"),
        "binary": ("invalid_option", "holds no state"),
    }
    assert set(refusals) == set(expected)
    for case, (reason, words) in expected.items():
        assert_refused(refusals[case], words)
        assert refusals[case]["reason"] == reason, case


def test_null_options_are_refused(run):
    assert_refused(outcome(run, "A null code"), "code, response_url and device_code")
    assert_refused(outcome(run, "A null refresh token"), "refresh_token and access_token")


def test_a_connection_without_a_refresh_token_fails_alone(run):
    result = outcome(run, "Rotation options and connection records that are refused")["results"][-1]
    assert result["connection_results"]["robot1"]["reason"] == "token_invalid"
    assert "refresh_token" in result["connection_results"]["robot1"]["msg"]


def test_role_arguments_are_validated(run):
    validations = [result for name, result in outcomes(run) if name.startswith("Validating arguments")]
    assert [result["validate_args_context"]["name"] for result in validations] == ["bootstrap", "rotate"]
    assert_refused(validations[0], "onedrive_cloud")
    assert_refused(validations[1], "onedrive_rotate_workers")
