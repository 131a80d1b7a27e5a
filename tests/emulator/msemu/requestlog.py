"""The request log the control API exposes: every non-control request with its endpoint name."""

from __future__ import annotations

import threading
from collections import Counter


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict] = []

    def record(self, method: str, path: str, endpoint: str, status: int | None) -> None:
        """status is None for a dropped connection."""
        with self._lock:
            self._entries.append({"method": method, "path": path, "endpoint": endpoint, "status": status})

    def clear(self) -> None:
        with self._lock:
            self._entries = []

    def snapshot(self) -> dict:
        with self._lock:
            entries = list(self._entries)
        return {"requests": entries, "counts": dict(Counter(e["endpoint"] for e in entries))}
