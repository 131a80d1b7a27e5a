"""The emulator's clock: wall time plus an offset the control API can move forward."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=timezone.utc)

    def login_timestamp(self) -> str:
        """The format of `timestamp` in login error bodies: 2024-05-01 12:00:00Z."""
        return self.utc().strftime("%Y-%m-%d %H:%M:%SZ")

    def http_date(self) -> str:
        return self.utc().strftime("%a, %d %b %Y %H:%M:%S GMT")
