"""One measured ansible-playbook run: wall time, peak memory of its process tree, the HTTP requests it made."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from process_tree import ModuleWatch

BIN = Path(sys.executable).parent


@dataclasses.dataclass
class Measurement:
    rc: int
    wall: float
    """Seconds from starting ansible-playbook to its exit."""
    cpu: float
    """CPU seconds (user and system) of the whole process tree, which other load on the machine hardly inflates."""
    peak_rss_kib: int
    """The largest resident set of any process in the run's tree (ansible-playbook, its workers, modules)."""
    module_runs: int
    """Module processes (AnsiballZ) seen in the run's tree: one per task, or one per connection and task."""
    requests: collections.Counter
    """Requests the emulator answered during the run, by endpoint name."""
    unanswered: int
    """Requests dropped or answered with an error status: an overloaded emulator would show here."""
    log: Path
    started: float = 0.0
    """When ansible-playbook was started, epoch seconds: what the store's logged request times are set against."""

    def __add__(self, other: Measurement) -> Measurement:
        """Two runs that make one job (a bootstrap that stops for the sign-in, then redeems)."""
        return Measurement(
            rc=self.rc or other.rc,
            wall=self.wall + other.wall,
            cpu=self.cpu + other.cpu,
            peak_rss_kib=max(self.peak_rss_kib, other.peak_rss_kib),
            module_runs=self.module_runs + other.module_runs,
            requests=self.requests + other.requests,
            unanswered=self.unanswered + other.unanswered,
            log=other.log,
            started=self.started,
        )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


class PlaybookRunner:
    """Runs playbooks against the emulator, each in its own folder under ``work``."""

    def __init__(self, work: Path, emulator, password_file: Path, collections_path: Path) -> None:
        # Runs start from a small process of their own. Linux reports, as the peak memory of a process started
        # with exec, at least the peak of the process that started it; started from this one, which holds
        # 1,000 seeded connections by then, every run would seem to use what the benchmark itself does.
        self._launcher = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self._work = work
        self._emulator = emulator
        self._password_file = password_file
        self._collections_path = collections_path

    def __call__(self, label: str, playbook: Path, extra_vars: dict, env: dict | None = None) -> Measurement:
        folder = self._work / "runs" / label
        (folder / "tmp").mkdir(parents=True)
        vars_file = folder / "extra_vars.json"
        vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")
        command = [
            str(BIN / "ansible-playbook"), str(playbook),
            "--vault-password-file", str(self._password_file),
            "-e", f"@{vars_file}",
        ]
        self._emulator.clear_log()
        rc, wall, cpu, peak, module_runs, started = self._launcher.submit(
            _timed, command, {**self._environment(folder), **(env or {})}, folder / "output.log"
        ).result()
        log = self._emulator.log()
        unanswered = sum(1 for entry in log["requests"] if not 200 <= (entry["status"] or 0) < 300)
        return Measurement(rc, wall, cpu, peak, module_runs, collections.Counter(log["counts"]), unanswered,
                           folder / "output.log", started)

    def _environment(self, folder: Path) -> dict:
        return dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=str(self._collections_path),
            ANSIBLE_PYTHON_INTERPRETER=sys.executable,
            ANSIBLE_HOME=str(self._work / "ansible-home"),
            ANSIBLE_LOCAL_TEMP=str(folder / "tmp"),
            ANSIBLE_LOCALHOST_WARNING="false",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_RETRY_FILES_ENABLED="0",
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )


def _timed(command: list[str], env: dict, log_path: Path) -> tuple[int, float, float, int, int, float]:
    """Exit code, wall seconds, CPU seconds, peak RSS (KiB), module processes of one command and its descendants,
    and when it started (epoch seconds).

    wait4 reports the child's own rusage, which on Linux already covers every descendant it reaped; the
    RUSAGE_CHILDREN maximum of this process would only ever grow from one run to the next.
    """
    with log_path.open("wb") as log:
        started, start = time.time(), time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=log_path.parent, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT)
        watch = ModuleWatch(process.pid)
        watch.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        watch.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, len(watch.seen), started
