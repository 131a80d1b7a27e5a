"""The module runs of a process tree, sampled from /proc while it runs (Linux)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

# How often the tree is looked at; a module process lives far longer (100 ms or more).
SAMPLE_INTERVAL = 0.02


class ModuleWatch(threading.Thread):
    """Collects the module runs below ``root`` until it exits, from /proc's lists of children."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.seen: set[bytes] = set()
        """The AnsiballZ file of each run: every run gets its own temporary folder, and a subprocess a module
        forks shows the same file until it execs, so the file names one run."""

    def run(self) -> None:
        while _exists(self.root):
            for pid in _descendants(self.root):
                try:
                    arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue  # it ended meanwhile
                # The shell Ansible starts each module with has the file inside a longer argument.
                if arguments[0] != b"/bin/sh":
                    self.seen.update(argument for argument in arguments if b"/AnsiballZ_" in argument)
            time.sleep(SAMPLE_INTERVAL)


def _exists(pid: int) -> bool:
    """Whether ``pid`` is there still: until wait4 reaps it."""
    return Path(f"/proc/{pid}").exists()


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        try:
            threads = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue  # it ended meanwhile
        for thread in threads:
            try:
                children = [int(child) for child in Path(f"/proc/{parent}/task/{thread}/children").read_text().split()]
            except OSError:
                continue
            found += children
            queue += children
    return found
