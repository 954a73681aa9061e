# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Argument specs and client factories the modules share.

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.runbook.ops.plugins.module_utils._vercel import DEFAULT_API_URL, VercelClient


def vercel_argument_spec(**options):
    spec = {
        "token": {"type": "str", "required": True, "no_log": True, "fallback": (env_fallback, ["VERCEL_TOKEN"])},
        "team": {"type": "str", "fallback": (env_fallback, ["VERCEL_ORG_ID"])},
        "api_url": {"type": "str", "default": DEFAULT_API_URL, "fallback": (env_fallback, ["VERCEL_API_URL"])},
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "timeout": {"type": "float", "default": 10},
        "deadline": {"type": "float", "default": 60},
    }
    spec.update(options)
    return spec


def vercel_client(module):
    params = module.params
    return VercelClient(params["token"], team=params["team"], base_url=params["api_url"],
                        timeout=params["timeout"], deadline=params["deadline"],
                        validate_certs=params["validate_certs"], ca_path=params["ca_path"])
