# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""runbook.ops.audit_record: one JSON line in the controller's audit log
(documentation in plugins/modules/audit_record.py)."""

from __future__ import annotations

import fcntl
import json
import os

from ansible_collections.runbook.ops.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.runbook.ops.plugins.plugin_utils._redact import SECRET_VARIABLES, mask_values, secret_values

ARGUMENT_SPEC = {
    "directory": {"type": "path", "required": True},
    "file": {"type": "str", "default": "audit.jsonl"},
    "record": {"type": "dict", "required": True},
    "redact_env": {"type": "list", "elements": "str", "default": list(SECRET_VARIABLES)},
}


def why_not_writable(path):
    """Why the audit file cannot be written, or None when it can (created with its folders if need be)."""
    if os.path.exists(path):
        return None if os.path.isfile(path) and os.access(path, os.W_OK) else f"{path} is not a writable file"
    folder = os.path.dirname(path)
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder} is not writable by this user"
    return None


def append(path, line):
    """One write under an exclusive lock, so concurrent runs never interleave their lines."""
    os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args):
        line = mask_values(json.dumps(args["record"], ensure_ascii=False, sort_keys=True, default=str),
                           secret_values(args["redact_env"]))
        if os.path.basename(args["file"]) != args["file"] or args["file"] in ("", ".", ".."):
            return {"failed": True, "msg": f"file must be a file name, without a folder: {args['file']!r}."}
        path = os.path.join(args["directory"], args["file"])
        problem = why_not_writable(path)
        if problem is None and not self._task.check_mode:
            try:
                append(path, line)
            except OSError as exc:
                problem = f"{exc.strerror} ({path})"
        if problem:
            return {"failed": True, "path": path, "line": line,
                    "msg": f"The record cannot be written: {problem}. Point the play's folder setting (such as "
                           "rollback_audit_dir, incident_dir, maintenance_report_dir, daily_check_report_dir or "
                           "dr_drill_audit_dir) at one this user can write."}
        return {"changed": True, "path": path, "line": line}
