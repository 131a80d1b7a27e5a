"""Shared pytest set-up: the collection import path and the emulator fixtures."""

from __future__ import annotations

import os
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent

# `ansible-test units` runs pytest with its own configuration, not pytest.ini, so the test helpers' folders
# are put on the path here as well, and the markers are declared here rather than in pytest.ini.
for _helpers in (REPO / "tests" / "emulator", REPO / "tests" / "integration"):
    if str(_helpers) not in sys.path:
        sys.path.append(str(_helpers))

MARKERS = (
    "slow: takes more than a few seconds (still part of make test)",
    "tooling: needs a tool of the default environment only (Chromium and Playwright, ansible-runner,"
    " ansible-builder, prometheus_client); make test runs them, the other matrix cells leave them out",
)


def pytest_configure(config):
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)

# Ansible finds collections only under an ansible_collections/<namespace>/<name> layout; the repository is
# the collection, so a link under .build provides that layout (pytest.ini puts .build/collections on sys.path).
_LINK = REPO / ".build" / "collections" / "ansible_collections" / "onedrive" / "connection"
if not _LINK.exists():
    _LINK.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(REPO, _LINK.parent), _LINK)

# --- emulator fixtures ---

import pytest  # noqa: E402 - the emulator fixtures keep their imports in their own section
from msemu.process import EmulatorProcess  # noqa: E402


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """One HTTPS emulator for the whole session: an EmulatorClient plus .base_url and .ca_path."""
    with EmulatorProcess(tmp_path_factory.mktemp("msemu"), https=True) as process:
        yield process.client


@pytest.fixture(autouse=True)
def _reset_emulator(request):
    """Give every test that uses the emulator its default state; other tests never start it."""
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").reset()
