# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""runbook.ops.slack_message: post to a Slack incoming webhook from the controller
(documentation in plugins/modules/slack_message.py).

It runs on the controller because that is where the webhook's environment variable lives
(AWX/AAP credentials inject it there), whatever host the play targets.
"""

from __future__ import annotations

import os

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._slack import SlackWebhook
from ansible_collections.runbook.ops.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = {
    "webhook_url": {"type": "str", "no_log": True},
    "webhook_env": {"type": "str"},
    "text": {"type": "str"},
    "blocks": {"type": "list", "elements": "dict"},
    "attachments": {"type": "list", "elements": "dict"},
    "fail_on_error": {"type": "bool", "default": True},
    "timeout": {"type": "float", "default": 10},
    "deadline": {"type": "float", "default": 30},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
}


def webhook_url(args):
    """The URL from the option or from the named environment variable."""
    name = args["webhook_env"]
    url = args["webhook_url"] if name is None else os.environ.get(name, "")
    if not url.strip():
        source = f"The environment variable {name}" if name else "webhook_url"
        raise ValueError(f"{source} is empty: set it to the Slack incoming webhook URL.")
    return url


def post(args, check_mode):
    """The task's result, and the webhook URL so the caller can keep it out of the result."""
    payload = {key: args[key] for key in ("text", "blocks", "attachments") if args[key]}
    if not payload:
        return {"failed": True, "sent": False, "payload": payload,
                "msg": "The message is empty: give text, blocks or attachments."}, None
    url = None
    try:
        url = webhook_url(args)
        webhook = SlackWebhook(url, timeout=args["timeout"], deadline=args["deadline"],
                               validate_certs=args["validate_certs"], ca_path=args["ca_path"])
        if check_mode:
            return {"changed": True, "sent": False, "payload": payload}, url
        webhook.post(payload)
    except (APIError, ValueError) as exc:
        if args["fail_on_error"]:
            extra = exc.to_result() if isinstance(exc, APIError) else {}
            return {"failed": True, "sent": False, "payload": payload, "msg": str(exc), **extra}, url
        return {"changed": False, "sent": False, "payload": payload, "error": str(exc),
                "warnings": [f"The Slack message was not sent: {exc}"]}, url
    return {"changed": True, "sent": True, "payload": payload}, url


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC
    ARGUMENT_RULES = {
        "mutually_exclusive": [("webhook_url", "webhook_env")],
        "required_one_of": [("webhook_url", "webhook_env"), ("text", "blocks", "attachments")],
    }

    def act(self, args):
        outcome, url = post(args, self._task.check_mode)
        if url:
            # A URL read from the environment is a secret too.
            self.secrets.add(url)
        return outcome
