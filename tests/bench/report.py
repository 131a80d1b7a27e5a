"""The benchmark's results as a table with ratios, the targets they meet or miss, and the machine they ran on."""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import time
from pathlib import Path

from ansible.release import __version__ as ansible_core_version

from openbao_store import KINDS, StoreRequests

GRAPH_ENDPOINTS = ("batch", "me", "drive")


@dataclasses.dataclass
class Row:
    scenario: str
    connections: int
    wall: float
    cpu: float | None
    peak_rss_kib: int | None
    module_runs: int | None
    token_requests: int
    graph_requests: int
    check: str
    """"ok", or what went wrong; an extrapolated row says so."""
    store: str = "file"
    """Where the connections are: the ansible-vault file, or OpenBao."""
    store_requests: StoreRequests | None = None
    """OpenBao's requests during the run, from its audit log (OpenBao rows only)."""
    started: float | None = None
    """When the run started, epoch seconds."""
    store_writes: int | None = None
    """Writes to the store during the run: of the whole file (file store), or write requests (OpenBao)."""

    @classmethod
    def measured(cls, scenario: str, connections: int, measurement, check: str, store: str = "file",
                 store_requests: StoreRequests | None = None, store_writes: int | None = None) -> Row:
        requests = measurement.requests
        if store_requests is not None:
            store_writes = store_requests.writes
        return cls(scenario, connections, measurement.wall, measurement.cpu, measurement.peak_rss_kib,
                   measurement.module_runs, requests["token"], sum(requests[name] for name in GRAPH_ENDPOINTS), check,
                   store, store_requests, measurement.started, store_writes)

    @property
    def requests(self) -> int:
        return self.token_requests + self.graph_requests


@dataclasses.dataclass
class Results:
    latency: float
    load: tuple[float, float]
    """The machine's one-minute load average when the benchmark started and when it ended."""
    bootstrap: Row
    rotations: list[Row]
    rerun: Row
    baselines: list[Row]
    """Measured baselines first, then at most one extrapolated to the largest rotation."""
    store_rotations: list[Row] = dataclasses.field(default_factory=list)
    """The rotate playbook on connections stored in OpenBao."""
    store_rerun: Row | None = None
    host_speed: tuple[float, float] | None = None
    """CPU seconds of a fixed pure-Python loop when the benchmark started and when it ended (see host_speed)."""
    status: Row | None = None
    """The status playbook on the largest vault, without verification."""

    def baseline_at(self, connections: int) -> Row | None:
        return next((row for row in self.baselines if row.connections == connections), None)

    def speedup(self, row: Row) -> str:
        baseline = self.baseline_at(row.connections)
        if baseline is None:
            return ""
        approximate = "~" if baseline.check != "ok" else ""
        return f"{approximate}{baseline.wall / row.wall:.1f}x"

    @property
    def rows(self) -> list[Row]:
        return [self.bootstrap, *self.rotations, self.rerun, *self.store_rotations,
                *([self.store_rerun] if self.store_rerun else []), *([self.status] if self.status else []),
                *self.baselines]

    @property
    def failed_checks(self) -> list[Row]:
        return [row for row in self.rows if row.check != "ok" and not row.check.startswith("extrapolated")]


HEADER = ("scenario", "store", "connections", "wall s", "CPU s", "peak RSS MiB", "module runs", "token req",
          "Graph req", "req/conn", "store writes", "faster than baseline", "check")


def _cells(results: Results, row: Row) -> tuple[str, ...]:
    per_connection = f"{row.requests / row.connections:.2f}" if row.connections else ""
    rss = f"{row.peak_rss_kib / 1024:.0f}" if row.peak_rss_kib is not None else "-"
    cpu = f"{row.cpu:.2f}" if row.cpu is not None else "-"
    runs = str(row.module_runs) if row.module_runs is not None else "-"
    speedup = results.speedup(row) if row in results.rotations or row in results.store_rotations else ""
    return (row.scenario, row.store, f"{row.connections:,}", f"{row.wall:.2f}", cpu, rss, runs,
            f"{row.token_requests:,}",
            f"{row.graph_requests:,}", per_connection, f"{row.store_writes:,}" if row.store_writes is not None else "-",
            speedup, row.check)


