"""Command line: python -m msemu [--https] [--state-dir DIR] [--port N] [--config FILE] [--verbose]."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path

from . import config, tls
from .emulator import Emulator
from .server import EmulatorServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m msemu",
                                     description="Local emulator of Microsoft login (v2.0) and Graph, on 127.0.0.1.")
    parser.add_argument("--https", action="store_true",
                        help="serve HTTPS with a throwaway CA written to STATE_DIR/ca.pem")
    parser.add_argument("--state-dir", type=Path,
                        help="where url (and ca.pem, server.pem) are written; default: a new temporary directory")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 (default) picks a free one")
    parser.add_argument("--config", type=Path, help="fixtures YAML replacing the packaged msemu/fixtures.yaml")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def _write_atomically(path: Path, text: str) -> None:
    """Readers poll for DIR/url: they must never see it half written."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="msemu-"))
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        fixtures = config.load(args.config)
    except (OSError, ValueError) as exc:
        print(f"msemu: cannot load fixtures: {exc}", file=sys.stderr)
        return 2
    context = tls.server_context(state_dir) if args.https else None
    server = EmulatorServer(Emulator(fixtures), args.port, context, args.verbose)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _write_atomically(state_dir / "url", server.emulator.base_url)
    print(f"msemu serving {server.emulator.base_url} (state in {state_dir})", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        (state_dir / "url").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
