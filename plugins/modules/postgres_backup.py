#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_backup
short_description: Take a verified pg_dump backup of a PostgreSQL database, with a checksum and retention
description:
  - Dumps O(database) with C(pg_dump) into O(backup_dir), named C(<database>_<UTC time>.dump).
  - The archive is written under a temporary name and gets its final name only once it is verified
    (exit status, no error on stderr, not empty, and C(pg_restore --list) reads a table of contents
    with entries). A SHA-256 manifest (C(.sha256), in C(sha256sum) format) is then written beside it;
    a backup counts as verified when it has one.
  - After a verified backup, older verified backups of the database beyond O(keep_count) or older than
    O(keep_days) are removed with their manifests and table summaries, but never the newest one; so are
    the safety backups of
    M(runbook.ops.postgres_restore) older than O(keep_days). After a failure nothing is removed and no
    file is left under a final name.
  - With O(table_summary=true), the row count and a checksum of every user table are read in the very
    snapshot C(pg_dump) dumps (exported from a C(REPEATABLE READ) transaction and handed to
    C(pg_dump --snapshot)), while it dumps, and written beside the backup as C(<backup>.tables.json), before
    the manifest. M(runbook.ops.postgres_restore_drill) compares a restored copy with it.
  - Backups, manifests and table summaries are readable by their owner only, whatever the folder's mode.
  - A C(pg_dump) or C(pg_restore) older than the server is refused, with both versions named.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.postgres
attributes:
  check_mode:
    support: full
    details: Connects and checks the client versions, then reports the backup it would take and what it
      would prune; writes and removes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run takes a new backup.
options:
  backup_dir:
    description: Folder of the backups. It is created, readable by its owner only, when missing.
    type: path
    default: /backup
  format:
    description: V(custom) (one file) or V(directory) (one folder, dumped with O(jobs) parallel jobs).
    type: str
    choices: [custom, directory]
    default: custom
  jobs:
    description: Parallel jobs for the V(directory) format.
    type: int
    default: 1
  keep_count:
    description: Keep at most this many verified backups of the database, the new one included.
    type: int
  keep_days:
    description: Remove verified backups older than this many days (never the newest one).
    type: float
  pg_dump:
    description: The C(pg_dump) program to run.
    type: path
    default: pg_dump
  pg_restore:
    description: The C(pg_restore) program that verifies the archive.
    type: path
    default: pg_restore
  table_summary:
    description:
      - Also write C(<backup>.tables.json), the row count and checksum of every user table as of the backup
        (ordinary tables and leaf partitions; not those of the system or of extensions), as a JSON map of
        C(schema.table) to its C(rows) and C(checksum) (16 hexadecimal digits).
      - A checksum is the sum of a hash of each row's text, so it does not depend on row order, and it is
        read with fixed time zone, date, interval, float and bytea output settings, so it is the same after
        a dump and restore into a database of the same server (or of a server of the same major version).
      - It costs one more read of every table, on a connection of its own, while C(pg_dump) runs.
    type: bool
    default: false
notes:
  - Runs on the host of the task, usually one of the C(db) group, or the controller with a O(dsn) for a
    managed database.
  - The table summary is not listed in the manifest. A restore does not need it, so a backup whose summary
    was lost or edited still verifies and restores; a summary that no longer matches the data is what a
    restore drill reports.
"""

EXAMPLES = r"""
- name: Back up the shop's database, keeping a week of backups
  runbook.ops.postgres_backup:
    dsn: "{{ lookup('ansible.builtin.env', 'DATABASE_URL') }}"
    backup_dir: "{{ db_backup_dir }}"
    keep_days: 7
  register: backup

- name: A large database, in parallel, as a role that may only read
  runbook.ops.postgres_backup:
    host: "{{ db_host }}"
    user: backup
    database: billing
    backup_dir: "{{ db_backup_dir }}"
    format: directory
    jobs: 4
    keep_count: 10

- name: A nightly backup that a restore drill can compare with
  runbook.ops.postgres_backup:
    dsn: "{{ lookup('ansible.builtin.env', 'DATABASE_URL') }}"
    backup_dir: "{{ db_backup_dir }}"
    table_summary: true
"""

RETURN = r"""
path:
  description: The backup (in check mode, the one it would write).
  returned: always
  type: str
  sample: /backup/shop_20261204T031500Z.dump
manifest:
  description: The SHA-256 manifest beside it.
  returned: when a backup was taken
  type: str
table_summary:
  description: The table summary beside it (in check mode, the one it would write); null without
    O(table_summary=true).
  returned: always
  type: str
  sample: /backup/shop_20261204T031500Z.dump.tables.json
