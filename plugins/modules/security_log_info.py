#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: security_log_info
short_description: Summarise a host's failed and accepted SSH logins and its sudo use over a time window
description:
  - Reads, on the target host, the security log (C(/var/log/auth.log) on Debian and Ubuntu, C(/var/log/secure)
    on Red Hat and its relatives) and, with O(journal), the systemd journal, and counts what happened from
    O(since) until O(until) (the start included, the end not).
  - Failed SSH logins are the lines C(Failed password), C(Invalid user), C(Connection closed by authenticating
    user ... [preauth]) and pam_unix's C(authentication failure) of sshd. The lines one attempt leaves (pam_unix
    and sshd both log a wrong password) are tied together by the process id of the connection and counted once.
  - Accepted SSH logins are the C(Accepted) lines, by user, address and method (C(publickey), C(password) and
    so on).
  - Sudo use is each command sudo ran, by user and target user. Of a command, only the program's name is kept
    (C(systemctl) for C(/usr/bin/systemctl restart app)), never its arguments, which can hold passwords and
    tokens. Incorrect passwords and refusals (not in sudoers, not allowed) are counted as failures.
  - Besides each file of O(paths), its rotated copies (C(auth.log.1), C(auth.log.2.gz), C(secure-20261201)) are
    read when they were last written at or after O(since), so a check after the logs were rotated misses
    nothing. Files are read one line at a time, plain or gzip; memory does not grow with their size.
  - Two line formats are read. The traditional one (C(Dec  5 04:43:45 host sshd[123]) followed by the message)
    has no year and no zone; it is taken in the host's local time, in the year that puts it at or before the time
    of reading, so December lines read in January belong to the year before. The RFC 3339 one
    (C(2026-12-05T04:43:45.123456+09:00 host sshd[123]), the default of rsyslog on Debian 12) carries both.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
attributes:
  check_mode:
    support: full
    details: Read-only; it reads the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  paths:
    description:
      - The log files to read. Those that do not exist are listed in RV(missing).
      - It is an error when none of them exists, unless O(journal) finds entries.
    type: list
    elements: path
    default: [/var/log/auth.log, /var/log/secure]
  since:
    description:
      - The start of the window, included, as an ISO 8601 time with its offset or C(Z), for example
        V(2026-12-04T09:00:00+09:00). Usually the time of the previous check.
    type: str
    required: true
  until:
    description:
      - The end of the window, not included, written as O(since). It must be later than O(since).
      - By default the time of reading.
    type: str
  journal:
    description:
      - Whether to read the systemd journal too, with C(journalctl), for the entries of sshd and sudo in the
        window. Needed on hosts that log only to the journal (Debian 12 without rsyslog).
      - Nothing is read from the journal when C(journalctl) is not installed.
      - An event found both in the journal and in a file (rsyslog copies the journal into the files) is counted
        once.
    type: bool
    default: false
  top:
    description: How many users, addresses, methods and commands to list in each ranking, the most frequent first.
    type: int
    default: 10
notes:
  - Reading the security log needs the rights of C(root) or of the group C(adm) (Debian, Ubuntu); run the task
    with C(become), or add the connecting user to the group C(adm). Reading the whole journal needs the group
    C(adm) or C(systemd-journal).
  - Traditional lines are taken in the host's local time. In the hour a daylight saving change repeats, their
    order cannot be told apart.
  - The journal's output is held in memory while it is read; it is limited to sshd and sudo in the window.
  - Rotated copies compressed otherwise than with gzip (C(.xz), C(.bz2), C(.zst)) are not read.
seealso:
  - module: runbook.ops.host_resources_info
"""

EXAMPLES = r"""
- name: Summarise the security logs since the previous check
  runbook.ops.security_log_info:
    paths: "{{ daily_check_security_logs }}"  # [/var/log/auth.log, /var/log/secure] by default
    since: "{{ previous_check_at }}"
  become: true
  register: security

- name: Warn about many failed logins
  ansible.builtin.debug:
    msg: >-
      {{ security.failed_logins.count }} failed SSH logins, the most from
      {{ security.failed_logins.by_address[0].address }}
  when: security.failed_logins.count > 100

- name: A host that logs only to the journal, over a fixed day
  runbook.ops.security_log_info:
    paths: []
    journal: true
    since: "2026-12-04T00:00:00+09:00"
    until: "2026-12-05T00:00:00+09:00"
    top: 5
  become: true
  register: security
"""

RETURN = r"""
failed_logins:
  description: The failed SSH logins.
  returned: always
  type: dict
  contains:
    count:
      description: How many login attempts failed.
      type: int
      sample: 1342
    invalid_users:
      description: How many of the connections named a user the host does not have.
      type: int
      sample: 310
    by_user:
      description:
        - The users tried most, with how many failures each. C(user) is null when the log does not name one.
        - The name is as the log wrote it, which an attacker chose; it is text, nothing more.
      type: list
      elements: dict
      sample: [{"user": "root", "count": 1020}, {"user": "admin", "count": 51}]
    by_address:
      description: The addresses that failed most, with how many failures each.
      type: list
      elements: dict
      sample: [{"address": "203.0.113.7", "count": 880}]
accepted_logins:
  description: The accepted SSH logins.
  returned: always
  type: dict
  contains:
    count:
      description: How many logins were accepted.
      type: int
      sample: 12
    by_user:
      description: The users who logged in most, with how many logins each.
      type: list
      elements: dict
      sample: [{"user": "deploy", "count": 10}]
    by_address:
      description: The addresses logged in from most, with how many logins each.
      type: list
      elements: dict
      sample: [{"address": "192.0.2.10", "count": 10}]
    by_method:
      description: How many logins each method accepted.
      type: list
      elements: dict
      sample: [{"method": "publickey", "count": 11}, {"method": "password", "count": 1}]
