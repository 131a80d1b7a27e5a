"""What a person or a pipeline supplies to the bootstrap role reaches the modules as data, never as a template.

Each way of giving the sign-in response carries a Jinja expression that would create a marker file on the
controller if it were ever evaluated: the run must fail on the response's state, and the marker must not exist.
"""

from __future__ import annotations

import pytest

from test_role_bootstrap import ADELE, PROMPT, sign_in_url

NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"


def forged(marker) -> str:
    return f'{NATIVE}?code=abc&state=def#{{{{ lookup("pipe", "touch {marker}") }}}}'


def pending_sign_in(collection_playbook) -> str:
    """Runs the role once without a response, so that a sign-in waits in the vault; returns its URL."""
    first = collection_playbook("bootstrap")
    assert first.rc != 0 and "No sign-in response for connection robot1" in first.output, first.output
    return sign_in_url(first.output)


@pytest.mark.parametrize("way", ["extra variable", "file", "environment"])
def test_a_response_is_never_evaluated_as_a_template(emulator, collection_playbook, tmp_path, way):
    pending_sign_in(collection_playbook)
    marker = tmp_path / "evaluated"
    response = forged(marker)
    given = tmp_path / "response.txt"
    given.write_text(response + "\n")
    options = {
        "extra variable": dict(extra_vars={"onedrive_auth_response": response}),
        "file": dict(extra_vars={"onedrive_auth_response_file": str(given)}),
        "environment": dict(env={"ONEDRIVE_AUTH_RESPONSE": response}),
    }[way]

    run = collection_playbook("bootstrap", **options)

    assert not marker.exists(), "the sign-in response was evaluated as a template"
    assert run.rc != 0 and "state_mismatch" in run.output, run.output
    assert "Traceback" not in run.output


def test_a_response_typed_at_the_prompt_is_not_evaluated(emulator, collection_playbook, tmp_path):
    marker = tmp_path / "evaluated"
    run = collection_playbook("bootstrap", terminal=(PROMPT, lambda screen: forged(marker)))
    assert not marker.exists(), "the typed sign-in response was evaluated as a template"
    assert run.rc != 0 and "state_mismatch" in run.output, run.output


@pytest.mark.parametrize("way", ["file", "environment"])
def test_the_pipeline_ways_redeem_a_real_response_and_never_show_it(emulator, collection_playbook, tmp_path, way):
    address_bar = emulator.sign_in(pending_sign_in(collection_playbook), ADELE)
    given = tmp_path / "response.txt"
    given.write_text(f"  {address_bar}\n")
    options = {
        "file": dict(extra_vars={"onedrive_auth_response_file": str(given)}),
        "environment": dict(env={"ONEDRIVE_AUTH_RESPONSE": address_bar}),
    }[way]

    run = collection_playbook("bootstrap", verbosity=4, **options)

    assert run.rc == 0, run.output
    assert collection_playbook.read()["onedrive_connections"]["robot1"]["user_principal_name"] == ADELE
    code = address_bar.split("code=")[1].split("&")[0]
    assert code not in run.output
    for secret in emulator.issued():
        assert secret not in run.output


def test_an_unreadable_response_file_is_named(emulator, collection_playbook, tmp_path):
    pending_sign_in(collection_playbook)
    missing = tmp_path / "no-such-file.txt"
    run = collection_playbook("bootstrap", extra_vars={"onedrive_auth_response_file": str(missing)})
    assert run.rc != 0
    assert f"The sign-in response file {missing} cannot be read" in run.output, run.output
