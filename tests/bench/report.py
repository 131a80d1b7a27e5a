"""The benchmark's results as a table with ratios, the targets they meet or miss, and the machine they ran on."""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
from pathlib import Path

from ansible.release import __version__ as ansible_core_version

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

    @classmethod
    def measured(cls, scenario: str, connections: int, measurement, check: str) -> Row:
        requests = measurement.requests
        return cls(scenario, connections, measurement.wall, measurement.cpu, measurement.peak_rss_kib,
                   measurement.module_runs, requests["token"], sum(requests[name] for name in GRAPH_ENDPOINTS), check)

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
        return [self.bootstrap, *self.rotations, self.rerun, *self.baselines]

    @property
    def failed_checks(self) -> list[Row]:
        return [row for row in self.rows if row.check != "ok" and not row.check.startswith("extrapolated")]


HEADER = ("scenario", "connections", "wall s", "CPU s", "peak RSS MiB", "module runs", "token req", "Graph req",
          "req/conn", "faster than baseline", "check")


def _cells(results: Results, row: Row) -> tuple[str, ...]:
    per_connection = f"{row.requests / row.connections:.2f}" if row.connections else ""
    rss = f"{row.peak_rss_kib / 1024:.0f}" if row.peak_rss_kib is not None else "-"
    cpu = f"{row.cpu:.2f}" if row.cpu is not None else "-"
    runs = str(row.module_runs) if row.module_runs is not None else "-"
    speedup = results.speedup(row) if row in results.rotations else ""
    return (row.scenario, f"{row.connections:,}", f"{row.wall:.2f}", cpu, rss, runs, f"{row.token_requests:,}",
            f"{row.graph_requests:,}", per_connection, speedup, row.check)


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
    return "\n".join([
        "# Benchmarks",
        "",
        "Written by `make bench` (tests/bench/run.py, described in tests/bench/README.md); do not edit by hand.",
        "",
        f"Run on {today}: {machine()}. Load average (1 min) {results.load[0]:.2f} at the start,"
        f" {results.load[1]:.2f} at the end.",
        f"Emulator (tests/emulator, HTTPS, on the same machine) with {results.latency * 1000:.0f} ms added to every"
        " request. Wall time is the whole ansible-playbook run, start-up included; CPU is the user and system"
        " time of its process tree (on two cores it can exceed wall time), which other load on the machine hardly"
        " inflates. Peak RSS is that of the largest process in the run's tree; module runs counts the module"
        " processes (AnsiballZ) it started.",
        "",
        markdown_table(results),
        "",
        "Scenarios: `bootstrap` is roles/bootstrap twice (without a terminal it stops with the sign-in URL; after"
        " the scripted sign-in, the run given `onedrive_auth_response` redeems, verifies and stores), the sign-in"
        " itself not counted. `rotate` is playbooks/rotate.yml with every connection due. `re-run` is the same"
        " playbook again on the largest vault, nothing due. `baseline` is tests/bench/playbooks/diy_rotate.yml:"
        " ansible.builtin.uri per connection for the refresh, /me and /me/drive, then one `ansible-vault encrypt`.",
        "",
        "## Targets (issue 8)",
        "",
        *target_lines,
        "",
    ])
