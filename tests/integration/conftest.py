"""Integration fixtures: real ansible-playbook runs (see runner.py) against the emulator."""

from __future__ import annotations

import pytest

from runner import Runner


@pytest.fixture
def ansible_run(tmp_path):
    return Runner(tmp_path)