def markdown_table(results: Results) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(_cells(results, row)) + " |" for row in results.rows]
    return "\n".join(lines)


def targets(results: Results) -> list[tuple[str, str, bool]]:
    """(target, what was measured, met) for each of issue 8's targets."""
    largest, smallest = results.rotations[-1], results.rotations[0]
    checks = [(
        "1,000 connections rotated and verified in under 15 s",
        f"{largest.wall:.2f} s for {largest.connections:,} ({largest.check})",
        largest.connections >= 1000 and largest.wall < 15 and largest.check == "ok",
    )]
    ours, baseline = next((row for row in results.rotations if row.connections == 100), None), results.baseline_at(100)
    if ours and baseline and baseline.check == "ok":
        ratio = baseline.wall / ours.wall
        checks.append(("at 100 connections, 20x faster than the baseline",
                       f"{ratio:.1f}x ({baseline.wall:.1f} s against {ours.wall:.2f} s)", ratio >= 20))
    two = [row for row in results.rotations if (row.token_requests, row.graph_requests) == (row.connections,) * 2]
    checks.append(("exactly two HTTP requests per connection",
                   ", ".join(f"{row.requests:,} for {row.connections:,}" for row in results.rotations),
                   len(two) == len(results.rotations)))
    rerun = results.rerun
    checks.append(("a nothing-due re-run makes no token request and touches no file",
                   f"{rerun.token_requests} token and {rerun.graph_requests} Graph requests;"
                   f" {'no file touched' if rerun.check == 'ok' else rerun.check}",
                   rerun.requests == 0 and rerun.check == "ok"))
    runs = {row.module_runs for row in results.rotations}
    checks.append(("no per-connection process (the same module runs at every N)",
                   ", ".join(f"{row.module_runs} at {row.connections:,}" for row in results.rotations),
                   len(runs) == 1))
    growth = largest.peak_rss_kib / smallest.peak_rss_kib
    checks.append(("memory flat as N grows (here: peak RSS at the largest N within 1.25x of the smallest N's)",
                   ", ".join(f"{row.peak_rss_kib / 1024:.0f} MiB at {row.connections:,}" for row in results.rotations)
                   + f" ({growth:.2f}x)",
                   growth <= 1.25))
    return checks


def status_target(row: Row) -> tuple[str, str, bool]:
    """(target, what was measured, met) for issue 19's target."""
    return (
        "status of 1,000 stored connections without verification in under 3 s, no request sent, the store untouched",
        f"{row.wall:.2f} s for {row.connections:,}, {row.requests} requests ({row.check})",
        row.connections >= 1000 and row.wall < 3 and row.requests == 0 and row.check == "ok",
    )


def store_targets(results: Results) -> list[tuple[str, str, bool]]:
    """(target, what was measured, met) for each of issue 14's targets for the OpenBao store."""
    checks = []
    file_rows = [row for row in (*results.rotations, results.rerun) if row.store_writes is not None]
    if file_rows:
        expected = [row for row in file_rows if row.store_writes == (2 if row in results.rotations else 0)]
        checks.append((
            "file store: claims in one write of the file, so two writes per rotation (claims, then results) whatever"
            " N, none on a re-run",
            ", ".join(f"{row.store_writes} at {row.connections:,}" + (" (re-run)" if row is results.rerun else "")
                      for row in file_rows),
            len(expected) == len(file_rows),
        ))
    if results.store_rotations:
        largest = results.store_rotations[-1]
        checks.append((
            "1,000 connections stored in OpenBao rotated and verified in under 20 s",
            f"{largest.wall:.2f} s for {largest.connections:,} ({largest.check})",
            largest.connections >= 1000 and largest.wall < 20 and largest.check == "ok",
        ))
        expected = [row for row in results.store_rotations if row.store_requests
                    and row.store_requests.counts["list"] == 1
                    and all(row.store_requests.counts[kind] == row.connections for kind in KINDS[1:])]
        checks.append((
            "one read, one claim write and one result write per connection, one list per run",
            ", ".join(f"{row.connections:,}: " + _per_connection(row) for row in results.store_rotations),
            len(expected) == len(results.store_rotations),
        ))
    if rerun := results.store_rerun:
        writes = rerun.store_requests.writes if rerun.store_requests else None
        checks.append((
            "a nothing-due re-run in OpenBao writes nothing, makes no token request and reports changed=0",
            f"{writes} writes, {rerun.token_requests} token and {rerun.graph_requests} Graph requests; {rerun.check}",
            writes == 0 and rerun.requests == 0 and rerun.check == "ok",
        ))
    return checks


