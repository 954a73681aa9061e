#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_restore
short_description: Restore a PostgreSQL database from a verified backup, keeping a safety backup of what it replaces
description:
  - Restores O(database) from O(backup), a named backup or the newest one that verifies.
  - Reads C(pg_dump) archives in the custom and directory formats (with C(pg_restore)), and plain C(.sql)
    or C(.sql.gz) files (with C(psql), stopping at the first error). A plain file is fed to C(psql) behind
    a C(\\restrict) of the module's own, so a meta-command in it (C(\\!) runs a shell) fails the restore
    instead of running; this needs C(psql) 15.14, 16.10, 17.6 or newer.
  - An archive must be of O(source_database), by default the database it is restored into; a plain file
    does not say which database it was dumped from.
  - The backup is verified before anything is touched. It must match its SHA-256 manifest when it has one
    (as the backups of M(runbook.ops.postgres_backup) do); an archive without one is read through completely
    by C(pg_restore); a plain file must end with the line C(pg_dump) closes its dumps with.
  - A safety backup of the data it replaces is kept, unless O(safety_backup=false), in O(backup_dir) as
    C(<database>_<UTC time>.pre-restore.dump) with its manifest, readable by its owner only; restored by
    name, it undoes the restore. It is never taken for V(latest);
    M(runbook.ops.postgres_backup) removes it after its O(runbook.ops.postgres_backup#module:keep_days).
  - With O(mode=swap), the backup is restored into a scratch database while the live one still serves, the
    scratch database is analyzed and checked, given the live one's owner, grants and settings, and then
    new connections to the live database are blocked, its sessions are ended and waited for, and it is
    replaced by renaming both databases in one transaction. Connections are allowed again in every case,
    also when something fails. The safety backup is then taken of the replaced database, so it holds every
    write committed up to the swap, and the replaced database is dropped once it is verified (kept when
    it fails, or with O(keep_replaced=true)).
  - With O(mode=in_place), for roles that may not create or rename databases (managed services), the safety
    backup is taken first, the other sessions are ended, and the backup is restored over the live database
    in a single transaction (C(pg_restore --clean --if-exists --single-transaction), or
    C(psql --single-transaction)), so a failure leaves it as it was. New connections cannot be blocked this
    way without locking out the restore itself; they wait on the restore's locks instead.
  - After the restore, O(check_query) must return a true value and the tables of O(expected_rows) must
    hold that many rows, in a read-only transaction that is rolled back; in swap mode this is checked
    before the live database is replaced.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.postgres
attributes:
  check_mode:
    support: full
    details: Verifies the backup, checks the role's privileges and the client versions, and reports what it
      would do; creates, blocks and restores nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run replaces the database's data with the backup's, as it was asked to; running it again
      after the application wrote new rows restores again and loses those rows, so the roles put it
      behind an explicit confirmation.
options:
  backup:
    description:
      - V(latest) (in any case) for the newest backup of O(database) in O(backup_dir) that verifies; newer
        ones that do not, or that have no manifest, are passed over and reported.
      - Else the file or folder to restore, absolute or relative to O(backup_dir).
    type: str
    default: latest
  backup_dir:
    description: Folder of the backups, and of the safety backup.
    type: path
    default: /backup
  mode:
    description:
      - V(swap) restores into a scratch database and swaps it in by renaming; it needs a superuser, or a role
        with CREATEDB that owns the database.
      - V(in_place) restores over the live database in one transaction.
      - V(auto) takes V(swap) when the role's privileges allow it, else V(in_place).
    type: str
    choices: [auto, swap, in_place]
    default: auto
  jobs:
    description: Parallel C(pg_restore) jobs for archives in swap mode. In place, one transaction excludes them.
    type: int
    default: 1
  safety_backup:
    description:
      - Whether to keep a safety backup of the data the restore replaces.
      - Turn it off only when the live database cannot be dumped any more; its data is then lost unless
        O(keep_replaced=true).
    type: bool
    default: true
  keep_replaced:
    description:
      - In swap mode, keep the replaced database as C(<database>_replaced_<UTC time>) instead of dropping it.
        It is then the quickest way back, at the cost of the disk space it holds.
    type: bool
    default: false
  no_owner:
    description:
      - Restore objects without their owners and grants (C(pg_restore --no-owner --no-acl)), for a server that
        lacks the roles of the one that was dumped. Archives only.
    type: bool
    default: false
  analyze:
    description: Run ANALYZE on the restored database, so that the application does not start on empty statistics.
    type: bool
    default: true
  check_query:
    description: SQL that must return a true value in its first column once the data is restored.
    type: str
    default: SELECT 1
  expected_rows:
    description: Row counts the restored tables must have, as C(table) or C(schema.table) to count.
    type: dict
  session_timeout:
    description: Seconds to wait for the database's other sessions to end before giving up.
    type: float
    default: 30
  source_database:
    description:
      - The database the archive must have been dumped from. Defaults to O(database); set it to restore a
        backup of one database into another, as a recovery drill does.
    type: str
  maintenance_database:
    description: The database to connect to while creating, renaming and dropping databases.
    type: str
    default: postgres
  pg_dump:
    description: The C(pg_dump) program that takes the safety backup.
    type: path
    default: pg_dump
  pg_restore:
    description: The C(pg_restore) program.
    type: path
    default: pg_restore
  psql:
    description: The C(psql) program, for plain SQL backups.
    type: path
    default: psql
notes:
  - Runs on the host of the task, usually one of the C(db) group, or the controller with a O(dsn) for a
    managed database.
  - In place, the safety backup holds the database as it was when it began; rows the application writes
    between then and the restore are lost. Stop its writers first when that matters.
  - If the module process is killed outright (SIGKILL) between blocking and allowing connections, the live
    database stays closed to new connections; C(ALTER DATABASE <name> ALLOW_CONNECTIONS true) opens it.
    SIGTERM, as sent when a job is cancelled, is handled.
seealso:
  - module: runbook.ops.postgres_backup
"""

EXAMPLES = r"""
- name: Restore a plain SQL dump made by the old scripts, on a managed database
  runbook.ops.postgres_restore:
    host: "{{ db_host }}"
    user: shop_admin
    database: shop
    backup_dir: "{{ db_backup_dir }}"
    backup: legacy/shop_20260101.sql
    mode: in_place

- name: Restore the newest verified backup of the shop's database
  runbook.ops.postgres_restore:
    dsn: "{{ lookup('ansible.builtin.env', 'DATABASE_URL') }}"
    backup_dir: "{{ db_backup_dir }}"
    backup: latest
    expected_rows:
      public.products: 1200
  register: restored
"""

RETURN = r"""
database:
  description: The database restored.
  returned: always
  type: str
server:
  description: Where the database is, as C(user@host:port/database), without the password.
  returned: always
  type: str
  sample: shop_admin@db1.internal:5432/shop
server_id:
  description: The server's system identifier and the database, the same however the server is addressed;
    for locks.
  returned: when connected
  type: str
  sample: 7715512901241807204/shop
source_database:
  description: The database the archive was dumped from; null for a plain file.
  returned: when a backup was found
  type: str
backup:
  description: The backup restored (in check mode, that would be).
  returned: when a backup was found
  type: str
  sample: /backup/shop_20261204T031500Z.dump
format:
  description: The backup's format, V(custom), V(directory), V(plain) or V(plain-gzip).
  returned: when a backup was found
  type: str
verified_by:
  description: How the backup was verified, V(manifest), V(full read) or V(closing line).
  returned: when a backup was found
  type: str
passed_over:
  description: For V(latest), why newer backups were not restored.
  returned: when a backup was found
  type: list
  elements: str
mode:
  description: How the database was (or would be) restored, V(swap) or V(in_place).
  returned: when a backup was found
  type: str
safety_backup:
  description: The safety backup of the data the restore replaced, with C(path), C(manifest), C(size_bytes), C(checksum)
    and C(duration); null when none was taken.
  returned: when a backup was found
  type: dict
replaced_database:
  description: The name the replaced database was kept under, with O(keep_replaced=true).
  returned: success, in swap mode
  type: str
restored:
  description: Whether the backup's data went live; an in-place restore can fail its check after it did.
  returned: when the restore began
  type: bool
sessions_terminated:
  description: Sessions of the live database that were ended.
  returned: success
  type: int
rows:
  description: Row counts of the tables of O(expected_rows), as found after the restore.
  returned: success
  type: dict
timings:
  description: Seconds each step took, C(verify), C(safety_backup), C(restore), C(analyze), C(check), C(swap)
    (the time connections were blocked) and C(total).
  returned: always
  type: dict
server_version:
  description: The server's version.
  returned: when connected
  type: str
"""

import os
import re
import signal
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._backup import dump, safety_backup_name
from ansible_collections.runbook.ops.plugins.module_utils._postgres import (
    PostgresError,
    check_client,
    client_environment,
    client_version,
    describe,
    psycopg2,
    readable,
)
from ansible_collections.runbook.ops.plugins.module_utils._postgres_options import (
    postgres_argument_spec,
    postgres_settings,
)
from ansible_collections.runbook.ops.plugins.module_utils._restore import (
    chosen_backup,
    holds_table,
    interrupted,
    open_server,
    psql_can_restrict,
)
from ansible_collections.runbook.ops.plugins.module_utils._restore_steps import (
    Timer,
    restore_by_swap,
    restore_in_place,
    sentence,
    unused_second,
)


def main():
    module = AnsibleModule(
        argument_spec=postgres_argument_spec(
            backup={"type": "str", "default": "latest"},
            backup_dir={"type": "path", "default": "/backup"},
            mode={"type": "str", "choices": ["auto", "swap", "in_place"], "default": "auto"},
            jobs={"type": "int", "default": 1},
            safety_backup={"type": "bool", "default": True},
            keep_replaced={"type": "bool", "default": False},
            no_owner={"type": "bool", "default": False},
            analyze={"type": "bool", "default": True},
            check_query={"type": "str", "default": "SELECT 1"},
            expected_rows={"type": "dict"},
            session_timeout={"type": "float", "default": 30},
            maintenance_database={"type": "str", "default": "postgres"},
            source_database={"type": "str"},
            pg_dump={"type": "path", "default": "pg_dump"},
            pg_restore={"type": "path", "default": "pg_restore"},
            psql={"type": "path", "default": "psql"},
        ),
        supports_check_mode=True,
    )
    params = module.params
    timer = Timer()
    problems = validate(params)
    if problems:
        module.fail_json(msg=" ".join(problems) + " Nothing was changed.", timings=timer.result())

    settings = postgres_settings(module)
    database = settings.get("dbname")
    if not database:
        module.fail_json(msg="Name the database to restore: the path of DATABASE_URL (or dsn, db_dsn in the roles), "
                         "database (db_name) or PGDATABASE. Nothing was changed.", timings=timer.result())
    environment = {**os.environ, **client_environment(settings)}
    result = {"database": database, "server": describe(settings)}
    # The safety backup, and the files it restores, hold every row: for the owner only.
    os.umask(0o077)

    try:
        server = open_server(settings, params["maintenance_database"])
        version = server.connection.server_version
        result.update(server_version=readable(version), server_id=server.identity(database))
        check_client(params["pg_restore"], version)
        if params["safety_backup"]:
            check_client(params["pg_dump"], version)

        since = time.monotonic()
        backup, passed_over = chosen_backup(params["backup"], params["backup_dir"], database, params["pg_restore"],
                                            environment, params["source_database"])
        missing = [table for table in params["expected_rows"] or {} if not holds_table(backup, table)]
        if missing:
            raise PostgresError(f"expected_rows names {', '.join(missing)}, which the backup does not hold.")
        if backup["format"].startswith("plain") and not psql_can_restrict(client_version(params["psql"])):
            raise PostgresError(f"{params['psql']} is too old to refuse the meta-commands a SQL file may hold (\\! "
                                "runs a shell); install psql 15.14, 16.10, 17.6 or newer.")
        timer.step("verify", since)
        result.update(backup=backup["path"], format=backup["format"], verified_by=backup["verified_by"],
                      source_database=backup["source_database"], passed_over=passed_over, safety_backup=None)

        live = server.database(database)
        result["mode"] = choose_mode(params["mode"], server.may_swap(database, live is not None), live, database)
    except (PostgresError, OSError) as exc:
        module.fail_json(msg=f"Cannot restore {database}: {sentence(str(exc))} Nothing was changed.",
                         timings=timer.result(), **result)

    if module.check_mode:
        module.exit_json(changed=True, timings=timer.result(), msg=f"Would restore {database} from {backup['path']} "
                         f"({result['mode']}){', with a safety backup of the data it replaces' if live and params['safety_backup'] else ''}.",
                         **result)

    # A cancelled job (SIGTERM) or Ctrl-C (SIGINT) leaves through the clean-up and reports what it did.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    now = unused_second(params["backup_dir"], database)
    try:
        if params["safety_backup"]:
            os.makedirs(params["backup_dir"], mode=0o700, exist_ok=True)
        # In swap mode the safety backup comes after the swap, of the replaced database.
        if live and params["safety_backup"] and result["mode"] == "in_place":
            since = time.monotonic()
            safety = dump(params["pg_dump"], params["pg_restore"], params["backup_dir"], database, "custom", 1,
                          environment, name=safety_backup_name(database, now))
            safety.pop("warnings")
            result["safety_backup"] = safety
            timer.step("safety_backup", since)
    except (PostgresError, OSError) as exc:
        module.fail_json(msg=f"Cannot restore {database}: the safety backup failed: {sentence(str(exc))} Nothing was "
                         f"changed. Fix the cause (free space in {params['backup_dir']} if it is full); if the live "
                         "database cannot be dumped any more, set safety_backup (db_restore_safety_backup in the "
                         "roles) to false.", timings=timer.result(), **result)

    outcome = {"sessions_terminated": 0, "rows": {}, "warnings": [], "live_changed": False}
    try:
        if result["mode"] == "swap":
            restore_by_swap(server, settings, environment, backup, database, live, now, params, timer, outcome)
        else:
            restore_in_place(server, settings, environment, backup, database, params, timer, outcome)
    except (PostgresError, psycopg2.Error, OSError) as exc:
        for line in outcome["warnings"]:
            module.warn(line)
        reason = sentence(" ".join(str(exc).split()))
        if re.search(r'role ".*" does not exist', reason) and not params["no_owner"]:
            reason += (" If this server lacks the roles of the one that was dumped, set no_owner "
                       "(db_restore_no_owner in the roles) to true.")
        state = "The backup's data is already live." if outcome["live_changed"] else \
            "The live database was left as it was."
        result["safety_backup"] = outcome.get("safety_backup", result["safety_backup"])
        safety = f" Safety backup: {result['safety_backup']['path']}." if result["safety_backup"] else ""
        module.fail_json(msg=f"Restore of {database} from {backup['path']} failed: {reason} {state}{safety}",
                         restored=outcome["live_changed"], timings=timer.result(), **result)

    for line in outcome.pop("warnings"):
        module.warn(line)
    del outcome["live_changed"]
    result["safety_backup"] = outcome.pop("safety_backup", result["safety_backup"])
    module.exit_json(changed=True, restored=True, timings=timer.result(), **result, **outcome)


def validate(params):
    problems = []
    if params["jobs"] < 1:
        problems.append("jobs must be at least 1.")
    if params["session_timeout"] <= 0:
        problems.append("session_timeout must be more than 0 seconds.")
    if not params["backup"].strip():
        problems.append("backup must be latest or the name of a backup.")
    if not params["check_query"].strip():
        problems.append("check_query must not be empty; SELECT 1 checks only that the database answers.")
    for table, count in (params["expected_rows"] or {}).items():
        if isinstance(count, bool) or not str(count).strip().isdigit():
            problems.append(f"expected_rows of {table} must be a whole number of 0 or more, not {count!r}.")
        else:
            params["expected_rows"][table] = int(count)
    return problems


def choose_mode(asked, may_swap, live, database):
    if asked == "auto":
        asked = "swap" if may_swap else "in_place"
    if asked == "swap" and not may_swap:
        raise PostgresError(f"mode=swap needs a superuser, or a role with CREATEDB that owns {database}; this role "
                            "is neither. Use mode=in_place.")
    if asked == "in_place" and live is None:
        raise PostgresError(f"The database {database} does not exist, so it cannot be restored in place; a role "
                            "with CREATEDB can restore it with mode=swap.")
    return asked


if __name__ == "__main__":
    main()
