# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Options of the Vercel modules, and the client they make.

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.runbook.ops.plugins.module_utils._http_options import HTTP_ARGUMENT_SPEC, http_options
from ansible_collections.runbook.ops.plugins.module_utils._vercel import DEFAULT_API_URL, VercelClient


def vercel_argument_spec(**options):
    spec = {
        "token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["VERCEL_TOKEN"])},
        "team": {"type": "str", "fallback": (env_fallback, ["VERCEL_ORG_ID"])},
        "api_url": {"type": "str", "default": DEFAULT_API_URL, "fallback": (env_fallback, ["VERCEL_API_URL"])},
        **HTTP_ARGUMENT_SPEC,
    }
    spec.update(options)
    return spec


def client_from(params):
    """The client for these options; ValueError says plainly what is missing or wrong."""
    if not (params["token"] or "").strip():
        raise ValueError("No Vercel token: set the environment variable VERCEL_TOKEN (or the token option).")
    # An empty VERCEL_API_URL (an unset optional field of an AWX credential) means the default.
    api_url = (params["api_url"] or "").strip() or DEFAULT_API_URL
    if not api_url.startswith(("https://", "http://")):
        raise ValueError(f"The Vercel API URL must start with https:// (VERCEL_API_URL or api_url): {api_url!r}.")
    return VercelClient(params["token"], team=params["team"], base_url=api_url, **http_options(params))


def vercel_client(module):
    """The client for the module's options, or a clear failure when they cannot make one."""
    try:
        return client_from(module.params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
