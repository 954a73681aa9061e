#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_restore_drill
short_description: Prove a PostgreSQL backup restores, in a scratch database compared with the backup and dropped
description:
  - A disaster-recovery drill for O(database). Its backup, the newest verified one by default, is verified
    exactly as M(runbook.ops.postgres_restore) verifies it, restored with C(pg_restore) into a scratch database
    on the same server, compared table by table with the summary taken with the backup, and the scratch database
    is dropped again.
  - The summary is C(<backup>.tables.json), which M(runbook.ops.postgres_backup) writes with
    O(runbook.ops.postgres_backup#module:table_summary=true), read in the very snapshot C(pg_dump) dumped. Each
    table's row count and checksum (order-independent) after the restore must equal it, and no table may be
    missing on either side; so the comparison is with the source as of the backup, whatever the application
    wrote since. A backup without a summary is restored and its row counts reported, with a warning, but
    nothing is compared.
  - Reports the recovery time, RV(rto_seconds) (creating the scratch database and restoring into it), and the
    recovery point, RV(rpo_seconds) (the age of the backup when the drill began).
  - The scratch database is created with the source database's encoding, collation and locale, restored without
    owners and grants (C(pg_restore --no-owner --no-acl)), and marked with a comment that names the drill's
    session. It is dropped at the end in every case, after a failure, a mismatch or a cancelled job (SIGTERM,
    SIGINT) too, its sessions ended first. A marked scratch database whose drill session is gone, left by a drill
    that was killed outright, is dropped by the next drill; any other database is never dropped.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
  - runbook.ops.postgres
attributes:
  check_mode:
    support: full
    details: Verifies the backup and reads its summary, and reports which backup it would restore, into which
      scratch database, and the leftovers it would drop; creates and drops nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: The drill leaves the server as it found it, so it always reports no change (C(changed=false)). The
      scratch database lives only during the run, and the source database is only read; the leftovers it drops
      were left by earlier drills that could not clean up after themselves.
options:
  backup:
    description:
      - V(latest) (in any case) for the newest backup of O(database) in O(backup_dir) that verifies, as
        M(runbook.ops.postgres_restore) picks it; newer ones that do not are passed over and reported.
      - Else the archive to restore, absolute or relative to O(backup_dir), in the custom or directory format.
    type: str
    default: latest
  backup_dir:
    description: Folder of the backups.
    type: path
    default: /backup
  scratch_database:
    description:
      - The database to restore into; C(<database>_drill_<UTC time>) by default.
      - It must not exist, unless it is the leftover of an earlier drill.
    type: str
  jobs:
    description: Parallel C(pg_restore) jobs.
    type: int
    default: 1
  pg_restore:
    description: The C(pg_restore) program.
    type: path
    default: pg_restore
  maintenance_database:
    description: The database to connect to while creating and dropping the scratch database.
    type: str
    default: postgres
  fail_on_mismatch:
    description:
      - Fail the task when the restored copy differs from the backup's summary. The failure carries every
        field of a successful drill, so a role can still report the numbers.
      - With V(false), a difference only sets RV(passed) to false.
    type: bool
    default: true
notes:
  - Runs on the host of the task, usually one of the C(db) group, or the controller with a O(dsn) for a
    managed database. The role needs CREATEDB, and the server the room for a second copy of the database.
  - Checksums are computed by the server (with C(hashtextextended)), so they compare between databases of one
    server, or of servers of the same major version on the same kind of processor.
  - If the module is killed outright (SIGKILL) between creating the scratch database and marking it, which
    are two statements, the scratch database stays unmarked and must be dropped by hand.
seealso:
  - module: runbook.ops.postgres_backup
  - module: runbook.ops.postgres_restore
"""

EXAMPLES = r"""
- name: Back up with a summary of the tables, which the drill compares with
  runbook.ops.postgres_backup:
    dsn: "{{ lookup('ansible.builtin.env', 'DATABASE_URL') }}"
    backup_dir: "{{ db_backup_dir }}"
    table_summary: true

- name: Restore the newest verified backup into a scratch database, compare it and drop it
  runbook.ops.postgres_restore_drill:
    dsn: "{{ lookup('ansible.builtin.env', 'DATABASE_URL') }}"
    backup_dir: "{{ db_backup_dir }}"
  register: drill

- name: Report the recovery time and point
  ansible.builtin.debug:
    msg: "Restored in {{ drill.rto_seconds }} s from a backup {{ (drill.rpo_seconds / 3600) | round(1) }} h old."
"""

RETURN = r"""
database:
  description: The database whose backup was drilled.
  returned: always
  type: str
server:
  description: Where the database is, as C(user@host:port/database), without the password.
  returned: always
  type: str
  sample: shop_admin@db1.internal:5432/shop
backup:
  description: The backup restored (in check mode, that would be).
  returned: when a backup was found
  type: str
  sample: /backup/shop_20261204T031500Z.dump
verified_by:
  description: How the backup was verified, V(manifest) or V(full read).
  returned: when a backup was found
  type: str
passed_over:
  description: For V(latest), why newer backups were not restored.
  returned: when a backup was found
  type: list
  elements: str
backup_time:
  description: When the backup was taken, in ISO 8601, from the UTC time in its name (else when its file was
    last written).
  returned: when a backup was found
  type: str
  sample: "2026-12-04T03:15:00+00:00"
rpo_seconds:
  description: The age of the backup when the drill began, in seconds; the data a disaster would have lost then.
  returned: when a backup was found
  type: float
rto_seconds:
  description: Seconds it took to create the scratch database and restore the backup into it.
  returned: when the restore succeeded
  type: float
restore_seconds:
  description: Seconds C(pg_restore) took.
  returned: when the restore succeeded
  type: float
compared:
  description: Whether the restored tables were compared with a summary; false when the backup has none.
  returned: when a backup was found
  type: bool
tables:
  description:
    - One entry per table, of the summary or of the restored database, by name; C(rows_expected) and
      C(checksum_match) are null when not compared, and a table missing on one side has null rows there.
  returned: when the restore succeeded
  type: list
  elements: dict
  sample:
    - {table: public.orders, rows_expected: 1000, rows_restored: 1000, checksum_match: true}
mismatches:
  description: One sentence for each difference found; empty when the drill passed.
  returned: when the restore succeeded
  type: list
  elements: str
  sample:
    - public.orders has 999 rows restored, not the 1000 of the backup's table summary.
passed:
  description: Whether the backup restored and matched its summary (restored, when it has none).
  returned: when the restore began
  type: bool
scratch_database:
  description: The scratch database, dropped again (in check mode, that would be created).
  returned: always
  type: str
  sample: shop_drill_20261204T050000Z
leftovers_dropped:
  description: Scratch databases of earlier drills that were killed, dropped (in check mode, that would be).
  returned: when a backup was found
  type: list
  elements: str
server_version:
  description: The server's version.
  returned: when connected
  type: str
"""

import datetime
import os
import signal
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._backup import SUMMARY
from ansible_collections.runbook.ops.plugins.module_utils._drill import (
    NAME_BYTES,
    backup_time,
    compare,
    drop_scratch,
    leftovers,
    mark,
    read_summary,
    scratch_name,
    summarise_database,
)
from ansible_collections.runbook.ops.plugins.module_utils._postgres import (
    PostgresError,
    check_client,
    client_environment,
    describe,
    psycopg2,
    readable,
)
from ansible_collections.runbook.ops.plugins.module_utils._postgres_options import (
    postgres_argument_spec,
    postgres_settings,
)
from ansible_collections.runbook.ops.plugins.module_utils._restore import (
    Interrupted,
    chosen_backup,
    interrupted,
    open_server,
    restore_command,
    run_client,
)
from ansible_collections.runbook.ops.plugins.module_utils._restore_steps import sentence

# Seconds to wait for the sessions of a scratch database to end before dropping it.
SESSION_TIMEOUT = 30
# The mismatches a failure message names; the result lists them all.
MESSAGE_MISMATCHES = 5


def main():
    module = AnsibleModule(
        argument_spec=postgres_argument_spec(
            backup={"type": "str", "default": "latest"},
            backup_dir={"type": "path", "default": "/backup"},
            scratch_database={"type": "str"},
            jobs={"type": "int", "default": 1},
            pg_restore={"type": "path", "default": "pg_restore"},
            maintenance_database={"type": "str", "default": "postgres"},
            fail_on_mismatch={"type": "bool", "default": True},
        ),
        supports_check_mode=True,
    )
    params = module.params
    settings = postgres_settings(module)
    database = settings.get("dbname")
    problems = validate(params, database)
    if problems:
        module.fail_json(msg=" ".join(problems) + " Nothing was changed.")

    now = datetime.datetime.now(datetime.timezone.utc)
    scratch = params["scratch_database"] or scratch_name(database, now)
    environment = {**os.environ, **client_environment(settings)}
    result = {"database": database, "server": describe(settings), "scratch_database": scratch}

    try:
        server = open_server(settings, params["maintenance_database"])
        version = server.connection.server_version
        result["server_version"] = readable(version)
        check_client(params["pg_restore"], version)

        # The same choice and verification as postgres_restore's, so the drill proves what a restore would do.
        backup, passed_over = chosen_backup(params["backup"], params["backup_dir"], database, params["pg_restore"],
                                            environment)
        if backup["format"] not in ("custom", "directory"):
            raise PostgresError(f"{backup['path']} is a plain SQL file; the drill restores pg_dump archives (custom "
                                "or directory format) with pg_restore.")
        expected = read_summary(backup["path"])
        taken = backup_time(backup["path"])
        result.update(backup=backup["path"], verified_by=backup["verified_by"], passed_over=passed_over,
                      backup_time=taken.isoformat(), rpo_seconds=round((now - taken).total_seconds(), 3),
                      compared=expected is not None)

        doomed = leftovers(server)
        if server.database(scratch) is not None and scratch not in doomed:
            raise PostgresError(f"A database named {scratch} exists and is not the leftover of an earlier drill; "
                                "name another scratch_database.")
        live = server.database(database)
    except (PostgresError, psycopg2.Error, OSError) as exc:
        module.fail_json(msg=f"Cannot drill the restore of {database}: {sentence(' '.join(str(exc).split()))} "
                         "Nothing was changed.", changed=False, **result)

    result["leftovers_dropped"] = doomed
    if module.check_mode:
        compare_how = "compare it with its table summary" if expected is not None else \
            "count its rows (it has no table summary to compare with)"
        module.exit_json(changed=False, msg=f"Would restore {backup['path']} into the scratch database {scratch}, "
                         f"{compare_how}, and drop it.", **result)

    # A cancelled job (SIGTERM) or Ctrl-C (SIGINT) leaves through the clean-up, which drops the scratch database.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    warnings, failure, not_dropped, created = [], None, None, False
    try:
        result["leftovers_dropped"] = []
        for name in doomed:
            try:
                drop_scratch(server, name, SESSION_TIMEOUT)
                result["leftovers_dropped"].append(name)
            except Interrupted:
                raise
            except (PostgresError, psycopg2.Error) as exc:
                warnings.append(f"The scratch database {name}, left by an earlier drill, could not be dropped: "
                                f"{sentence(' '.join(str(exc).split()))}")

        started = time.monotonic()
        # Created, marked and known to be created at once: a signal waits until then, so that the clean-up
        # below drops what was created, and nothing that was not.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            server.create_like(scratch, live)
            created = True
            mark(server, scratch, database)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        since = time.monotonic()
        command, dummy = restore_command(backup, params["pg_restore"], None, scratch, params["jobs"], in_place=False,
                                         no_owner=True)
        warnings += run_client(command, environment)
        result["restore_seconds"] = round(time.monotonic() - since, 3)
        result["rto_seconds"] = round(time.monotonic() - started, 3)
        restored = summarise_database(settings, scratch)
    except (PostgresError, psycopg2.Error, OSError) as exc:
        failure = sentence(" ".join(str(exc).split()))
    finally:
        # The clean-up runs to its end: a second signal does not cut it short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if created:
            try:
                drop_scratch(server, scratch, SESSION_TIMEOUT)
            except (PostgresError, psycopg2.Error) as exc:
                not_dropped = (f"The scratch database {scratch}, a copy of the data, could not be dropped: "
                               f"{sentence(' '.join(str(exc).split()))} Drop it by hand; the next drill drops it too.")

    for line in warnings:
        module.warn(line)
    if failure:
        dropped = not_dropped or (f"The scratch database {scratch} was dropped." if created else "")
        module.fail_json(msg=f"Restore drill of {database} from {backup['path']} failed: {failure} {dropped}".strip(),
                         changed=False, passed=False, **result)

    tables, mismatches = compare(expected, restored)
    result.update(tables=tables, mismatches=mismatches, passed=not mismatches)
    if not_dropped:
        module.fail_json(msg=f"Restore drill of {database}: {not_dropped}", changed=False, **result)
    if expected is None:
        module.warn(f"The backup {backup['path']} has no table summary ({os.path.basename(backup['path'])}{SUMMARY}): "
                    "only the restored row counts are reported. Back up with table_summary=true "
                    "(db_backup_table_summary in the roles) to compare.")
    if mismatches and params["fail_on_mismatch"]:
        named = " ".join(mismatches[:MESSAGE_MISMATCHES])
        more = f" And {len(mismatches) - MESSAGE_MISMATCHES} more." if len(mismatches) > MESSAGE_MISMATCHES else ""
        module.fail_json(msg=f"Restore drill of {database}: the copy restored from {backup['path']} differs from the "
                         f"backup's table summary in {len(mismatches)} place(s): {named}{more} The scratch database "
                         f"{scratch} was dropped.", changed=False, **result)

    checked = f"{len(tables)} tables match the backup's table summary" if not mismatches and expected is not None \
        else f"{len(mismatches)} difference(s) from the backup's table summary" if mismatches \
        else f"{len(tables)} tables restored, not compared"
    module.exit_json(changed=False, msg=f"Restored {backup['path']} into {scratch} in {result['rto_seconds']} s; "
                     f"{checked}; dropped it.", **result)


def validate(params, database):
    problems = []
    if not database:
        problems.append("Name the database whose backup to drill: the path of DATABASE_URL (or dsn), database or "
                        "PGDATABASE.")
    if params["jobs"] < 1:
        problems.append("jobs must be at least 1.")
    if not params["backup"].strip():
        problems.append("backup must be latest or the name of a backup.")
    scratch = params["scratch_database"]
    if scratch is not None:
        if not scratch.strip():
            problems.append("scratch_database must not be empty; leave it out for <database>_drill_<UTC time>.")
        elif len(scratch.encode()) > NAME_BYTES:
            problems.append(f"scratch_database must be at most {NAME_BYTES} bytes long, which PostgreSQL would cut "
                            "it short to.")
        elif scratch in (database, params["maintenance_database"]):
            problems.append(f"scratch_database must not be {scratch}, which the drill reads or connects to.")
    return problems


if __name__ == "__main__":
    main()
