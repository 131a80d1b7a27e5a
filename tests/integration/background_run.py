"""An ansible-playbook run in the background, for the sign-ins that happen while a playbook waits: the test reads
what the run shows (a device code, a sign-in URL) as it comes, acts on it, then collects the result."""

from __future__ import annotations

import re
import subprocess
import threading
import time

from runner import Runner


class BackgroundRun:
    def __init__(self, runner: Runner, playbook, **options) -> None:
        folder, command, env = runner._prepare(playbook, **options)
        self._folder = folder
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._proc = subprocess.Popen(
            command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._proc.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        """The first match of ``pattern`` in the output so far or to come; fails when the run ends without it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = re.search(pattern, "".join(self._lines))
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self._proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"{pattern!r} never showed; output:\n{''.join(self._lines)[-4000:]}")
                self._changed.wait(min(remaining, 0.5))

    def finish(self, timeout: float = 300):
        """The PlaybookResult once the run has ended."""
        try:
            rc = self._proc.wait(timeout)
        finally:
            if self._proc.poll() is None:
                self._proc.kill()
        self._reader.join(10)
        return Runner._result(self._folder, rc, self.output, "")
