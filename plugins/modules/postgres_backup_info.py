#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_backup_info
short_description: Report the newest verified backup of each database in a backup folder, and its age
description:
  - Reads the backups M(runbook.ops.postgres_backup) wrote in O(backup_dir), named C(<database>_<UTC time>.dump),
    and reports for each database of O(databases) the newest one, its age, its size and how many there are.
  - With O(verify=true), the newest backup is checked the way M(runbook.ops.postgres_restore) checks it
    before it restores anything; the archive must match its SHA-256 manifest, and C(pg_restore --list) must
    read a table of contents, not empty, of that very database. A newer backup that fails, or that has no
    manifest, is passed over and the reason is in RV(backups[].passed_over); the next older one is checked
    in its place. So the backup reported is the one a restore of the latest backup would take.
  - With O(verify=false), the newest backup that has its manifest is reported without reading it, which is
    quick however large the backups are.
  - A backup whose name holds no real time, or a time in the future (more than 5 minutes of clock difference
    ahead), is never the newest; it is passed over with the reason.
  - A database is stale, and RV(backups[].problems) says why, when it has no backup that verifies, or when its
    newest one is older than O(max_age_hours).
  - The task fails only when the folder is missing or cannot be read (or O(verify=true) and C(pg_restore) cannot
    run); stale databases are reported for the play to act on, in RV(stale) and RV(backups[].stale).
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
attributes:
  check_mode:
    support: full
    details: Reads only; it reads the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  backup_dir:
    description: Folder of the backups, as given to M(runbook.ops.postgres_backup).
    type: path
    default: /backup
  databases:
    description:
      - The databases to report, in this order. A database without any backup in the folder is reported as
        stale, with no backup.
      - By default (or when empty), every database that has a backup in the folder, verified or not, by name.
    type: list
    elements: str
  verify:
    description:
      - Whether to check the newest backup against its manifest and its table of contents, as a restore does,
        passing over those that fail.
      - V(false) only looks for the manifest, which M(runbook.ops.postgres_backup) writes once the archive was
        verified.
    type: bool
    default: true
  max_age_hours:
    description:
      - A database whose newest backup is older than this many hours is stale.
      - Without it, only a database with no backup that verifies is stale.
    type: float
  pg_restore:
    description: The C(pg_restore) program that reads an archive's table of contents, with O(verify=true).
    type: path
    default: pg_restore
notes:
  - Runs on the host that holds the backups, usually one of the C(db) group. It does not connect to any
    database, and C(pg_restore --list) needs no server.
  - With O(verify=true), every byte of the newest backup is read for its checksum (and of each newer one that
    is passed over), as a restore would; on large backups that takes a while.
  - RV(backups[].created_at) and RV(backups[].age_hours) come from the time in the backup's name, written in
    UTC when the backup began, not from the file's modification time, which a copy would change.
seealso:
  - module: runbook.ops.postgres_backup
  - module: runbook.ops.postgres_restore
"""

EXAMPLES = r"""
- name: Read the newest verified backup of each database
  runbook.ops.postgres_backup_info:
    backup_dir: "{{ db_backup_dir }}"
    max_age_hours: 26
  register: backups

- name: Say which databases lack a fresh backup
  ansible.builtin.debug:
    msg: "{{ backups.backups | selectattr('stale') | map(attribute='problems') | flatten | join(' ') }}"
  when: backups.stale

- name: A quick look at two databases, without reading the archives
  runbook.ops.postgres_backup_info:
    backup_dir: "{{ db_backup_dir }}"
    databases: [shop, billing]
    verify: false
"""

RETURN = r"""
backups:
  description: One entry per database, in the order of O(databases), or by name.
  returned: success
  type: list
  elements: dict
  contains:
    database:
      description: The database.
      type: str
      sample: shop
    newest:
      description: The file name of its newest backup that verifies (with O(verify=false), that has a manifest);
        null when there is none.
      type: str
      sample: shop_20261204T031500Z.dump
    path:
      description: Its full path; null when there is none.
      type: str
      sample: /backup/shop_20261204T031500Z.dump
    created_at:
      description: When it was taken, from the time in its name, in ISO 8601 UTC; null when there is none.
      type: str
      sample: "2026-12-04T03:15:00Z"
    age_hours:
      description: Hours since then, to one decimal; null when there is none.
      type: float
      sample: 5.2
    size_bytes:
      description: Its size in bytes (all its files, for the directory format); null when there is none.
      type: int
      sample: 73400320
    verified:
      description: Whether it was checked in this run against its manifest and its table of contents, and
        passed; false with O(verify=false), and when there is none.
      type: bool
    count:
      description: How many backups of the database have a manifest and a real time in the past in their
        name, the ones the retention of M(runbook.ops.postgres_backup) counts; they are not all checked.
      type: int
      sample: 7
    passed_over:
      description: Why newer backups were not taken as the newest, one sentence each, as
        M(runbook.ops.postgres_restore) says them.
      type: list
      elements: str
      sample:
        - shop_20261205T031500Z.dump has no SHA-256 manifest, so it was never verified; name it to restore it.
    stale:
      description: Whether the database has no backup that verifies, or its newest is older than O(max_age_hours).
      type: bool
    problems:
      description: What makes it stale, one sentence each; empty when it is not.
      type: list
      elements: str
      sample:
        - The newest backup of shop, shop_20261204T031500Z.dump, is 30.2 hours old, older than max_age_hours (26).
