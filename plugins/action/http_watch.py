# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""runbook.ops.http_watch: watch an application for a window after a deploy (documentation in
plugins/modules/http_watch.py).

It runs on the controller, as http_probe does, and prints one line per poll, so the job log shows
the watch moving through a window of many minutes.
"""

from __future__ import annotations

import os
import urllib.parse

from ansible.utils.display import Display

from ansible_collections.runbook.ops.plugins.module_utils._probe import expected_polls, watch_window
from ansible_collections.runbook.ops.plugins.plugin_utils._controller_action import ControllerAction

display = Display()

ARGUMENT_SPEC = {
    "url": {"type": "str", "required": True},
    "status": {"type": "list", "elements": "int", "default": [200]},
    "body_contains": {"type": "str"},
    "duration": {"type": "float", "required": True},
    "interval": {"type": "float", "default": 30},
    "timeout": {"type": "float", "default": 5},
    "max_error_rate": {"type": "float", "default": 0.05},
    "min_polls": {"type": "int", "default": 5},
    "max_consecutive_failures": {"type": "int", "default": 3},
    "max_response_ms": {"type": "float"},
    "error_rate_field": {"type": "str"},
    "max_reported_error_rate": {"type": "float"},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "fail_on_breach": {"type": "bool", "default": False},
}

# The options watch_window takes under the same names.
WINDOW_OPTIONS = ("body_contains", "duration", "interval", "timeout", "max_error_rate", "min_polls",
                  "max_consecutive_failures", "max_response_ms", "error_rate_field", "max_reported_error_rate",
                  "validate_certs", "ca_path")


def problems(args):
    """What is wrong with the arguments, before any request."""
    found = []
    if not args["url"].startswith(("http://", "https://")):
        found.append(f"url must be an http(s) URL, not {shown(args['url'])!r}.")
    if not args["status"]:
        found.append("status must name at least one healthy status.")
    if args["duration"] <= 0 or args["interval"] <= 0 or args["timeout"] <= 0:
        found.append("duration, interval and timeout must be more than 0.")
    elif expected_polls(args["duration"], args["interval"]) < args["min_polls"]:
        found.append(f"A window of {args['duration']:g} s polled every {args['interval']:g} s holds "
                     f"{expected_polls(args['duration'], args['interval'])} polls, fewer than min_polls "
                     f"{args['min_polls']}: the error rate would never be judged; poll more often or lower min_polls.")
    if not 0 <= args["max_error_rate"] <= 1:
        found.append("max_error_rate must be between 0 and 1.")
    if args["min_polls"] < 1 or args["max_consecutive_failures"] < 1:
        found.append("min_polls and max_consecutive_failures must be 1 or more.")
    if args["max_response_ms"] is not None and args["max_response_ms"] <= 0:
        found.append("max_response_ms must be more than 0.")
    if args["error_rate_field"] == "":
        found.append("error_rate_field must name a field of the JSON body.")
    if args["max_reported_error_rate"] is not None:
        if args["max_reported_error_rate"] < 0:
            found.append("max_reported_error_rate must be 0 or more.")
        if not args["error_rate_field"]:
            found.append("max_reported_error_rate needs error_rate_field, the field that holds the reported rate.")
    if args["ca_path"] and not os.path.isfile(args["ca_path"]):
        found.append(f"ca_path {args['ca_path']} is not a file: give a PEM file of certificate authorities.")
    return found


def shown(url):
    """The URL as the log and the messages show it: no credentials, no query, no fragment."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url.split("?")[0].split("#")[0].rpartition("@")[2][:60]
    path = parts.path if len(parts.path) <= 40 else parts.path[:39] + "…"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{path}"


def progress_line(url, duration, poll):
    """One short line for the job log; it never holds the body."""
    if duration >= 120:
        when = f"{poll['elapsed'] / 60:.0f} min of {duration / 60:g}"
    else:
        when = f"{poll['elapsed']:.{0 if duration >= 10 else 1}f} s of {duration:g}"
    answer = str(poll["status"]) if poll["ok"] else poll["reason"]
    if len(answer) > 60:
        answer = answer[:59] + "…"
    return (f"watch {url} {poll['polls']}/{poll['expected']} ({when}): {answer} in {poll['ms']:.0f} ms, "
            f"error rate {poll['error_rate'] * 100:.1f} % ({poll['failures']}/{poll['polls']})")


def watch(args):
    """The task's result for these arguments."""
    found = problems(args)
    if found:
        return {"failed": True, "changed": False, "msg": " ".join(found)}

    url = shown(args["url"])
    verdict = watch_window(args["url"], args["status"], **{name: args[name] for name in WINDOW_OPTIONS},
                           on_poll=lambda poll: display.display(progress_line(url, args["duration"], poll)))
    if not verdict["warnings"]:
        del verdict["warnings"]
    if verdict["breach"]:
        display.display(f"watch {url}: breach of {verdict['breach']} at poll {verdict['polls']}: {verdict['reason']}")
        if args["fail_on_breach"]:
            message = (f"The watch of {url} saw a breach of {verdict['breach']} after {verdict['polls']} polls in "
                       f"{verdict['watched_s']:g} s: {verdict['reason']}.")
            return {"failed": True, "changed": False, "msg": message, **verdict}
    else:
        display.display(f"watch {url}: healthy for {verdict['watched_s']:g} s, {verdict['polls']} polls, "
                        f"error rate {verdict['error_rate'] * 100:.1f} %")
    return {"changed": False, **verdict}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args):
        return watch(args)
