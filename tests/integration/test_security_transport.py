"""Redirects that would carry credentials away (issue 20), through real ansible-playbook runs.

A stub on 127.0.0.1 plays the login and Graph hosts and answers every request with a redirect to a capture
server; redeem_code, verify with a refresh token and verify with an access token must each fail with
unexpected_response naming where the redirect pointed, and the capture server must receive nothing.
"""

from __future__ import annotations


import pytest
from stub_http import serve
from msemu.tls import server_context

PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
CODE = "code-M.C507_BAY.2.U.secret-code-value"
CODE_VERIFIER = "verifier-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
CLIENT_SECRET = "client-secret-value~1234"
REFRESH_TOKEN = "refresh-secret-M.C507_BAY.0.U.-value"
ACCESS_TOKEN = "access-secret-EwB4A8l6BAAU-value"
SECRETS = (CODE, CODE_VERIFIER, CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN)
# Part of the Location's query, which a message must not repeat.
QUERY_MARK = "query-must-not-show"

PLAYBOOK = """
- name: Requests against a redirecting stub
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Redeem
      onedrive.connection.redeem_code:
        client_id: "{{ client_id }}"
        login_url: "{{ stub_url }}"
        graph_url: "{{ stub_url }}"
        ca_path: "{{ ca_path | default(omit) }}"
        client_secret: "{{ client_secret }}"
        code: "{{ code }}"
        code_verifier: "{{ code_verifier }}"
      ignore_errors: true

    - name: Verify with a refresh token
      onedrive.connection.verify:
        client_id: "{{ client_id }}"
        login_url: "{{ stub_url }}"
        graph_url: "{{ stub_url }}"
        ca_path: "{{ ca_path | default(omit) }}"
        client_secret: "{{ client_secret }}"
        refresh_token: "{{ refresh_token }}"
      ignore_errors: true

    - name: Verify with an access token
      onedrive.connection.verify:
        client_id: "{{ client_id }}"
        login_url: "{{ stub_url }}"
        graph_url: "{{ stub_url }}"
        ca_path: "{{ ca_path | default(omit) }}"
        access_token: "{{ access_token }}"
      ignore_errors: true
"""
TASKS = ("Redeem", "Verify with a refresh token", "Verify with an access token")


def record_only(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "2")
    handler.end_headers()
    handler.wfile.write(b"{}")


def redirect_to(location, status):
    def answer(handler):
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


@pytest.mark.parametrize("scheme, status", [("http", 307), ("https", 308)])
def test_no_redirect_carries_credentials_away(ansible_run, tmp_path, scheme, status):
    tls = server_context(tmp_path) if scheme == "https" else None
    with serve(record_only) as (capture_url, captured):
        location = f"{capture_url}/capture?{QUERY_MARK}=1&client_secret=x"
        with serve(redirect_to(location, status), tls) as (stub_url, seen):
            variables = dict(
                client_id=PUBLIC_APP,
                stub_url=stub_url,
                client_secret=CLIENT_SECRET,
                code=CODE,
                code_verifier=CODE_VERIFIER,
                refresh_token=REFRESH_TOKEN,
                access_token=ACCESS_TOKEN,
            )
            if tls:
                variables["ca_path"] = str(tmp_path / "ca.pem")
            run = ansible_run(PLAYBOOK, extra_vars=variables, verbosity=4)
    assert run.rc == 0, run.output
    capture_host = capture_url.split("//")[1]
    statuses = {task["name"]: task["status"] for task in run.tasks}
    for name in TASKS:
        result = run.task(name)
        assert statuses[name] == "failed" and result["reason"] == "unexpected_response", (name, result)
        assert f"HTTP {status}" in result["msg"] and capture_host in result["msg"], (name, result["msg"])
        assert QUERY_MARK not in result["msg"] and "/capture" not in result["msg"], (name, result["msg"])
    # Each request reached the stub once, and nothing ever went where the redirects pointed.
    assert [path.split("?")[0] for _method, path, _body in seen] == [
        "/common/oauth2/v2.0/token",
        "/common/oauth2/v2.0/token",
        "/v1.0/$batch",
    ]
    assert captured == []
    assert "Traceback" not in run.output and "MODULE FAILURE" not in run.output, run.output
    for secret in SECRETS:
        assert secret not in run.output