sudo:
  description: The use of sudo.
  returned: always
  type: dict
  contains:
    count:
      description: How many commands sudo ran.
      type: int
      sample: 25
    failures:
      description: How many times sudo refused, for incorrect passwords or a user not allowed to run the command.
      type: int
      sample: 1
    by_user:
      description: Who ran the most commands, as which target user.
      type: list
      elements: dict
      sample: [{"user": "deploy", "target": "root", "count": 20}]
    commands:
      description:
        - The programs run most, by user and target user.
        - C(command) is the program's name, never its arguments.
      type: list
      elements: dict
      sample: [{"user": "deploy", "target": "root", "command": "systemctl", "count": 12}]
sources:
  description: What was read, in order.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: The file, or V(journal).
      type: str
      sample: /var/log/auth.log.1
    lines_read:
      description: How many lines (or journal entries) it held.
      type: int
      sample: 120045
    lines_in_window:
      description: How many of them fell in the window, whatever their program.
      type: int
      sample: 40210
    duplicates:
      description: How many events of a file were skipped because the journal already gave them.
      type: int
      sample: 0
missing:
  description: The files of O(paths) that do not exist.
  returned: always
  type: list
  elements: str
  sample: [/var/log/secure]
since:
  description: The start of the window, in UTC.
  returned: always
  type: str
  sample: "2026-12-04T00:00:00Z"
until:
  description: The end of the window, in UTC.
  returned: always
  type: str
  sample: "2026-12-05T00:00:00Z"
first_seen:
  description: When the first counted event happened, in UTC; null when none was.
  returned: always
  type: str
  sample: "2026-12-04T00:03:12Z"
last_seen:
  description: When the last counted event happened, in UTC; null when none was.
  returned: always
  type: str
  sample: "2026-12-04T23:58:40.123456Z"
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._security_log import (
    LogUnreadable,
    Summary,
    iso_moment,
    journal_command,
    journal_entries,
    rotated_files,
    syslog_entries,
)

WHAT_TO_DO = "Run the task with become: true, or add the connecting user to the group adm."


def window(params, now):
    """(since, until) from the options, or a message saying what is wrong with them."""
    since = iso_moment(params["since"])
    if since is None:
        return None, f"since must be an ISO 8601 time with its offset, such as 2026-12-04T09:00:00+09:00, not " \
                     f"{params['since']!r}."
    until = now if params["until"] is None else iso_moment(params["until"])
    if until is None:
        return None, f"until must be an ISO 8601 time with its offset, such as 2026-12-05T09:00:00+09:00, not " \
                     f"{params['until']!r}."
    if since >= until:
        return None, f"since ({params['since']}) must be earlier than until ({params['until'] or 'now'})."
    return (since, until), None


def read_journal(module, summary, since, until):
    """Count the journal's entries of the window; whether it had any."""
    journalctl = module.get_bin_path("journalctl")
    if journalctl is None:
        return False
    rc, out, err = module.run_command(journal_command(journalctl, since, until))
    if "No journal files were found" in err:
        return False
    if rc != 0:
        module.fail_json(msg=f"journalctl failed (exit code {rc}): {err.strip()[:500]}")
    if "not seeing messages from other users and the system" in err:
        module.fail_json(msg=f"journalctl shows this user only its own entries, not sshd's and sudo's. {WHAT_TO_DO}")
    summary.read("journal", journal_entries(out), remember=True)
    return summary.sources[-1]["lines_read"] > 0


def main():
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "path", "default": ["/var/log/auth.log", "/var/log/secure"]},
            "since": {"type": "str", "required": True},
            "until": {"type": "str"},
            "journal": {"type": "bool", "default": False},
            "top": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    params = module.params
    now = datetime.datetime.now(datetime.timezone.utc)
    if params["top"] < 0:
        module.fail_json(msg=f"top must be 0 or more, not {params['top']}.")
    bounds, problem = window(params, now)
    if problem:
        module.fail_json(msg=problem)
    since, until = bounds

    summary = Summary(since, until)
    # The journal first: its events are remembered, so the copies rsyslog wrote into the files count once.
    journal_found = params["journal"] and read_journal(module, summary, since, until)

    missing, files = [], []
    for path in dict.fromkeys(params["paths"]):
        # The rotated copies first, the oldest first, so the events come in the order they happened. They are
        # read even when the log itself is gone: rotated, and not written to since.
        files += rotated_files(path, since)
        if os.path.exists(path):
            files.append(path)
        else:
            missing.append(path)
    if not files and not journal_found:
        searched = ", ".join(params["paths"]) or "no file"
        journal = " nor has the journal any entry in the window" if params["journal"] else ""
        hint = "" if params["journal"] else " On a host that logs only to the systemd journal, set journal: true."
        module.fail_json(msg=f"No security log found: none of {searched} exists{journal}.{hint}", missing=missing)

    try:
        for file in files:
            summary.read(file, syslog_entries(file, now))
    except LogUnreadable as exc:
        module.fail_json(msg=f"Cannot read {exc.path}: {exc.reason}. {WHAT_TO_DO}")

    module.exit_json(changed=False, missing=missing, **summary.result(params["top"]))


if __name__ == "__main__":
    main()
