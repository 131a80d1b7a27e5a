"""The HTTP(S) server: a thread per connection, HTTP/1.1 keep-alive, TLS handshakes off the accept loop."""

from __future__ import annotations

import socket
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from .emulator import Emulator
from .http import DropConnection, Request, Response, query_of
from .routes import route

LOOPBACK = "127.0.0.1"
IDLE_TIMEOUT = 60


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "msemu"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    # Headers and body leave in two writes; with Nagle on, delayed ACKs would add ~40 ms per request.
    disable_nagle_algorithm = True
    server: EmulatorServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base-class signature
        if self.server.verbose:
            sys.stderr.write(f"msemu: {self.address_string()} {format % args}\n")

    def _dispatch(self) -> None:
        emu = self.server.emulator
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        request = Request(self.command, path, query_of(parts.query), self.headers, body, scheme)
        target = route(path)
        if target.group == "control":
            self._send(target.handler(emu, request))
            return
        try:
            response = emu.serve(target, request)
        except DropConnection:
            emu.log.record(self.command, path, target.endpoint, None)
            self._drop()
            return
        emu.log.record(self.command, path, target.endpoint, response.status)
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open ~100 connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 1024

    def __init__(self, emulator: Emulator, port: int = 0, tls: ssl.SSLContext | None = None,
                 verbose: bool = False) -> None:
        super().__init__((LOOPBACK, port), Handler)
        self.emulator = emulator
        self.tls = tls
        self.verbose = verbose
        emulator.base_url = f"{'https' if tls else 'http'}://{LOOPBACK}:{self.server_address[1]}"

    def handle_error(self, request: socket.socket, client_address: tuple) -> None:
        # Clients hanging up (or failing a handshake) is normal traffic, not an emulator error.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            super().handle_error(request, client_address)

    def finish_request(self, request: socket.socket, client_address: tuple) -> None:
        # Runs in the connection's own thread, so a slow TLS handshake never blocks accept().
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(IDLE_TIMEOUT)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            connection.close()
