# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: appends every task result, as Ansible hands it to callbacks, to a JSON-lines file."""

from __future__ import annotations

DOCUMENTATION = """
name: record_results
type: aggregate
short_description: Record task results for the integration tests
description:
  - Writes one JSON line per task result to the file named by E(ONEDRIVE_TEST_RESULTS).
options: {}
"""

import json
import os

from ansible.plugins.callback import CallbackBase


def _plain(value):
    """Data tagging hands callbacks str/dict subclasses; JSON only needs their plain values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return str(value)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ["ONEDRIVE_TEST_RESULTS"]

    def _record(self, status, result):
        line = {
            "name": result.task_name,
            "host": result._host.get_name(),
            "status": status,
            "result": _plain(result._result),
        }
        with open(self._path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def v2_runner_on_ok(self, result):
        self._record("changed" if result._result.get("changed") else "ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record("failed", result)

    def v2_runner_on_skipped(self, result):
        self._record("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._record("unreachable", result)

    def v2_playbook_on_stats(self, stats):
        with open(self._path + ".stats", "w", encoding="utf-8") as handle:
            json.dump({host: stats.summarize(host) for host in sorted(stats.processed)}, handle)
