# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""runbook.ops.http_probe: probe an application from the controller (documentation in plugins/modules/http_probe.py).

It runs on the controller because that is where the application is seen from outside, and it saves
a module run in the middle of a rollback, where every second counts.
"""

from __future__ import annotations

import os

from ansible_collections.runbook.ops.plugins.module_utils._probe import tls_report, wait_until_healthy
from ansible_collections.runbook.ops.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = {
    "url": {"type": "str", "required": True},
    "status": {"type": "list", "elements": "int", "default": [200]},
    "body_contains": {"type": "str"},
    "wait": {"type": "float", "default": 0},
    "interval": {"type": "float", "default": 2},
    "timeout": {"type": "float", "default": 5},
    "fail_unhealthy": {"type": "bool", "default": False},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "samples": {"type": "int", "default": 1},
    "tls_warn_days": {"type": "int", "default": 14},
}


def probe(args):
    """The task's result for these arguments."""
    if not args["url"].startswith(("http://", "https://")):
        return {"failed": True, "msg": f"url must be an http(s) URL, not {args['url']!r}."}
    if args["wait"] < 0 or args["interval"] <= 0 or args["timeout"] <= 0 or args["samples"] < 1:
        return {"failed": True, "msg": "wait must be 0 or more, interval and timeout more than 0, samples 1 or more."}
    if args["ca_path"] and not os.path.isfile(args["ca_path"]):
        return {"failed": True, "msg": f"ca_path {args['ca_path']} is not a file: give a PEM file of certificate "
                                       "authorities."}

    verdict = wait_until_healthy(args["url"], args["status"], args["body_contains"], args["wait"],
                                 args["interval"], args["timeout"], args["validate_certs"], args["ca_path"],
                                 samples=args["samples"])
    # An expired or expiring certificate is reported, not judged: health is what the endpoint answers.
    verdict["tls"] = tls_report(args["url"], args["timeout"], args["ca_path"], args["tls_warn_days"])
    if args["fail_unhealthy"] and not verdict["healthy"]:
        waited = f" within {args['wait']:g} s" if args["wait"] else ""
        return {"failed": True, **verdict,
                "msg": f"{args['url']} did not become healthy{waited} ({verdict['attempts']} probe(s), "
                       f"last: {verdict['reason']})."}
    return {"changed": False, **verdict}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args):
        return probe(args)
