# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Transport options of every module that calls a service's API; each service's fragment adds its deadline.
    DOCUMENTATION = r"""
options:
  validate_certs:
    description: Whether to verify the service's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: A PEM file of certificate authorities to trust for the service.
    type: path
  timeout:
    description: Seconds to wait for one answer.
    type: float
    default: 10
notes:
  - Runs on the controller; the API calls leave from there.
"""