stale:
  description: Whether any database reported is stale.
  returned: success
  type: bool
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._backup import (
    MANIFEST,
    NAME,
    size_of,
    stamp_of,
    verified_backups,
)
from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError, client_version
from ansible_collections.runbook.ops.plugins.module_utils._restore import newest_backup


def databases_in(directory):
    """Every database that has a backup in the folder, verified or not, by name."""
    return sorted({match.group("database") for match in map(NAME.match, os.listdir(directory)) if match})


def never_verified(directory, database):
    """How many backups of the database have no manifest."""
    return sum(1 for name in os.listdir(directory) if NAME.match(name) and NAME.match(name).group("database") ==
               database and not os.path.exists(os.path.join(directory, name + MANIFEST)))


def report(directory, database, verify, pg_restore, max_age_hours, now):
    """What the module returns about one database's backups, its age counted up to ``now``."""
    found, passed_over = newest_backup(directory, database, pg_restore, dict(os.environ), verifying=verify)
    entry = {"database": database, "newest": None, "path": None, "created_at": None, "age_hours": None,
             "size_bytes": None, "verified": False, "count": len(verified_backups(directory, database)),
             "passed_over": passed_over}
    problems = []

    if found is None:
        unverified = never_verified(directory, database)
        # newest_backup names backups without a manifest only when a verified one is older: count the rest here.
        without = f" {unverified} backup(s) of it have no SHA-256 manifest, so they were never verified." \
            if unverified else ""
        problems.append(f"No verified backup of {database} in {directory}.{without}")
    else:
        name = os.path.basename(found["path"])
        created = stamp_of(NAME.match(name))
        # Up to 5 minutes ahead is allowed for clock differences between hosts: that is no negative age.
        hours = max((now - created).total_seconds() / 3600, 0.0)
        entry.update(newest=name, path=found["path"], created_at=created.isoformat().replace("+00:00", "Z"),
                     age_hours=round(hours, 1), size_bytes=size_of(found["path"]), verified=verify)
        if max_age_hours is not None and hours > max_age_hours:
            problems.append(f"The newest backup of {database}, {name}, is {hours:.1f} hours old, older than "
                            f"max_age_hours ({max_age_hours:g}).")

    entry.update(stale=bool(problems), problems=problems)
    return entry


def main():
    module = AnsibleModule(
        argument_spec={
            "backup_dir": {"type": "path", "default": "/backup"},
            "databases": {"type": "list", "elements": "str"},
            "verify": {"type": "bool", "default": True},
            "max_age_hours": {"type": "float"},
            "pg_restore": {"type": "path", "default": "pg_restore"},
        },
        supports_check_mode=True,
    )
    params = module.params
    directory = params["backup_dir"]
    if params["max_age_hours"] is not None and params["max_age_hours"] <= 0:
        module.fail_json(msg=f"max_age_hours must be more than 0, not {params['max_age_hours']:g}.")
    if not os.path.isdir(directory):
        module.fail_json(msg=f"The backup folder {directory} does not exist (or is not a folder); check backup_dir.")

    try:
        if params["verify"]:
            # Once here, with the advice to install it, rather than once per archive.
            client_version(params["pg_restore"])
        # dict.fromkeys: each database once, in the order given.
        databases = list(dict.fromkeys(params["databases"] or databases_in(directory)))
        now = datetime.datetime.now(datetime.timezone.utc)
        backups = [report(directory, database, params["verify"], params["pg_restore"], params["max_age_hours"], now)
                   for database in databases]
    except PostgresError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"Cannot read the backups in {directory}: {exc.filename or directory}: {exc.strerror}.")

    module.exit_json(changed=False, backups=backups, stale=any(entry["stale"] for entry in backups))


if __name__ == "__main__":
    main()
