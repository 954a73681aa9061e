# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # What each attribute means; every module states its own support and details.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: With C(--check), reports what would change and changes nothing.
  diff_mode:
    description: With C(--diff), shows the state before and after the change.
  idempotent:
    description: A second run with the same arguments reports no change.
"""

    # For the plugins that run on the controller as action plugins.
    ACTION = r"""
attributes:
  action:
    description: Runs on the controller, in the Ansible process itself, whatever host the play targets.
"""
