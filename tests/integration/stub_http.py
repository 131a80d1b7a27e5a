"""A stand-in HTTP(S) server on 127.0.0.1 for tests that need answers no real service (nor the emulator) gives."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def serve(answer, tls=None):
    """Serves every request with ``answer(handler)``, over TLS when ``tls`` (an ssl.SSLContext) is given.

    Yields the base URL and the list of requests seen, as (method, path, body).
    """
    seen = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_any(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.command, self.path, body))
            try:
                answer(self)
            except OSError:  # the client gave up
                pass

        do_GET = do_POST = do_PUT = handle_any

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()
