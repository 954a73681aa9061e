# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Options of the PagerDuty modules, and the clients they make.

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.runbook.ops.plugins.module_utils._http_options import HTTP_ARGUMENT_SPEC, http_options
from ansible_collections.runbook.ops.plugins.module_utils._pagerduty import (
    DEFAULT_API_URL,
    DEFAULT_EVENTS_URL,
    PagerDutyEvents,
    PagerDutyREST,
)


def pagerduty_argument_spec(**options):
    spec = {
        "routing_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["PAGERDUTY_ROUTING_KEY"])},
        "events_url": {"type": "str", "default": DEFAULT_EVENTS_URL,
                       "fallback": (env_fallback, ["PAGERDUTY_EVENTS_URL"])},
        "api_token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["PAGERDUTY_API_TOKEN"])},
        "api_url": {"type": "str", "default": DEFAULT_API_URL, "fallback": (env_fallback, ["PAGERDUTY_API_URL"])},
        **HTTP_ARGUMENT_SPEC,
    }
    spec.update(options)
    return spec


def _base_url(module, option, variable, default):
    # An empty variable (an unset optional field of an AWX credential) means the default.
    url = (module.params[option] or "").strip() or default
    if not url.startswith(("https://", "http://")):
        module.fail_json(msg=f"The PagerDuty URL must start with https:// ({variable} or {option}): {url!r}.")
    return url


def events_client(module):
    """The Events API client for the module's options, or a clear failure when they cannot make one."""
    routing_key = (module.params["routing_key"] or "").strip()
    if not routing_key:
        module.fail_json(msg="No PagerDuty routing key: set the environment variable PAGERDUTY_ROUTING_KEY "
                             "(or the routing_key option) to the service's Events API v2 integration key.")
    url = _base_url(module, "events_url", "PAGERDUTY_EVENTS_URL", DEFAULT_EVENTS_URL)
    return PagerDutyEvents(routing_key, base_url=url, **http_options(module.params))


def rest_client(module):
    """The REST API client, or None when no API token is set (empty counts as unset)."""
    token = (module.params["api_token"] or "").strip()
    if not token:
        return None
    url = _base_url(module, "api_url", "PAGERDUTY_API_URL", DEFAULT_API_URL)
    return PagerDutyREST(token, base_url=url, **http_options(module.params))
