# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What each task of a play did, one JSON line per task and host, for tests/integration/test_module_examples.py.

The normal output stays on the screen for a person; this writes the same outcomes, as Ansible's own callbacks
see them (censored where a task says no_log), to the file named by the environment variable TASK_RESULTS.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_results
type: aggregate
short_description: Write each task's outcome and result as a JSON line to the file in TASK_RESULTS
description:
  - For the tests of the collection only.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ["TASK_RESULTS"]
        self._play = None

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()

    def _record(self, result, status):
        line = {"play": self._play, "task": result.task.get_name(), "action": result.task.resolved_action,
                "host": result.host.get_name(), "status": status,
                "result": json.loads(self._dump_results(result.result))}
        with open(self._path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result.result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")
