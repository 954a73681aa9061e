# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The shape every controller-side action of this collection shares.

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    """An action that needs no connection: it checks its arguments and reports what ``act`` returns.

    Values of ``no_log`` options, and any ``act`` adds to ``self.secrets``, never reach the result.
    """

    TRANSFERS_FILES = False
    _requires_connection = False

    ARGUMENT_SPEC: dict = {}
    # mutually_exclusive, required_one_of and the like, as validate_argument_spec takes them.
    ARGUMENT_RULES: dict = {}

    def act(self, args):
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        validation, args = self.validate_argument_spec(self.ARGUMENT_SPEC, **self.ARGUMENT_RULES)
        self.secrets = set(validation._no_log_values)
        outcome = self.act(args)
        result.update(remove_values(outcome, self.secrets))
        return result
