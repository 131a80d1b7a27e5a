#!/usr/bin/env python3
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ansible-core matrix: a virtual environment per cell, built from that cell's pinned requirements, and
the unit and integration tests run in each; ansible-test sanity too in the cells marked for it.

    tests/ci/matrix.py                 every cell
    tests/ci/matrix.py 2.16 2.21       the cells of these ansible-core releases
    tests/ci/matrix.py --pin 2.16      resolve requirements.in again into that cell's pinned file

Each cell's Python is found, in this order, from the variable MATRIX_PYTHON_3_X (a path), ``python3.X`` on
PATH (when it runs), or pyenv's versions (``pyenv root``, PYENV_ROOT, or ~/.pyenv). A cell whose Python is
not found is skipped with the reason; with MATRIX_REQUIRE_ALL=1 (CI) a skip fails the run.

The default environment (ansible-core 2.19 on Python 3.11) is a cell too, run in the repository's own .venv
from requirements-test.txt and constraints.txt. CI names the other cells only, since ``make test`` has just
run everything there.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
PINS = REPO / "tests" / "ci" / "matrix"
VENVS = REPO / ".build" / "matrix"


@dataclasses.dataclass(frozen=True)
class Cell:
    core: str  # the ansible-core release, e.g. "2.16"
    python: str  # the controller's Python, e.g. "3.10"
    tests: tuple[str, ...]  # what pytest runs here
    sanity: bool = False  # ansible-test sanity runs here too
    module_python: str | None = None  # the modules also run on this older target Python
    default: bool = False  # the repository's own .venv

    @property
    def name(self) -> str:
        return f"ansible-core {self.core} on Python {self.python}"

    @property
    def pins(self) -> pathlib.Path:
        return PINS / f"ansible-core-{self.core}.txt"


# What the cells other than the default run, to keep CI well within its time (make test has just run every
# test on the default cell). The emulator's own tests do not depend on ansible-core and run in make test only;
# so do the tests marked `tooling`, whose tools (Chromium, ansible-runner, ansible-builder, prometheus_client)
# the cells' environments do not hold.
# Every cell: the unit tests, and integration tests that run every module, action plugin, lookup, role and
# playbook of the collection at least once through a real ansible-playbook of the cell's release.
EVERY_PLUGIN = (
    "tests/unit",
    "tests/integration/test_authorize_url.py",
    "tests/integration/test_rotate_tokens.py",
    "tests/integration/test_vault_config.py",
    "tests/integration/test_store_hashi_vault.py",
    "tests/integration/test_role_bootstrap.py",
    "tests/integration/test_role_rotate.py",
    "tests/integration/test_role_plugin_proof.py",
    "tests/integration/test_role_store_lookup.py",
    "tests/integration/test_receive_redirect.py",
    # The administrator's device-code sign-in, then app_registration.
    "tests/integration/test_register_app.py",
    # connection_status and the status role (its metrics parser test is marked tooling).
    "tests/integration/test_connection_status.py",
)
# The oldest and newest releases add what differs most between releases: role variables given as strings
# (types and templating), values kept out of templates, and no_log (the three roles at -vvvv; the whole leak
# test, every playbook at -vvvv, runs in make test).
RELEASE_EDGES = (
    *EVERY_PLUGIN,
    "tests/integration/test_role_new_user.py",
    "tests/integration/test_security_templates.py",
    "tests/integration/test_role_secrets.py",
)
EVERYTHING = ("tests/unit", "tests/integration")

CELLS = (
    Cell("2.16", "3.10", RELEASE_EDGES, sanity=True, module_python="3.8"),
    Cell("2.18", "3.11", EVERY_PLUGIN),
    Cell("2.19", "3.11", EVERYTHING, default=True),
    Cell("2.20", "3.12", EVERY_PLUGIN),
    Cell("2.21", "3.13", RELEASE_EDGES, sanity=True),
)
# Where a cell names an older target Python, these run again with every module on it (the controller-side
# work of the action plugins stays on the controller's Python).
MODULE_TESTS = (
    "tests/integration/test_authorize_url.py",
    "tests/integration/test_redeem_code.py",
    "tests/integration/test_verify.py",
    "tests/integration/test_rotate_tokens.py",
    "tests/integration/test_receive_redirect.py",
    "tests/integration/test_register_app.py",
)


def find_python(version: str) -> tuple[str | None, str]:
    """The interpreter for ``version``, and where it was looked for when it was not found."""
    variable = "MATRIX_PYTHON_" + version.replace(".", "_")
    if os.environ.get(variable):
        path = os.environ[variable]
        return (path, "") if _runs(path, version) else (None, f"{variable}={path} is not a working Python {version}")
    on_path = shutil.which(f"python{version}")
    if on_path and _runs(on_path, version):
        return on_path, ""
    roots = [os.environ.get("PYENV_ROOT"), _pyenv_root(), os.path.expanduser("~/.pyenv")]
    for root in dict.fromkeys(root for root in roots if root):
        for candidate in sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}"))):
            if _runs(candidate, version):
                return candidate, ""
    return None, f"no Python {version}: set {variable}, put python{version} on PATH, or install it with pyenv"


