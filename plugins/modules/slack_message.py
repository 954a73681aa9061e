#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: slack_message
short_description: Post a message to a Slack incoming webhook
description:
  - Posts text, Block Kit blocks and/or legacy attachments to one incoming webhook.
  - Only Slack's C(200 ok) counts as sent; Slack's error codes become messages that say what to do.
  - The webhook URL is the credential. It never appears in the task's output, its errors or its diff.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.attributes.action
attributes:
  action:
    support: full
  check_mode:
    support: full
    details: Renders the payload and returns it; sends nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run posts a new message; Slack has no way to recognise a repeat.
options:
  webhook_url:
    description:
      - The incoming webhook URL.
      - Give this or O(webhook_env).
    type: str
  webhook_env:
    description:
      - The name of an environment variable on the controller that holds the webhook URL, for example
        V(SLACK_INCIDENT_WEBHOOK). The URL then never passes through a variable.
      - Give this or O(webhook_url).
    type: str
  text:
    description:
      - Message text in Slack's mrkdwn. With O(blocks) it is the notification fallback.
      - Escape a literal C(&), C(<) and C(>) as C(&amp;), C(&lt;) and C(&gt;); they are sent as given.
    type: str
  blocks:
    description: Block Kit blocks.
    type: list
    elements: dict
  attachments:
    description: Legacy attachments, for example to colour a message's edge.
    type: list
    elements: dict
  fail_on_error:
    description:
      - When false, a failed post is a warning and the task succeeds with RV(sent=false), so a notice
        never stops the work it reports on.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for Slack's answer.
    type: float
    default: 10
  deadline:
    description:
      - Seconds within which all attempts must finish. Only refusals that posted nothing are retried
        (rate limits, refused connections), so a message is never posted twice.
    type: float
    default: 30
  validate_certs:
    description: Whether to verify Slack's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: A PEM file of certificate authorities to trust.
    type: path
notes:
  - Runs on the controller; O(webhook_env) is read from the controller's environment.
seealso:
  - name: Slack incoming webhooks
    description: How to create a webhook and what it accepts.
    link: https://api.slack.com/messaging/webhooks
"""

EXAMPLES = r"""
- name: Tell the incident channel
  runbook.ops.slack_message:
    webhook_env: SLACK_INCIDENT_WEBHOOK
    text: ":rewind: Rollback of *webapp* started by {{ operator }}"

- name: A notice that must never fail the play
  runbook.ops.slack_message:
    webhook_env: SLACK_DEPLOYMENT_WEBHOOK
    text: Deploy finished
    blocks:
      - type: section
        text:
          type: mrkdwn
          text: "*Deploy finished* :white_check_mark:"
    fail_on_error: false
"""

RETURN = r"""
sent:
  description: Whether Slack accepted the message. False in check mode and after a tolerated failure.
  returned: always
  type: bool
payload:
  description: The JSON body that was (or in check mode would be) posted.
  returned: always
  type: dict
  sample: {"text": "Rollback started"}
error:
  description: Why the post failed, when O(fail_on_error=false) turned the failure into a warning.
  returned: when a tolerated post failed
  type: str
"""
