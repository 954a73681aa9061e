# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading registered task results the same way wherever a role collects from many sources.

Documentation of each filter is in the YAML file of the same name beside this one.
"""

from __future__ import annotations


def _label(result, what):
    host = result.get("item")
    return f"{host}: {what}" if host and isinstance(host, str) else what


def task_problem(result, what):
    """Why a task did not collect ``what``, as one line; empty when it did."""
    if not isinstance(result, dict) or result.get("skipped"):
        return ""
    if result.get("unreachable"):
        reason = "the host could not be reached"
    elif result.get("failed") or result.get("rc", 0) != 0:
        reason = result.get("msg") or ""
        stderr = (result.get("stderr") or "").strip()
        if "rc" in result:
            reason = f"exit status {result['rc']}" + (f": {stderr.splitlines()[-1]}" if stderr else "")
    else:
        return ""
    return f"{_label(result, what)}: {reason or 'failed'}"


def command_output(result):
    """A command's output as text for a person, saying plainly when there is none and why."""
    if not isinstance(result, dict):
        return ""
    if result.get("skipped"):
        return "Not collected: skipped.\n"
    if result.get("unreachable"):
        return f"Not collected: the host could not be reached ({result.get('msg', '')}).\n"
    text = result.get("stdout") or ""
    stderr = result.get("stderr") or ""
    if stderr:
        text += ("\n" if text else "") + "-- stderr --\n" + stderr
    if result.get("rc", 0) != 0:
        text += f"\n-- exit status {result.get('rc')} --"
    return text + "\n"


def task_outcome(result, keys):
    """Only the named fields of a task's result, or why there are none."""
    if not isinstance(result, dict) or result.get("skipped"):
        return {"skipped": True}
    if result.get("failed") or result.get("unreachable"):
        return {"error": result.get("msg") or "failed"}
    return {key: result[key] for key in keys if key in result}


class FilterModule:
    def filters(self):
        return {"task_problem": task_problem, "command_output": command_output, "task_outcome": task_outcome}
