# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""runbook.ops.run_lock: a lock file on the controller (documentation in plugins/modules/run_lock.py)."""

from __future__ import annotations

import json
import os
import socket
import time

from ansible_collections.runbook.ops.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "run_id": {"type": "str", "required": True},
    "owner": {"type": "str", "default": ""},
    "max_age": {"type": "int", "default": 3600},
    "data": {"type": "dict", "default": {}},
}


def read_holder(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError:
        # A half-written lock is still a lock, as old as the file.
        try:
            return {"run_id": "unknown", "owner": "unknown", "taken_at": os.stat(path).st_mtime}
        except FileNotFoundError:
            return None


def take(path, holder):
    """Create the lock file exclusively; False when it exists already."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(holder, handle)
    return True


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def why_stale(holder, max_age, now):
    """Why a lock can be taken over, or None while its run may still be working."""
    age = now - float(holder.get("taken_at", 0))
    if age > max_age:
        return f"left {int(age)}s ago"
    # A run on this machine whose ansible-playbook is gone died holding the lock (killed, cancelled).
    if holder.get("host") == socket.gethostname() and holder.get("pid") and not process_alive(holder["pid"]):
        return f"its ansible-playbook (pid {holder['pid']}) is gone"
    return None


def move_aside(path, run_id, stale):
    """Atomically remove the stale lock that was read; False when another run got to it first."""
    aside = f"{path}.stale-{run_id}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    if read_holder(aside) != stale:
        # Between reading and renaming, another run replaced the stale lock with its own: give it back.
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        os.unlink(aside)
        return False
    os.unlink(aside)
    return True


def release(path, run_id, check_mode):
    holder = read_holder(path)
    ours = holder is not None and holder.get("run_id") == run_id
    if ours and not check_mode:
        os.unlink(path)
    return {"changed": ours, "holder": None if ours else holder}


def acquire(path, run_id, owner, max_age, data, check_mode):
    holder = read_holder(path)
    if holder is not None and holder.get("run_id") == run_id:
        return {"changed": False, "holder": holder}

    result = {"changed": True, "taken_over": None, "warnings": []}
    if holder is not None:
        stale = why_stale(holder, max_age, time.time())
        if stale is None:
            age = int(time.time() - float(holder.get("taken_at", 0)))
            return {"failed": True, "holder": holder,
                    "msg": (f"Another run holds the lock {path} since {age}s ago (run {holder.get('run_id')} "
                            f"on {holder.get('host', 'unknown host')}, {holder.get('owner') or 'owner unknown'}). "
                            "Nothing was changed. Wait for it to finish; if it died, remove the lock file.")}
        result["taken_over"] = holder
        taking = "A confirmed run will take over" if check_mode else "Taking over"
        result["warnings"].append(
            f"{taking} the lock {path} from run {holder.get('run_id')} ({holder.get('owner')}): {stale}. "
            "That run may have stopped half-way: check what this run planned and did.")

    # The ansible-playbook process, parent of this worker: while it lives, the lock is held.
    mine = {"run_id": run_id, "owner": owner, "taken_at": time.time(), "host": socket.gethostname(),
            "pid": os.getppid(), "data": data}
    result["holder"] = mine
    if check_mode:
        return result
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if (holder is not None and not move_aside(path, run_id, holder)) or not take(path, mine):
        return {"failed": True, "holder": read_holder(path),
                "msg": f"Another run took the lock {path} a moment ago. Nothing was changed."}
    return result


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args):
        if args["state"] == "absent":
            return release(args["path"], args["run_id"], self._task.check_mode)
        return acquire(args["path"], args["run_id"], args["owner"], args["max_age"], args["data"],
                       self._task.check_mode)
