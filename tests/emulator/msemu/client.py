"""Python client of the control API, plus browser-like sign-in (what the `emulator` fixture returns)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from . import browser
from .browser import SignInError

__all__ = ["EmulatorClient", "EmulatorError", "SignInError"]


class EmulatorError(RuntimeError):
    """The control API refused a call (unknown user, bad fault, audience rules for grant(), ...)."""


class EmulatorClient:
    def __init__(self, base_url: str, ca_path: str | Path | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.ca_path = str(ca_path) if ca_path else None
        self._context = ssl.create_default_context(cafile=self.ca_path) if self.ca_path else None

    def _call(self, method: str, action: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.base_url}/_emulator/{action}", method=method,
            data=json.dumps(body).encode("utf-8") if body is not None else None,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as err:
            with err:
                detail = json.load(err)
            raise EmulatorError(f"{action}: {detail.get('error_description') or detail}") from None

    def reset(self) -> None:
        self._call("POST", "reset", {})

    def fault(self, endpoint: str, kind: str, count: int = 1, status: int | None = None,
              retry_after: int | float | str | None = None, delay: float | None = None,
              answer: str | None = None) -> None:
        """Inject a fault; kind "answer" gives the named answer of msemu/answers.py (endpoint token or drive)."""
        self._call("POST", "fault", {"endpoint": endpoint, "kind": kind, "count": count, "status": status,
                                     "retry_after": retry_after, "delay": delay, "answer": answer})

    def pending_faults(self) -> int:
        """How many requests the injected faults still apply to."""
        return self._call("GET", "fault")["pending"]

    def latency(self, seconds: float) -> None:
        self._call("POST", "latency", {"seconds": seconds})

    def revoke(self, user: str) -> int:
        """Revoke all of a user's grants; returns how many were live."""
        return self._call("POST", "revoke", {"user": user})["revoked"]

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward; returns its new time (epoch seconds)."""
        return self._call("POST", "clock", {"advance": seconds})["now"]

    def strict(self, enabled: bool = True) -> None:
        self._call("POST", "strict", {"enabled": enabled})

    def scope_answer(self, *, omit_offline_access: bool = False, extra: tuple[str, ...] | list[str] = (),
                     case: str | None = None, full_uris: bool | None = None) -> None:
        """How token answers write `scope` until the next reset (see ScopeAnswer in state.py)."""
        self._call("POST", "scope_answer", {"omit_offline_access": omit_offline_access, "extra": list(extra),
                                            "case": case, "full_uris": full_uris})

    def device_answer(self, *, interval: int | None = None, expires_in: int | None = None,
                      omit: tuple[str, ...] | list[str] = (), complete: bool = False) -> None:
        """How /devicecode answers until the next reset: another interval or lifetime, without `interval` or
        `message` (as RFC 8628 servers may), with `verification_uri_complete` (which Microsoft never sends)."""
        self._call("POST", "device_answer", {"interval": interval, "expires_in": expires_in, "omit": list(omit),
                                             "complete": complete})

    def log(self) -> dict:
        return self._call("GET", "log")

    def clear_log(self) -> None:
        self._call("DELETE", "log")

    def issued(self) -> list[str]:
        return self._call("GET", "issued")["secrets"]

    def grant(self, client_id: str, user: str, scopes: str | list[str], tenant: str = "common") -> dict:
        return self._call("POST", "grant", {"client_id": client_id, "user": user, "scopes": scopes,
                                            "tenant": tenant})

    def sign_in(self, authorize_url: str, user: str | None, consent: bool = True) -> str:
        """Sign `user` in through the pages (user=None keeps the login_hint prefill); see msemu.browser."""
        return browser.sign_in(self.base_url, self.ca_path, authorize_url, user, consent)

    def device_sign_in(self, user_code: str, user: str | None, consent: bool = True) -> str:
        """Enter a device flow's user_code on /devicelogin and sign in; returns the final page's text."""
        return browser.device_sign_in(self.base_url, self.ca_path, user_code, user, consent)