def _per_connection(row: Row) -> str:
    counts, n = row.store_requests.counts, row.connections
    each = ", ".join(f"{counts[kind] / n:g} {kind}" for kind in KINDS[1:])
    per_run = row.store_requests.total - sum(counts[kind] for kind in KINDS[1:])
    return f"{each} per connection, {per_run} per run"


STORE_HEADER = ("scenario", "connections", *KINDS, "other", "total", "per connection", "errors", "OpenBao CPU s")


def store_table(results: Results) -> str:
    lines = ["| " + " | ".join(STORE_HEADER) + " |", "|" + "|".join("---" for _ in STORE_HEADER) + "|"]
    for row in results.rows:
        if requests := row.store_requests:
            lines.append("| " + " | ".join((
                row.scenario, f"{row.connections:,}", *(f"{requests.counts[kind]:,}" for kind in KINDS),
                f"{sum(requests.other().values()):,}", f"{requests.total:,}", f"{requests.total / row.connections:.3f}",
                str(requests.errors), f"{requests.server_cpu:.2f}",
            )) + " |")
    return "\n".join(lines)


def other_requests(results: Results) -> list[str]:
    """What the other requests of each OpenBao run were."""
    return [f"- {row.scenario}: "
            + ", ".join(f"{count} x `{kind}`" for kind, count in sorted(row.store_requests.other().items()))
            for row in results.rows if row.store_requests and row.store_requests.other()]


# The moments of an OpenBao run, from the run's start and the audit log's times, between which its time is split.
SEGMENTS = (
    ("start", "first request", "ansible-playbook start-up, until the first OpenBao request"),
    ("first request", "last read", "mount check, list and the reads of every connection"),
    ("last read", "last claim write", "capabilities check and the claim writes"),
    ("last claim write", "first result write", "the rotation: token and Graph requests"),
    ("first result write", "last result write", "the result writes"),
    ("last request", "exit", "after the last OpenBao request, until ansible-playbook exits"),
)


def timeline(row: Row) -> list[tuple[str, float]]:
    """(what, seconds) for the parts of an OpenBao run, as far as its requests show them."""
    phases = row.store_requests.phases
    moments = {"start": row.started, "exit": row.started + row.wall}
    if phases:
        moments["first request"] = min(first for first, dummy in phases.values())
        moments["last request"] = max(last for dummy, last in phases.values())
    for kind, edge, index in (("read", "last read", 1), ("claim write", "last claim write", 1),
                              ("result write", "first result write", 0), ("result write", "last result write", 1)):
        if kind in phases:
            moments[edge] = phases[kind][index]
    return [(what, moments[end] - moments[begin])
            for begin, end, what in SEGMENTS if begin in moments and end in moments]


def timelines(results: Results) -> list[str]:
    lines = []
    for row in results.rows:
        if row.store_requests and row.started:
            parts = "; ".join(f"{what} {seconds:.2f} s" for what, seconds in timeline(row))
            lines.append(f"- {row.scenario}, {row.connections:,} ({row.wall:.2f} s): {parts}.")
    return lines


def host_speed() -> float:
    """CPU seconds a fixed pure-Python loop takes, the best of three: on a virtual machine the host's own load
    can slow every run down by half while the guest's load average stays low, and this shows it."""
    best = float("inf")
    for dummy in range(3):
        start, total = time.process_time(), 0
        for number in range(2_000_000):
            total += number * number
        best = min(best, time.process_time() - start)
    return best


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    return (f"{model}, {os.cpu_count()} cores, {mem_kib / 1024 ** 2:.1f} GiB memory; {platform.platform()}; "
            f"Python {platform.python_version()}, ansible-core {ansible_core_version}")


