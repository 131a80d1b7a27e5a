"""A stand-in for the network: queued answers for every request a requests.Session sends."""

from __future__ import annotations

import contextlib
import json

import pytest
import requests


class FakeHTTP:
    """Answers requests in the order they were queued, and records what was sent."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self._answers: list = []

    def answer(self, status: int = 200, payload=None, *, body: str | None = None, headers: dict | None = None):
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers or {})
        if payload is not None:
            response.headers["Content-Type"] = "application/json"
            body = json.dumps(payload)
        response._content = (body or "").encode()
        self._answers.append(response)

    def fail(self, exc: Exception) -> None:
        self._answers.append(exc)

    def __call__(self, method: str, url: str, **kwargs) -> requests.Response:
        self.requests.append(dict(method=method, url=url, **kwargs))
        answer = self._answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def fake_http(monkeypatch):
    fake = FakeHTTP()
    monkeypatch.setattr(requests.Session, "request", fake)
    return fake


@pytest.fixture
def run_module(capsys, monkeypatch):
    """Run a module's main() with the given arguments; returns its parsed JSON result."""

    def run(main, args: dict, *, check_mode: bool = False) -> dict:
        if check_mode:
            args = dict(args, _ansible_check_mode=True)
        with _module_args(monkeypatch, args), pytest.raises(SystemExit):
            main()
        return json.loads(capsys.readouterr().out)

    return run


def _module_args(monkeypatch, args: dict):
    """Hands a module its arguments the way the running ansible-core release does."""
    from ansible.module_utils.common import warnings

    try:
        from ansible.module_utils import _internal
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core before 2.19: the arguments are a JSON document in basic._ANSIBLE_ARGS
        from ansible.module_utils import basic

        monkeypatch.setattr(warnings, "_global_warnings", [])
        monkeypatch.setattr(warnings, "_global_deprecations", [])
        monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
        return contextlib.nullcontext()
    # Importing controller code (other tests do) makes warn() display instead of collecting; a module
    # runs apart from the controller. Warnings are collected process-wide; each run sees only its own.
    monkeypatch.setattr(_internal, "is_controller", False)
    monkeypatch.setattr(warnings, "_global_warnings", {})
    return patch_module_args(args)
