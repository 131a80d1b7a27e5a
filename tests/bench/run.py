"""`make bench`: the batch rotation against the do-it-yourself way, in one run on this machine.

Starts the emulator with added latency, then measures a bootstrap, the rotate playbook at each size, a
re-run with nothing due, the same two with the connections in OpenBao (a `bao server -dev` of its own), and
the ansible.builtin.uri baseline; prints the table and writes BENCHMARKS.md.
Every run's output stays in .build/bench/runs/<label>/output.log.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The emulator is test tooling, not installed: its package is imported from the repository.
sys.path.insert(0, str(REPO / "tests" / "emulator"))

from measure import PlaybookRunner  # noqa: E402
from msemu.process import EmulatorProcess  # noqa: E402
from openbao_store import MOUNT, ROOT_TOKEN, BaoServer  # noqa: E402
from report import Results, Row, document, host_speed, markdown_table, status_target  # noqa: E402
from vaults import PUBLIC_APP, Vault, WriteWatch, seed_connections, with_new_token  # noqa: E402

WORK = REPO / ".build" / "bench"
COLLECTIONS = REPO / ".build" / "collections"
PLAYBOOKS = REPO / "playbooks"
BASELINE = Path(__file__).resolve().parent / "playbooks" / "diy_rotate.yml"
PASSWORD = "benchmark vault password"
RECAP_CHANGED = re.compile(r"^localhost\s*:.*\bchanged=(\d+)", re.MULTILINE)
SIGN_IN_URL = re.compile(r"https://127\.0\.0\.1:\d+/common/oauth2/v2\.0/authorize\?[^\s\"'\\]+")


class Bench:
    """The scenarios; each returns its row of the table."""

    def __init__(self, emulator, password_file: Path) -> None:
        self.emulator = emulator
        self.password_file = password_file
        self.run = PlaybookRunner(WORK, emulator, password_file, COLLECTIONS)
        self.endpoints = dict(
            onedrive_login_url=emulator.base_url, onedrive_graph_url=emulator.base_url,
            onedrive_ca_path=str(emulator.ca_path),
        )

    def vault(self, label: str) -> Vault:
        return Vault(WORK / "vaults" / label / "vault.yml", PASSWORD)

    def bootstrap(self) -> Row:
        vault = self.vault("bootstrap")
        vault.path.parent.mkdir(parents=True)
        extra_vars = dict(self.endpoints, onedrive_connection="robot", onedrive_client_id=PUBLIC_APP,
                          onedrive_vault_file=str(vault.path))
        first = self.run("bootstrap-url", PLAYBOOKS / "bootstrap.yml", extra_vars)
        urls = SIGN_IN_URL.findall(first.output())
        if first.rc == 0 or not urls:
            return Row.measured("bootstrap", 1, first, "the first run did not stop with a sign-in URL")
        address_bar = self.emulator.sign_in(urls[-1], "adele@contoso.onmicrosoft.com")
        second = self.run("bootstrap-redeem", PLAYBOOKS / "bootstrap.yml",
                          dict(extra_vars, onedrive_auth_response=address_bar))
        both = first + second
        stored = vault.read().get("robot", {})
        check = "ok" if second.rc == 0 and stored.get("verified_at") else f"failed (rc {second.rc}, see its log)"
        return Row.measured("bootstrap", 1, both, check)

    def rotate(self, count: int) -> tuple[Row, Vault]:
        vault = self.vault(f"rotate-{count}")
        before = vault.seed(self.emulator, count)
        with WriteWatch(vault.path) as watch:
            measurement = self.run(f"rotate-{count}", PLAYBOOKS / "rotate.yml",
                                   dict(self.endpoints, onedrive_vault_file=str(vault.path)))
        after = vault.read()
        done = sum(1 for name in with_new_token(before, after) if after[name].get("verified_at"))
        check = _check(measurement, done, count, "rotated and verified")
        if check == "ok" and (held := sum(1 for record in after.values() if "claim" in record)):
            check = f"{held} claims left behind"
        return Row.measured("rotate", count, measurement, check, store_writes=watch.writes), vault

    def rerun(self, vault: Vault, count: int) -> Row:
        files = vault.folder_state()
        with WriteWatch(vault.path) as watch:
            measurement = self.run(f"rerun-{count}", PLAYBOOKS / "rotate.yml",
                                   dict(self.endpoints, onedrive_vault_file=str(vault.path)))
        touched = sorted(name for name, state in vault.folder_state().items() if files.get(name) != state)
        if measurement.rc:
            check = f"failed (rc {measurement.rc}, see its log)"
        else:
            check = f"touched {', '.join(touched)}" if touched else "ok"
        return Row.measured("re-run, nothing due", count, measurement, check, store_writes=watch.writes)

    def status(self, vault: Vault, count: int) -> Row:
        """The status playbook without verification, writing the metrics file: nothing sent, the store untouched."""
        metrics = vault.path.parent / "onedrive.prom"
        metrics.unlink(missing_ok=True)
        files = vault.folder_state()
        measurement = self.run(f"status-{count}", PLAYBOOKS / "status.yml", dict(
            self.endpoints, onedrive_vault_file=str(vault.path), onedrive_status_metrics_file=str(metrics)))
        touched = sorted(name for name, state in vault.folder_state().items() if files.get(name) != state and name != metrics.name)
        up_lines = sum(1 for line in metrics.read_text().splitlines() if line.startswith("onedrive_connection_up{")) \
            if metrics.exists() else 0
        if measurement.rc:
            check = f"failed (rc {measurement.rc}, see its log)"
        elif touched:
            check = f"touched {', '.join(touched)}"
        else:
            check = "ok" if up_lines == count else f"{up_lines} of {count} connections in the metrics file"
        return Row.measured("status, no verification", count, measurement, check)

    # The connections in OpenBao.

    def bao_rotate(self, bao: BaoServer, count: int) -> tuple[Row, str]:
        path = f"onedrive/bench-{count}"
        before = seed_connections(self.emulator, count)
        bao.write(path, before)
        mark = bao.audit_mark()
        measurement = self.run(f"openbao-rotate-{count}", PLAYBOOKS / "rotate.yml", *self._bao_options(bao, path))
        requests = bao.requests_since(mark, path)
        after = {name: record for name, (record, dummy) in bao.read(path).items()}
        done = sum(1 for name in with_new_token(before, after) if after[name].get("verified_at"))
        check = _check(measurement, done, count, "rotated and verified")
        if check == "ok" and (held := sum(1 for record in after.values() if "claim" in record)):
            check = f"{held} claims left behind"
        return Row.measured("rotate", count, measurement, check, "OpenBao", requests), path

    def bao_rerun(self, bao: BaoServer, path: str, count: int) -> Row:
        versions = {name: version for name, (dummy, version) in bao.read(path).items()}
        mark = bao.audit_mark()
        measurement = self.run(f"openbao-rerun-{count}", PLAYBOOKS / "rotate.yml", *self._bao_options(bao, path))
        requests = bao.requests_since(mark, path)
        now = {name: version for name, (dummy, version) in bao.read(path).items()}
        changed = RECAP_CHANGED.findall(measurement.output())
        if measurement.rc:
            check = f"failed (rc {measurement.rc}, see its log)"
        elif changed != ["0"]:
            check = f"changed={','.join(changed) or '?'}"
        elif new := sorted(name for name in versions if now.get(name) != versions[name]):
            check = f"{len(new)} connections have a new version"
        else:
            check = "ok"
        return Row.measured("re-run, nothing due", count, measurement, check, "OpenBao", requests)

    def _bao_options(self, bao: BaoServer, path: str) -> tuple[dict, dict]:
        # The token comes from the environment, as in a pipeline.
        return (dict(self.endpoints, onedrive_store="hashi_vault",
                     onedrive_hashi_vault=dict(url=bao.url, mount_point=MOUNT, path=path)),
                dict(VAULT_TOKEN=ROOT_TOKEN))

    def baseline(self, count: int) -> Row:
        vault = self.vault(f"baseline-{count}")
        before = vault.seed(self.emulator, count)
        measurement = self.run(f"baseline-{count}", BASELINE, dict(
            vault_file=str(vault.path), vault_password_file=str(self.password_file), login_url=self.emulator.base_url,
            graph_url=self.emulator.base_url, ca_path=str(self.emulator.ca_path),
        ))
        # Each uri task fails the play on any answer but 200: a clean exit means every check passed.
        done = len(with_new_token(before, vault.read()))
        return Row.measured("baseline (uri loop)", count, measurement, _check(measurement, done, count, "rotated"))


def _check(measurement, done: int, count: int, what: str) -> str:
    if measurement.rc:
        return f"failed (rc {measurement.rc}, see its log)"
    if measurement.unanswered:
        return f"{measurement.unanswered} requests failed or were dropped"
    return "ok" if done == count else f"only {done} of {count} {what}"


def extrapolated(rows: list[Row], count: int) -> Row:
    """The baseline at ``count`` on the line through its two largest measurements (it is linear in N)."""
    low, high = rows[-2], rows[-1]
    per_connection = (high.wall - low.wall) / (high.connections - low.connections)
    wall = high.wall + per_connection * (count - high.connections)
    return Row("baseline (uri loop)", count, wall, cpu=None, peak_rss_kib=None, module_runs=None,
               token_requests=count, graph_requests=2 * count, check="extrapolated from the two above")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000],
                        help="connection counts for the rotate playbook (default: 10 100 1000)")
    parser.add_argument("--baseline-sizes", type=int, nargs="*", default=[10, 100],
                        help="connection counts for the uri baseline (default: 10 100; larger ones are extrapolated)")
    parser.add_argument("--openbao-sizes", type=int, nargs="*", default=[1000],
                        help="connection counts for the rotate playbook with the connections in OpenBao (default: 1000;"
                        " none skips OpenBao)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the emulator adds to each request")
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md", help="where the report goes")
    parser.add_argument("--only-status", type=int, metavar="N",
                        help="run only the status playbook on N seeded connections and print its line (no report written)")
    args = parser.parse_args()
    if not (COLLECTIONS / "ansible_collections" / "onedrive" / "connection").exists():
        sys.exit(f"{COLLECTIONS} does not hold the collection: run `make venv` first.")
    if args.only_status:
        sys.exit(only_status(args.only_status, args.latency))
    sizes, baseline_sizes, bao_sizes = sorted(args.sizes), sorted(args.baseline_sizes), sorted(args.openbao_sizes)

    load_at_start, speed_at_start = os.getloadavg()[0], host_speed()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    password_file = WORK / "vault-password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    with EmulatorProcess(WORK / "emulator") as process:
        emulator = process.client
        emulator.latency(args.latency)
        bench = Bench(emulator, password_file)
        bootstrap = _say(bench.bootstrap())
        rotations = []
        for count in sizes:
            row, vault = bench.rotate(count)
            rotations.append(_say(row))
        rerun = _say(bench.rerun(vault, sizes[-1]))
        status = _say(bench.status(vault, sizes[-1]))
        store_rotations, store_rerun = [], None
        if bao_sizes:
            with BaoServer(WORK / "openbao") as bao:
                for count in bao_sizes:
                    row, path = bench.bao_rotate(bao, count)
                    store_rotations.append(_say(row))
                store_rerun = _say(bench.bao_rerun(bao, path, bao_sizes[-1]))
        baselines = [_say(bench.baseline(count)) for count in baseline_sizes]
    if len(baselines) >= 2 and sizes[-1] > baseline_sizes[-1]:
        baselines.append(extrapolated(baselines, sizes[-1]))

    results = Results(args.latency, (load_at_start, os.getloadavg()[0]), bootstrap, rotations, rerun, baselines,
                      store_rotations, store_rerun, (speed_at_start, host_speed()), status)
    print()
    print(markdown_table(results))
    text = document(results)
    print(text[text.index("## Targets"):])
    args.output.write_text(text, encoding="utf-8")
    print(f"Written to {args.output}")
    if results.failed_checks:
        sys.exit("Some runs failed their checks; see .build/bench/runs/<label>/output.log.")


def only_status(count: int, latency: float) -> str | None:
    """The status case alone, on a vault seeded as the rotate role leaves it (each connection rotated, verified)."""
    work = WORK / "status-only"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(WORK / "runs" / f"status-{count}", ignore_errors=True)
    work.mkdir(parents=True)
    password_file = work / "vault-password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    with EmulatorProcess(work / "emulator") as process:
        process.client.latency(latency)
        bench = Bench(process.client, password_file)
        vault = Vault(work / "vault" / "vault.yml", PASSWORD)
        connections = seed_connections(process.client, count)
        for record in connections.values():
            stamp = record["obtained_at"]
            record.update(rotated_at=stamp, verified_at=stamp, last_status="rotated", last_checked_at=stamp,
                          account_type="personal" if "outlook" in record["user_principal_name"] else "work",
                          drive_type="business", granted_scopes=["offline_access", "User.Read", "Files.Read"])
        vault.write(connections)
        row = _say(bench.status(vault, count))
    target, measured, met = status_target(row)
    print(f"{'met' if met else 'MISSED'}: {target}: {measured}")
    return None if row.check == "ok" else "The status run failed its check; see its output.log."


def _say(row: Row) -> Row:
    store = ""
    if row.store_requests:
        store = (f", OpenBao: {row.store_requests.total} requests"
                 f" ({', '.join(f'{count} {kind}' for kind, count in row.store_requests.counts.items())}),"
                 f" {row.store_requests.server_cpu:.2f} s CPU")
    print(f"{row.scenario} ({row.store}) x{row.connections}: {row.wall:.2f} s ({row.cpu:.2f} s CPU),"
          f" {row.requests} requests{store}, {row.check}", flush=True)
    return row


if __name__ == "__main__":
    main()
