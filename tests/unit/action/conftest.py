"""What the action plugins' tests share: running a plugin as a task would, with no connection."""
import json
from types import SimpleNamespace

from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task


def run(plugin, args, check=False):
    """What the task would return, with its JSON text under ``_text`` for "never shown" checks."""
    task = Task()
    task.action = f"runbook.ops.{plugin.__name__.rsplit('.', 1)[-1]}"
    task.args = args
    task.check_mode = check
    no_connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))
    result = plugin.ActionModule(task, no_connection, PlayContext(), loader=None, templar=None).run(task_vars={})
    return {**result, "_text": json.dumps(result)}
