"""Run the emulator as a child process (how the pytest fixture, benchmarks and demos start it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .client import EmulatorClient

PACKAGE_PARENT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30


class EmulatorProcess:
    """Context manager: `with EmulatorProcess(tmp_dir) as proc: proc.client.reset()`."""

    def __init__(self, state_dir: str | Path, https: bool = True, config: str | Path | None = None,
                 port: int = 0) -> None:
        self.state_dir = Path(state_dir)
        self.https = https
        self.config = config
        self.port = port
        self.process: subprocess.Popen | None = None
        self.client: EmulatorClient | None = None

    def start(self) -> EmulatorClient:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        url_file = self.state_dir / "url"
        url_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", "msemu", "--state-dir", str(self.state_dir), "--port", str(self.port)]
        if self.https:
            command.append("--https")
        if self.config:
            command += ["--config", str(self.config)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_PARENT),
                                                                        os.environ.get("PYTHONPATH")])))
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while not url_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"msemu exited with status {self.process.returncode} before serving")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"msemu did not start within {START_TIMEOUT} s")
            time.sleep(0.02)
        ca_path = self.state_dir / "ca.pem" if self.https else None
        self.client = EmulatorClient(url_file.read_text(encoding="utf-8").strip(), ca_path)
        return self.client

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