def document(results: Results) -> str:
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    target_lines = [f"- {'met' if met else 'MISSED'}: {target}: {measured}"
                    for target, measured, met in targets(results)]
    store_target_lines = [f"- {'met' if met else 'MISSED'}: {target}: {measured}"
                          for target, measured, met in store_targets(results)]
    store_section = [
        "## OpenBao store",
        "",
        "Requests OpenBao served during each run, counted from its file audit device (one request entry per"
        " request) by kind: `list` of the connections' path, `read` of a connection (KV version 2), `claim write`"
        " (a check-and-set write that sets the claim field), `result write` (the check-and-set write of the"
        " rotated tokens and times, which releases the claim), `other` (per run, below). OpenBao CPU is the"
        " server's own user and system time during the run, on the same two cores, not part of the CPU column above.",
        "",
        store_table(results),
        "",
        "Other requests, once per run:",
        "",
        *other_requests(results),
        "",
        "Where the time of each run goes, from the run's start, the times OpenBao logged its requests at, and the"
        " run's exit:",
        "",
        *timelines(results),
        "",
        "## Targets (issue 14)",
        "",
        *store_target_lines,
        "",
    ] if results.store_rotations or results.store_rerun else []
    return "\n".join([
        "# Benchmarks",
        "",
        "Written by `make bench` (tests/bench/run.py, described in tests/bench/README.md); do not edit by hand.",
        "",
        f"Run on {today}: {machine()}. Load average (1 min) {results.load[0]:.2f} at the start,"
        f" {results.load[1]:.2f} at the end."
        + (f" Host speed: a fixed pure-Python loop took {results.host_speed[0]:.3f} s of CPU at the start,"
           f" {results.host_speed[1]:.3f} s at the end (more is a slower host; compare runs by it)."
           if results.host_speed else ""),
        f"Emulator (tests/emulator, HTTPS, on the same machine) with {results.latency * 1000:.0f} ms added to every"
        " request. Wall time is the whole ansible-playbook run, start-up included; CPU is the user and system"
        " time of its process tree (on two cores it can exceed wall time), which other load on the machine hardly"
        " inflates. Peak RSS is that of the largest process in the run's tree; module runs counts the module"
        " processes (AnsiballZ) it started. Store writes counts the writes to the store during the run: for the"
        " file store, the times the vault file was replaced (watched every 5 ms); for OpenBao, its write requests"
        " (from its audit log, broken down below).",
        "",
        markdown_table(results),
        "",
        "Scenarios: `bootstrap` is roles/bootstrap twice (without a terminal it stops with the sign-in URL; after"
        " the scripted sign-in, the run given `onedrive_auth_response` redeems, verifies and stores), the sign-in"
        " itself not counted. `rotate` is playbooks/rotate.yml with every connection due. `re-run` is the same"
        " playbook again on the largest vault, nothing due. `baseline` is tests/bench/playbooks/diy_rotate.yml:"
        " ansible.builtin.uri per connection for the refresh, /me and /me/drive, then one `ansible-vault encrypt`."
        " The file store's rotations take claims: the vault is written twice, once (the whole file) with a claim on"
        " every due connection before any token is redeemed, once with the results, which release the claims."
        " With store OpenBao, the connections are secrets of a `bao server -dev` (OpenBao's own in-memory dev"
        " server, on loopback, no latency added) started by the benchmark, and playbooks/rotate.yml runs with"
        " `onedrive_store=hashi_vault` and the token in VAULT_TOKEN; its re-run is the same playbook again,"
        " nothing due.",
        "",
        "## Targets (issue 8)",
        "",
        *target_lines,
        "",
        *store_section,
        *([
            "## Status (issue 19)",
            "",
            "`status` is playbooks/status.yml on the largest rotated vault, without verification, writing the"
            " Prometheus metrics file: one read of the vault, no request to the emulator, no write to the store.",
            "",
            "- {}: {}: {}".format("met" if status_target(results.status)[2] else "MISSED", *status_target(results.status)[:2]),
            "",
        ] if results.status else []),
    ])