size_bytes:
  description: Size of the backup in bytes (all its files, for the directory format).
  returned: when a backup was taken
  type: int
checksum:
  description: SHA-256 of the archive (of the manifest's lines, for the directory format).
  returned: when a backup was taken
  type: str
toc_entries:
  description: Entries in the archive's table of contents.
  returned: when a backup was taken
  type: int
duration:
  description: Seconds the dump and its verification took.
  returned: when a backup was taken
  type: float
server_version:
  description: The server's version.
  returned: always
  type: str
  sample: "15.18"
pg_dump_version:
  description: The version of the C(pg_dump) that ran.
  returned: always
  type: str
pruned:
  description: Older backups removed by the retention rules (in check mode, that would be removed).
  returned: always
  type: list
  elements: str
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._backup import SUMMARY, backup_name, dump, prune
from ansible_collections.runbook.ops.plugins.module_utils._postgres import (
    PostgresError,
    check_client,
    client_environment,
    connect,
    psycopg2,
    readable,
)
from ansible_collections.runbook.ops.plugins.module_utils._postgres_options import (
    postgres_argument_spec,
    postgres_settings,
)
from ansible_collections.runbook.ops.plugins.module_utils._tables import summaries


def dump_with_summary(connection, *arguments):
    """A backup, and the summary of its tables read in the very snapshot pg_dump dumps.

    The transaction that exports the snapshot stays open until pg_dump is done with it; it reads only.
    """
    try:
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
        cursor = connection.cursor()
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        return dump(*arguments, snapshot=snapshot, summarise=lambda: summaries(cursor))
    except psycopg2.Error as exc:
        raise PostgresError(f"Reading the tables of {connection.info.dbname} for their summary failed: "
                            f"{' '.join(str(exc).split())}") from None
    finally:
        connection.close()


def main():
    module = AnsibleModule(
        argument_spec=postgres_argument_spec(
            backup_dir={"type": "path", "default": "/backup"},
            format={"type": "str", "choices": ["custom", "directory"], "default": "custom"},
            jobs={"type": "int", "default": 1},
            keep_count={"type": "int"},
            keep_days={"type": "float"},
            pg_dump={"type": "path", "default": "pg_dump"},
            pg_restore={"type": "path", "default": "pg_restore"},
            table_summary={"type": "bool", "default": False},
        ),
        supports_check_mode=True,
    )
    params = module.params
    problems = [f"{name} must be at least {least}, not {params[name]}." for name, least in
                (("jobs", 1), ("keep_count", 1), ("keep_days", 0)) if params[name] is not None and params[name] < least]
    if problems:
        module.fail_json(msg=" ".join(problems) + " Nothing was changed.")
    # pg_dump creates the archive with the process's umask: backups hold every row, for the owner only.
    os.umask(0o077)

    settings = postgres_settings(module)
    connection = None
    try:
        # Kept open: the table summary's snapshot is exported on it.
        connection = connect(settings)
        database = connection.info.dbname
        server = connection.server_version
        client = check_client(params["pg_dump"], server)
        check_client(params["pg_restore"], server)
        versions = {"server_version": readable(server), "pg_dump_version": readable(client)}

        directory = params["backup_dir"]
        if module.check_mode:
            planned = os.path.join(directory, backup_name(database, datetime.datetime.now(datetime.timezone.utc)))
            pruned = prune(directory, database, params["keep_count"], params["keep_days"], check_mode=True) \
                if os.path.isdir(directory) else []
            module.exit_json(changed=True, path=planned, pruned=pruned,
                             table_summary=planned + SUMMARY if params["table_summary"] else None, **versions)

        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise PostgresError(f"Cannot create the backup folder {directory}: {exc.strerror}.") from None
        environment = {**os.environ, **client_environment({**settings, "dbname": database})}
        arguments = (params["pg_dump"], params["pg_restore"], directory, database, params["format"], params["jobs"],
                     environment)
        if params["table_summary"]:
            backup = dump_with_summary(connection, *arguments)
            backup["table_summary"] = backup["path"] + SUMMARY
        else:
            backup = dump(*arguments)
            backup["table_summary"] = None
        pruned = prune(directory, database, params["keep_count"], params["keep_days"])
    except (PostgresError, OSError) as exc:
        module.fail_json(msg=str(exc))
    finally:
        if connection is not None:
            connection.close()

    for line in backup.pop("warnings"):
        module.warn(f"pg_dump: {line}")
    module.exit_json(changed=True, pruned=pruned, **backup, **versions)


if __name__ == "__main__":
    main()
