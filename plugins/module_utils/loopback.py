# Copyright: onedrive.connection contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A listener for a loopback redirect URI (RFC 8252, section 7.3): it waits on 127.0.0.1 for the browser that
the sign-in sends back, answers it with a small page, and hands over the response it brought."""

from __future__ import annotations

import errno
import hmac
import html
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError, authorize_error
from ansible_collections.onedrive.connection.plugins.module_utils.redirect import parse_response

# Only the loopback interface: nothing on the network can reach the listener, as RFC 8252 (section 8.3) asks.
BIND_ADDRESS = "127.0.0.1"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
# A sign-in response takes a few KiB; a form_post body larger than this is no sign-in response.
MAX_BODY = 64 * 1024
# A browser sends its request at once; a connection that stays silent this long is dropped.
CONNECTION_TIMEOUT = 10
# How often the waiting loop looks at the clock.
_TICK = 0.25
_MAX_LENGTH = 256


class Loopback(t.NamedTuple):
    origin: str  # scheme://host:port as the redirect URI writes it, for the response_url handed over
    port: int
    path: str


def validate_loopback_uri(uri: str) -> Loopback:
    """A redirect URI this listener can serve: http, localhost or 127.0.0.1, an explicit port, no query."""
    problem = None
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme != "http" or (parts.hostname or "").lower() not in LOOPBACK_HOSTS:
        problem = "must be http://localhost:PORT/... or http://127.0.0.1:PORT/..., where this host's browser comes back"
    elif "@" in parts.netloc or parts.query or parts.fragment or "#" in uri or "?" in uri:
        problem = "must have no user name, query or fragment"
    elif not port:
        problem = "must name its port (such as http://localhost:8400/), since a port of its own is listened on"
    elif len(uri) > _MAX_LENGTH or not uri.isprintable() or " " in uri:
        problem = f"must have at most {_MAX_LENGTH} characters, without whitespace or control characters"
    if problem:
        raise OneDriveError(
            f"redirect_uri {problem}. The app registration needs a matching 'Mobile and desktop applications' redirect"
            " URI: http://localhost serves any port.",
            "invalid_option",
        )
    return Loopback(f"http://{parts.netloc}", port, parts.path or "/")


class Outcome(t.NamedTuple):
    response_url: str
    state_mismatches: int
    ignored_requests: int


_STYLE = (
    "body{font-family:Segoe UI,Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0}"
    "main{background:#fff;max-width:440px;margin:60px auto;padding:32px 44px;box-shadow:0 2px 6px #0003}"
    "h1{font-size:22px;font-weight:600}.error{color:#a80000}"
)


def page(title: str, text: str, css_class: str = "") -> bytes:
    """A small page; ``title`` and ``text`` are escaped here, and never carry a code or token."""
    shown = f'<p class="{css_class}">' if css_class else "<p>"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main><h1>{html.escape(title)}</h1>{shown}{html.escape(text)}</p>"
        "</main></body></html>"
    ).encode("utf-8")


_SIGNED_IN = page("Signed in", "Ansible has the sign-in response and finishes the connection. You can close this tab.")
_NOT_FOUND = page("Not found", "This address is not the one the sign-in comes back to.")
_OTHER_SIGN_IN = page(
    "Not this sign-in",
    "This response belongs to another sign-in than the one Ansible waits for. Open the sign-in URL the running"
    " playbook shows, and sign in again.",
    "error",
)
_NO_RESPONSE = page("No sign-in response", "This address holds neither a code nor an error.", "error")


class _Waiting:
    """What the request handlers share with the waiting loop."""

    def __init__(self, loopback: Loopback, state: str) -> None:
        self.loopback = loopback
        self.state = state
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.response_url: str | None = None
        self.error: OneDriveError | None = None
        self.state_mismatches = 0
        self.ignored_requests = 0

    def count(self, attribute: str) -> None:
        with self.lock:
            setattr(self, attribute, getattr(self, attribute) + 1)

    def answer(self, query: str, response_url: str) -> tuple[int, bytes]:
        """The status and page for a response at the redirect path; records a final outcome."""
        try:
            params = parse_response(query) if query else {}
        except OneDriveError:
            params = {}
        if "state" not in params and "code" not in params and "error" not in params:
            self.count("ignored_requests")
            return 400, _NO_RESPONSE
        if not hmac.compare_digest(params.get("state", "").encode("utf-8", "surrogatepass"),
                                   self.state.encode("utf-8", "surrogatepass")):
            # Another sign-in's response, or a forged one: it must not end the wait for the right one.
            self.count("state_mismatches")
            return 400, _OTHER_SIGN_IN
        if "error" in params:
            error = authorize_error(params)
            with self.lock:
                if not self.done.is_set():
                    self.error = error
            # What the service said and what to do; an error response carries no code or token.
            return 200, page("Sign-in failed", f"{params['error']}: {error.msg}", "error")
        if not params.get("code"):
            self.count("ignored_requests")
            return 400, _NO_RESPONSE
        with self.lock:
            if not self.done.is_set():
                self.response_url = response_url
        return 200, _SIGNED_IN


def _handler(waiting: _Waiting) -> type:
    class Handler(BaseHTTPRequestHandler):
        timeout = CONNECTION_TIMEOUT
        server_version = "onedrive.connection"
        sys_version = ""

        def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002 - the base class's name
            # The request line holds the code: nothing of it goes to stderr, which Ansible may show.
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            # The page must not be kept, nor lead the browser to send this address anywhere.
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def _respond(self, query: str, response_url: str) -> None:
            status, body = waiting.answer(query, response_url)
            self._send(status, body)
            if waiting.response_url is not None or waiting.error is not None:
                # Only once the browser has its page: the module may exit right after.
                waiting.done.set()

        def do_GET(self) -> None:  # noqa: N802 - the base class's name
            path, _mark, query = self.path.partition("?")
            if path != waiting.loopback.path:
                # A favicon, or a wrong path: not the sign-in coming back.
                waiting.count("ignored_requests")
                self._send(404, _NOT_FOUND)
                return
            self._respond(query, waiting.loopback.origin + self.path)

        def do_POST(self) -> None:  # noqa: N802 - the base class's name
            # response_mode=form_post: the response is the body of a form the browser posts to the redirect URI.
            path = self.path.partition("?")[0]
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if path != waiting.loopback.path:
                waiting.count("ignored_requests")
                self._send(404, _NOT_FOUND)
                return
            if content_type != "application/x-www-form-urlencoded" or not 0 < length <= MAX_BODY:
                waiting.count("ignored_requests")
                self._send(400, _NO_RESPONSE)
                return
            body = self.rfile.read(length).decode("utf-8", "replace")
            self._respond(body, f"{waiting.loopback.origin}{waiting.loopback.path}?{body}")

    return Handler


def _listen(loopback: Loopback, waiting: _Waiting) -> ThreadingHTTPServer:
    try:
        server = ThreadingHTTPServer((BIND_ADDRESS, loopback.port), _handler(waiting))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise OneDriveError(
                f"Port {loopback.port} on {BIND_ADDRESS} is in use by another program, so the sign-in response cannot be"
                f" received there. Stop that program, or choose another port in redirect_uri (a registered"
                " http://localhost serves any port).",
                "port_in_use",
            ) from None
        raise OneDriveError(
            f"Cannot listen on {BIND_ADDRESS} port {loopback.port}: {exc.strerror or exc}. Choose a port from 1024 up"
            " in redirect_uri.",
            "invalid_option",
        ) from None
    server.daemon_threads = True
    server.timeout = _TICK
    return server


def receive(redirect_uri: str, state: str, timeout: float, clock: t.Callable[[], float] = time.monotonic) -> Outcome:
    """Wait up to ``timeout`` seconds for the browser to bring the sign-in response with ``state``.

    Requests at other paths and responses with another state are answered and counted, and the wait goes on.
    An error response with the right state ends it with that error's classification.
    """
    loopback = validate_loopback_uri(redirect_uri)
    if not state:
        raise OneDriveError("state must not be empty: it is what tells this sign-in's response from others.",
                            "invalid_option")
    waiting = _Waiting(loopback, state)
    server = _listen(loopback, waiting)
    deadline = clock() + timeout
    try:
        while not waiting.done.is_set() and clock() < deadline:
            server.handle_request()
    finally:
        server.server_close()
    if waiting.error is not None:
        raise waiting.error
    if waiting.response_url is None:
        raise OneDriveError(
            f"No sign-in response reached {redirect_uri} within {timeout:g} s"
            f" ({waiting.state_mismatches} response(s) of another sign-in and {waiting.ignored_requests} other"
            " request(s) were ignored). Open the sign-in URL in a browser on this host (or forward the port to it), sign"
            " in, and run again; raise timeout when signing in takes longer.",
            "sign_in_timeout",
        )
    return Outcome(waiting.response_url, waiting.state_mismatches, waiting.ignored_requests)
