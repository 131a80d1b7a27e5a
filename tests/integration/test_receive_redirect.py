"""onedrive.connection.receive_redirect: real ansible-playbook runs whose listener a client (here requests, in
test_browser_sign_in.py a real Chromium) brings the emulator's sign-in response to."""

from __future__ import annotations

import json
import pathlib
import socket
import threading
import time

import requests

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "receive_redirect" / "loopback.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
ADELE = "adele@contoso.onmicrosoft.com"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def variables(emulator, tmp_path, port, **extra):
    return {
        **dict(client_id=PUBLIC_APP, emulator_url=emulator.base_url, ca_path=str(emulator.ca_path),
               redirect_uri=f"http://localhost:{port}/", handover=str(tmp_path / "sign-in-url")),
        **extra,
    }


def get(url):
    """A GET to the listener, retried while it is not up yet (as a person reloads the page)."""
    for _ in range(200):
        try:
            return requests.get(url, timeout=10)
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened at {url}")


class Browser(threading.Thread):
    """Signs Adele in once the playbook handed the URL over, then delivers what ``deliver`` makes of the answer."""

    def __init__(self, emulator, tmp_path, deliver, consent=True):
        super().__init__(daemon=True)
        self.emulator, self.tmp_path, self.deliver, self.consent = emulator, tmp_path, deliver, consent
        self.pages = []
        self.start()

    def run(self):
        handover = self.tmp_path / "sign-in-url"
        for _ in range(600):
            if handover.exists() and handover.read_text():
                break
            time.sleep(0.1)
        answer = self.emulator.sign_in(handover.read_text(), ADELE, consent=self.consent)
        self.pages = [get(url) for url in self.deliver(answer)]


def report(run):
    return run.task("Report")["msg"]


def test_the_response_is_received_and_redeemed_past_other_requests(ansible_run, emulator, tmp_path):
    port = free_port()

    def deliver(answer):
        base = answer.split("?")[0]
        forged = answer.replace("state=", "state=forged")
        return [f"{base}favicon.ico", forged, f"{answer}&iss={emulator.base_url}&client_info=eyJ1aWQiOiIxIn0"]

    browser = Browser(emulator, tmp_path, deliver)
    run = ansible_run(PLAYBOOK, extra_vars=variables(emulator, tmp_path, port))
    browser.join(30)
    assert run.rc == 0, run.output
    shown = report(run)
    assert shown["received"]["state_mismatches"] == 1 and shown["received"]["ignored_requests"] == 1
    assert shown["redeemed"]["changed"] is True and shown["redeemed"]["token_type"] == "Bearer"
    favicon, forged, real = browser.pages
    assert favicon.status_code == 404 and forged.status_code == 400 and "another sign-in" in forged.text
    assert real.status_code == 200 and "You can close this tab" in real.text
    assert real.headers["Cache-Control"] == "no-store" and real.headers["Referrer-Policy"] == "no-referrer"
    secrets = emulator.issued()
    for text in (run.output, json.dumps(run.tasks), real.text, forged.text):
        assert not [secret for secret in secrets if secret in text]


def test_an_error_response_fails_with_its_reason_and_tells_the_browser(ansible_run, emulator, tmp_path):
    port = free_port()
    browser = Browser(emulator, tmp_path, lambda answer: [answer], consent=False)
    run = ansible_run(PLAYBOOK, extra_vars=variables(emulator, tmp_path, port))
    browser.join(30)
    received = report(run)["received"]
    assert received["failed"] is True and received["reason"] == "access_denied" and received["error"] == "access_denied"
    (page,) = browser.pages
    assert page.status_code == 200 and "Sign-in failed" in page.text and "access_denied" in page.text


def test_a_port_in_use_is_named(ansible_run, emulator, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = ansible_run(PLAYBOOK, extra_vars=variables(emulator, tmp_path, port))
    received = report(run)["received"]
    assert received["reason"] == "port_in_use" and f"Port {port} on 127.0.0.1 is in use" in received["msg"]


def test_nobody_comes_back(ansible_run, emulator, tmp_path):
    run = ansible_run(PLAYBOOK, extra_vars=variables(emulator, tmp_path, free_port(), listen_timeout=1))
    received = report(run)["received"]
    assert received["reason"] == "sign_in_timeout" and "within 1 s" in received["msg"]


def test_only_loopback_redirect_uris(ansible_run, tmp_path):
    cases = ["https://localhost:8400/", "http://example.com:8400/", "http://localhost/", "http://[::1]:8400/",
             "http://localhost:8400/?a=b", "https://login.microsoftonline.com/common/oauth2/nativeclient"]
    playbook = tmp_path / "refused.yml"
    playbook.write_text("""---
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Listen
      onedrive.connection.receive_redirect:
        redirect_uri: "{{ item }}"
        state: s
        timeout: 1
      loop: %s
      register: refused
      ignore_errors: true
    - name: Report
      ansible.builtin.debug:
        msg: "{{ refused.results | map(attribute='reason') | list }}"
""" % json.dumps(cases))
    run = ansible_run(playbook)
    assert report(run) == ["invalid_option"] * len(cases)
