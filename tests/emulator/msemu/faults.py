"""Injected faults and latency, and the responses a faulty service or proxy gives."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from . import answers, pages
from .errors import GraphError, OAuthError
from .http import DropConnection, Request, Response, html_response, text_response

if TYPE_CHECKING:
    from .emulator import Emulator

LOGIN_ENDPOINTS = ("openid", "keys", "authorize", "signin", "consent", "token", "devicecode", "devicelogin",
                   "logout")
GRAPH_ENDPOINTS = ("me", "drive", "batch", "applications", "servicePrincipals", "oauth2PermissionGrants")
# Pages a browser shows: a `status` fault on them is an HTML error page rather than JSON.
BROWSER_ENDPOINTS = frozenset({"authorize", "signin", "consent", "devicelogin", "logout"})
TARGETS = LOGIN_ENDPOINTS + GRAPH_ENDPOINTS + ("login", "graph", "*")
KINDS = ("status", "html", "non_json", "delay", "drop", "answer")
DEFAULT_STATUS = {"status": 503, "html": 502, "non_json": 503}

_GRAPH_CODES = {429: "TooManyRequests", 500: "generalException", 502: "badGateway",
                503: "serviceNotAvailable", 504: "gatewayTimeout"}


@dataclass
class Fault:
    endpoint: str
    kind: str
    remaining: int
    status: int | None
    retry_after: str | None
    delay: float
    answer: str | None = None  # the name of an answers.py answer, for kind "answer"


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.latency = 0.0

    def reset(self) -> None:
        with self._lock:
            self._faults = []
            self.latency = 0.0

    def set_latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must not be negative")
        self.latency = float(seconds)

    def add(self, endpoint: str, kind: str, count: int = 1, status: int | None = None,
            retry_after: int | float | str | None = None, delay: float | None = None,
            answer: str | None = None) -> None:
        if endpoint not in TARGETS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {', '.join(TARGETS)}")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}")
        if int(count) < 1:
            raise ValueError("count must be at least 1")
        if kind == "delay" and not delay:
            raise ValueError("a delay fault needs delay (seconds)")
        if status is not None and not 100 <= int(status) <= 599:
            raise ValueError(f"status {status} is not an HTTP status")
        if kind == "answer":
            answers.check(endpoint, answer)
        fault = Fault(endpoint, kind, int(count),
                      int(status) if status is not None else DEFAULT_STATUS.get(kind),
                      None if retry_after is None else str(retry_after), float(delay or 0), answer)
        with self._lock:
            self._faults.append(fault)

    def pending(self) -> int:
        """How many requests the faults still aim at: a test sees a request arrive by its fault being used up."""
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    def take(self, endpoint: str, group: str | None) -> Fault | None:
        """Use up one request of the oldest fault aimed at this endpoint, its group, or everything.
        Sub-requests of a $batch pass group=None: only faults naming them exactly apply."""
        targets = (endpoint,) if group is None else (endpoint, group, "*")
        with self._lock:
            for fault in self._faults:
                if fault.endpoint in targets:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None


def carry_out(fault: Fault) -> bool:
    """Act on a drop or delay fault; True when the request is then to be answered normally."""
    if fault.kind == "drop":
        raise DropConnection
    if fault.kind == "delay":
        time.sleep(fault.delay)
        return True
    return False


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def graph_fault_error(fault: Fault, endpoint: str) -> GraphError:
    code = "activityLimitReached" if fault.status == 429 and endpoint == "drive" else _GRAPH_CODES.get(
        fault.status, "generalException")
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
    return GraphError(fault.status, code, f"{reason(fault.status)} (injected fault).", headers)


def _login_fault_error(fault: Fault) -> OAuthError:
    if fault.status == 429:
        return OAuthError("temporarily_unavailable", 90055, "There are too many incoming requests. "
                          "Please try again later.", status=429)
    if fault.status >= 500:
        error = "server_error" if fault.status == 500 else "temporarily_unavailable"
        return OAuthError(error, 90033, "A transient error has occurred. Please try again.", status=fault.status)
    return OAuthError("invalid_request", 90023, "The authentication service request is not valid.",
                      status=fault.status)


def proxy_page(status: int) -> str:
    phrase = reason(status)
    return (f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def answer_error(fault: Fault) -> GraphError | OAuthError:
    """The error an answer fault stands for."""
    return answers.BY_ENDPOINT[fault.endpoint][fault.answer].exception()


def render(emu: Emulator, fault: Fault, endpoint: str, group: str, request: Request) -> Response:
    """The answer of a status, html, non_json or answer fault."""
    if fault.kind == "answer" and endpoint == "batch":
        from .graph import refused_inside  # graph imports this module

        return refused_inside(emu, request, answer_error(fault))
    if fault.kind == "answer":
        err = answer_error(fault)
        response = (emu.graph_error(request, err) if isinstance(err, GraphError)
                    else emu.login_error(request, err))
    elif fault.kind == "html":
        response = html_response(fault.status, proxy_page(fault.status))
    elif fault.kind == "non_json":
        response = text_response(fault.status, reason(fault.status))
    elif group == "graph":
        return emu.graph_error(request, graph_fault_error(fault, endpoint))
    elif endpoint in BROWSER_ENDPOINTS:
        response = html_response(fault.status, pages.error(_login_fault_error(fault), emu.diagnostics(request)))
    else:
        response = emu.login_error(request, _login_fault_error(fault))
    if fault.retry_after:
        response.headers.append(("Retry-After", fault.retry_after))
    return response
