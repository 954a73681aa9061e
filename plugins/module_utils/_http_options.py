# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The transport options every service module takes (documented in the runbook.ops.transport fragment, the
deadline in each service's own, as each retries differently).

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

HTTP_ARGUMENT_SPEC = {
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "timeout": {"type": "float", "default": 10},
    "deadline": {"type": "float", "default": 60},
}


def http_options(params):
    """The keyword arguments of a service client's HTTP layer, from a module's parameters."""
    return {name: params[name] for name in HTTP_ARGUMENT_SPEC}
