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


def _task_and_host(result):
    """ansible-core 2.20 and later name them without the underscore and deprecate the old names."""
    task = getattr(result, "task", None) or result._task
    host = getattr(result, "host", None) or result._host
    return task, host


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ["ONEDRIVE_TEST_RESULTS"]
        self._item_failed = {}

    def _record(self, status, result):
        # ansible-core 2.20 and later prefix a role's task name with the role; the tests name tasks as the
        # playbooks and roles do.
        task, host = _task_and_host(result)
        recorded = _plain(result._result)
        # ansible-core 2.21 leaves "failed" out of a loop item's result; earlier releases set it.
        failed = self._item_failed.pop((task._uuid, host.get_name()), [])
        for item, item_failed in zip(recorded.get("results") or (), failed):
            if isinstance(item, dict):
                item.setdefault("failed", item_failed)
        line = {
            "name": task.name or result.task_name,
            "host": host.get_name(),
            "status": status,
            "result": recorded,
        }
        with open(self._path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def _item(self, result, failed):
        task, host = _task_and_host(result)
        self._item_failed.setdefault((task._uuid, host.get_name()), []).append(failed)

    def v2_runner_item_on_ok(self, result):
        self._item(result, False)

    def v2_runner_item_on_failed(self, result):
        self._item(result, True)

    def v2_runner_item_on_skipped(self, result):
        self._item(result, False)

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
