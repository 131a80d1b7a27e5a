"""A real browser: headless Chromium (Debian's, driven by Playwright) signs in on the emulator's pages while the
bootstrap playbook waits, once coming back to the playbook's loopback listener, once after typing the device
code on /devicelogin. Screenshots of the pages a person sees go to tests/output/browser/."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import socket
import time

import pytest

from test_role_sign_in import ADELE, URL, start
from test_receive_redirect import free_port

pytestmark = [pytest.mark.tooling, pytest.mark.slow]

SCREENSHOTS = pathlib.Path(__file__).resolve().parents[1] / "output" / "browser"


@pytest.fixture
def browser_page():
    """A fresh headless Chromium page. Without Chromium the test fails in CI (make test and .ci/run install it)
    and is skipped with the reason elsewhere."""
    executable = shutil.which("chromium")
    if executable is None:
        message = "Debian's chromium is not installed: apt-get install -y chromium chromium-driver (tests/ci/browser.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        # As root (CI) Chromium needs --no-sandbox. The emulator's CA is not in Chromium's store; its pages are
        # the emulator's own, so their certificate is not what these tests check.
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        context = browser.new_context(ignore_https_errors=True, viewport={"width": 900, "height": 700})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def sign_in_and_consent(page, name, before_accept=None):
    """What a person does on the emulator's sign-in and consent pages."""
    page.wait_for_selector("form#signin")
    page.fill("input[name=login]", ADELE)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-1-sign-in.png"))
    page.click("form#signin button[type=submit]")
    page.wait_for_selector("form#consent")
    page.screenshot(path=str(SCREENSHOTS / f"{name}-2-consent.png"))
    if before_accept:
        before_accept()
    page.click("form#consent button[value=accept]")


def listening(port, timeout=60):
    """Waits until the playbook's listener is up: the task's banner shows before its module has started, and a
    person who came back sooner would have to reload the page."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened on port {port}")


def test_loopback_sign_in_in_chromium(browser_page, ansible_run, emulator, collection_playbook):
    port = free_port()
    run = start(ansible_run, emulator, collection_playbook, onedrive_sign_in="loopback",
                onedrive_loopback_redirect_uri=f"http://localhost:{port}/")
    url = run.wait_for(URL).group(1)
    run.wait_for(r"TASK \[onedrive\.connection\.bootstrap : Wait for the browser to come back\]")
    browser_page.goto(url)
    sign_in_and_consent(browser_page, "loopback", before_accept=lambda: listening(port))
    browser_page.wait_for_url(re.compile(rf"^http://localhost:{port}/\?code="))
    browser_page.wait_for_selector("text=You can close this tab")
    browser_page.screenshot(path=str(SCREENSHOTS / "loopback-3-signed-in.png"))
    # The page the listener answered shows no code, though the address bar holds one.
    assert not [secret for secret in emulator.issued() if secret in browser_page.content()]
    result = run.finish()
    assert result.rc == 0, result.output[-3000:]
    assert "Connection robot1 now works: adele@contoso.onmicrosoft.com" in result.output
    stored = collection_playbook.read()["onedrive_connections"]["robot1"]
    assert stored["user_principal_name"] == ADELE and stored["refresh_token"]


def test_device_code_sign_in_in_chromium(browser_page, ansible_run, emulator, collection_playbook):
    emulator.device_answer(interval=1)
    run = start(ansible_run, emulator, collection_playbook, onedrive_sign_in="device_code")
    shown = run.wait_for(r"open the page (\S+) and enter the code (\w+)")
    browser_page.goto(shown.group(1))
    browser_page.fill("input[name=otc]", shown.group(2))
    browser_page.screenshot(path=str(SCREENSHOTS / "device-code-0-enter-code.png"))
    browser_page.click("form#devicecode button[type=submit]")
    sign_in_and_consent(browser_page, "device-code")
    browser_page.wait_for_selector("text=You have signed in to the application on your device")
    browser_page.screenshot(path=str(SCREENSHOTS / "device-code-3-signed-in.png"))
    result = run.finish()
    assert result.rc == 0, result.output[-3000:]
    assert "Connection robot1 now works: adele@contoso.onmicrosoft.com" in result.output
    assert collection_playbook.read()["onedrive_connections"]["robot1"]["user_principal_name"] == ADELE
