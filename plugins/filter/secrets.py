# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Masking secrets in text people typed before it leaves for Slack, the Statuspage or PagerDuty.

Documentation is in mask_secrets.yml beside this file.
"""

from __future__ import annotations

from ansible_collections.runbook.ops.plugins.plugin_utils._redact import (
    SECRET_VARIABLES,
    mask_shapes,
    mask_values,
    secret_values,
)


def mask_secrets(text, names=SECRET_VARIABLES, values=()):
    """The text with the controller's secrets, and URLs' passwords and the like, masked.

    Not key=value shapes: a sentence such as "session: lost" must reach customers as written.
    """
    if text is None:
        return text
    return mask_shapes(mask_values(str(text), secret_values(names, values)), keywords=False)


class FilterModule:
    def filters(self):
        return {"mask_secrets": mask_secrets}
