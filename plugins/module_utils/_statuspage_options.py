# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Options of the Statuspage modules, and the client they make.

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.runbook.ops.plugins.module_utils._http_options import HTTP_ARGUMENT_SPEC, http_options
from ansible_collections.runbook.ops.plugins.module_utils._statuspage import DEFAULT_API_URL, StatuspageClient


def statuspage_argument_spec(**options):
    spec = {
        "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["STATUS_PAGE_API_KEY"])},
        "page_id": {"type": "str", "fallback": (env_fallback, ["STATUS_PAGE_ID"])},
        "api_url": {"type": "str", "default": DEFAULT_API_URL, "fallback": (env_fallback, ["STATUSPAGE_API_URL"])},
        **HTTP_ARGUMENT_SPEC,
    }
    spec.update(options)
    return spec


def statuspage_client(module):
    """The client for the module's options, or a clear failure when they cannot make one."""
    params = module.params
    if not (params["api_key"] or "").strip():
        module.fail_json(msg="No Statuspage API key: set the environment variable STATUS_PAGE_API_KEY "
                             "(or the api_key option).")
    if not (params["page_id"] or "").strip():
        module.fail_json(msg="No Statuspage page id: set the environment variable STATUS_PAGE_ID "
                             "(or the page_id option).")
    # An empty STATUSPAGE_API_URL (an unset optional field of an AWX credential) means the default.
    api_url = (params["api_url"] or "").strip() or DEFAULT_API_URL
    if not api_url.startswith(("https://", "http://")):
        module.fail_json(msg=f"The Statuspage API URL must start with https:// (STATUSPAGE_API_URL or api_url): "
                             f"{api_url!r}.")
    return StatuspageClient(params["api_key"], params["page_id"], base_url=api_url, **http_options(params))