def _runs(path: str, version: str) -> bool:
    try:
        answer = subprocess.run(
            [path, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=60, check=False,
        )
    except OSError:
        return False
    return answer.returncode == 0 and answer.stdout.strip() == version


def _pyenv_root() -> str | None:
    if not shutil.which("pyenv"):
        return None
    answer = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
    return answer.stdout.strip() or None


def venv_for(cell: Cell, python: str) -> pathlib.Path:
    """The cell's virtual environment, rebuilt whenever its pinned requirements change."""
    if cell.default:
        subprocess.run(["make", "-C", str(REPO), "venv"], check=True)
        return REPO / ".venv"
    venv = VENVS / f"core-{cell.core}-py{cell.python}"
    stamp = venv / ".installed"
    wanted = hashlib.sha256(cell.pins.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(cell.pins)], check=True)
    stamp.write_text(wanted)
    return venv


def target_venv(version: str, python: str) -> pathlib.Path:
    """A bare environment for modules on an older target: only what they import (requests)."""
    pins = PINS / f"target-python-{version}.txt"
    venv = VENVS / f"target-py{version}"
    stamp = venv / ".installed"
    wanted = hashlib.sha256(pins.read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == wanted):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(pins)], check=True)
        stamp.write_text(wanted)
    return venv


def run_cell(cell: Cell, python: str) -> list[tuple[str, str]]:
    """Each step's title and outcome: passed, FAILED, or SKIPPED with the reason."""
    venv = venv_for(cell, python)
    pytest = [str(venv / "bin" / "python"), "-m", "pytest", "-n", os.environ.get("PYTEST_WORKERS", "2"),
              "-p", "no:cacheprovider"]
    if not cell.default:
        pytest += ["-m", "not tooling"]
    steps = [("unit and integration tests", [*pytest, *cell.tests], {})]
    outcomes = []
    if cell.module_python:
        title = f"modules on Python {cell.module_python}"
        target, why_not = find_python(cell.module_python)
        if target is None:
            outcomes.append((title, f"SKIPPED: {why_not}"))
        else:
            module_python = target_venv(cell.module_python, target) / "bin" / "python"
            steps.append((title, [*pytest, *MODULE_TESTS], {"ONEDRIVE_TEST_MODULE_PYTHON": str(module_python)}))
    if cell.sanity:
        steps.append(("ansible-test sanity", [str(REPO / "tests" / "ci" / "sanity.sh")],
                      {"VENV": str(venv), "SANITY_PYTHON": cell.python}))
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)
    for title, command, extra in steps:
        print(f"\n=== {cell.name}: {title}", flush=True)
        started = time.monotonic()
        passed = subprocess.run(command, cwd=REPO, env=dict(env, **extra), check=False).returncode == 0
        outcomes.append((title, f"{'passed' if passed else 'FAILED'} in {time.monotonic() - started:.0f} s"))
    return outcomes


def pin(cell: Cell, python: str) -> None:
    """Resolve requirements.in with this cell's ansible-core into its pinned file."""
    with tempfile.TemporaryDirectory() as work:
        venv = pathlib.Path(work) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        preferred = pathlib.Path(work) / "preferred.txt"
        # The default environment's versions wherever they install on this Python: one set of versions to trust.
        lines = (REPO / "constraints.txt").read_text().splitlines()
        preferred.write_text("\n".join(line for line in lines if not line.startswith("ansible-core")) + "\n")
        install = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"ansible-core=={cell.core}.*",
                   "-r", str(PINS / "requirements.in")]
        if subprocess.run([*install, "-c", str(preferred)], check=False).returncode != 0:
            subprocess.run(install, check=True)
        frozen = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all", "--exclude", "pip"],
                                capture_output=True, text=True, check=True).stdout
    packages = [line for line in frozen.splitlines() if line and line.split("==")[0] not in ("setuptools", "wheel")]
    cell.pins.write_text(
        f"# The matrix cell {cell.name}, pinned: written by `tests/ci/matrix.py --pin {cell.core}`.\n"
        + "\n".join(packages) + "\n"
    )
    print(f"wrote {cell.pins.relative_to(REPO)}")


def main(arguments: list[str]) -> int:
    pinning = "--pin" in arguments
    wanted = [argument for argument in arguments if argument != "--pin"]
    unknown = sorted(set(wanted) - {cell.core for cell in CELLS})
    if unknown:
        print(f"no matrix cell for ansible-core {', '.join(unknown)}; cells: {', '.join(c.core for c in CELLS)}")
        return 2
    cells = [cell for cell in CELLS if cell.core in wanted or not wanted]
    require_all = os.environ.get("MATRIX_REQUIRE_ALL") == "1"
    summary, failed = [], False
    for cell in cells:
        python, why_not = find_python(cell.python)
        if python is None:
            summary.append(f"{cell.name}: SKIPPED: {why_not}")
            failed = failed or require_all
            continue
        if pinning:
            pin(cell, python)
            continue
        for title, outcome in run_cell(cell, python):
            summary.append(f"{cell.name} ({python}): {title}: {outcome}")
            failed = failed or outcome.startswith("FAILED") or (require_all and outcome.startswith("SKIPPED"))
    print("\n=== ansible-core matrix")
    print("\n".join(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
