"""The emulator as one object: fixtures, state, clock, key, faults and log, plus the serving step
every non-control request goes through."""

from __future__ import annotations

import sys
import time
import traceback

from . import faults
from .applications import Directory
from .clock import Clock
from .config import Fixtures
from .errors import Diagnostics, GraphError, OAuthError, graph_error_body, login_error_body
from .faults import Faults
from .http import GRAPH_JSON_TYPE, DropConnection, Request, Response, json_response, no_store, text_response
from .ids import guid
from .requestlog import RequestLog
from .routes import Route
from .signing import Signer
from .state import Store

class Emulator:
    def __init__(self, fixtures: Fixtures) -> None:
        self.fixtures = fixtures
        self.base_url = ""  # known once the server is bound
        self.clock = Clock()
        self.store = Store(self.clock, tuple(a.secret for a in fixtures.apps if a.secret))
        # Application registrations made through Graph, which the login endpoints serve too.
        self.directory = Directory(fixtures)
        self.signer = Signer()
        self.faults = Faults()
        self.log = RequestLog()

    def reset(self) -> None:
        self.store.reset()
        self.clock.reset()
        self.faults.reset()
        self.log.clear()
        self.directory.reset()

    def serve(self, route: Route, request: Request) -> Response:
        """Latency, then an injected fault if one is due, else the endpoint itself."""
        if self.faults.latency:
            time.sleep(self.faults.latency)
        fault = self.faults.take(route.endpoint, route.group)
        if fault is not None and not faults.carry_out(fault):
            return faults.render(self, fault, route.endpoint, route.group, request)
        try:
            return route.handler(self, request)
        except DropConnection:
            raise
        except Exception:  # an emulator bug: keep serving, answer 500, leave the traceback on stderr
            traceback.print_exc(file=sys.stderr)
            return text_response(500, "msemu internal error (see the emulator's stderr)")

    def diagnostics(self, request: Request) -> Diagnostics:
        return Diagnostics.new(self.clock, request.header("client-request-id"))

    def login_error(self, request: Request, err: OAuthError) -> Response:
        body = login_error_body(err, self.diagnostics(request), self.base_url)
        return no_store(json_response(err.status, body))

    @staticmethod
    def graph_request_ids(request: Request) -> tuple[str, str]:
        """request-id (new) and client-request-id (echoed, or the request-id), as Graph answers."""
        request_id = guid()
        return request_id, request.header("client-request-id") or request_id

    def graph_json(self, request: Request, status: int, body: dict, headers: dict[str, str] | None = None,
                   request_ids: tuple[str, str] | None = None) -> Response:
        request_id, client_request_id = request_ids or self.graph_request_ids(request)
        response = json_response(status, body, GRAPH_JSON_TYPE)
        response.headers += [("request-id", request_id), ("client-request-id", client_request_id),
                             *(headers or {}).items()]
        return response

    def graph_error(self, request: Request, err: GraphError) -> Response:
        request_ids = self.graph_request_ids(request)
        body = graph_error_body(err, self.clock, *request_ids)
        return self.graph_json(request, err.status, body, err.headers, request_ids)
