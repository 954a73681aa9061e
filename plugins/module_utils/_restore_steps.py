# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The two ways of restoring a live database, step by step, with their timings and their clean-up.

Private to this collection: the interface may change in any release.

``outcome`` collects what a step learned for the module's result: warnings, the sessions ended, the
rows counted, the safety backup, whether the backup's data went live (``live_changed``).
"""

from __future__ import annotations

import datetime
import os
import time

from ansible_collections.runbook.ops.plugins.module_utils._backup import STAMP, dump, safety_backup_name
from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError, connect, psycopg2
from ansible_collections.runbook.ops.plugins.module_utils._restore import check_restored, restore_command, run_client


class Timer:
    """Seconds per step, for the result."""

    def __init__(self):
        self.started = time.monotonic()
        self.steps = {}

    def step(self, name, since):
        self.steps[name] = round(time.monotonic() - since, 3)

    def result(self):
        return {**self.steps, "total": round(time.monotonic() - self.started, 3)}


def analyze_and_check(settings, database, params, timer):
    connection = connect({**settings, "dbname": database}, autocommit=True)
    try:
        if params["analyze"]:
            since = time.monotonic()
            connection.cursor().execute("ANALYZE")
            timer.step("analyze", since)
        since = time.monotonic()
        # Read-only and rolled back: a check cannot change the data it checks.
        connection.set_session(readonly=True, autocommit=False)
        try:
            rows = check_restored(connection, params["check_query"], params["expected_rows"])
        finally:
            connection.rollback()
        timer.step("check", since)
    finally:
        connection.close()
    return rows


def reopen(server, database):
    """Allow connections to the database again, or say exactly what the operator must run."""
    try:
        server.allow_connections(database, True)
    except psycopg2.Error as exc:
        raise PostgresError(f"Connections to {database} are still blocked, because allowing them again failed: "
                            f"{' '.join(str(exc).split())} Run ALTER DATABASE {database} ALLOW_CONNECTIONS true as "
                            "its owner.") from None


def drop_quietly(server, name, outcome):
    try:
        server.drop(name)
    except psycopg2.Error as exc:
        outcome["warnings"].append(f"The database {name} could not be dropped ({' '.join(str(exc).split())}); "
                                   "drop it by hand.")


def restore_by_swap(server, settings, environment, backup, database, live, now, params, timer, outcome):
    """Restore into a scratch database, check it, and swap it in; the live one stays as it was on failure.

    The replaced database holds every write up to the swap: the safety backup is taken of it afterwards,
    while the restored one already serves, and it is dropped only once that backup is verified.
    """
    stamp = now.strftime(STAMP)
    scratch = f"{database[:38]}_restore_{stamp}"
    replaced = f"{database[:37]}_replaced_{stamp}" if live else None
    timeout = params["session_timeout"]
    server.create_like(scratch, live)
    try:
        since = time.monotonic()
        command, stdin_from = restore_command(backup, params["pg_restore"], params["psql"], scratch, params["jobs"],
                                              in_place=False, no_owner=params["no_owner"])
        outcome["warnings"] += run_client(command, environment, stdin_from)
        timer.step("restore", since)
        outcome["rows"] = analyze_and_check(settings, scratch, params, timer)
        if live:
            outcome["warnings"] += server.copy_properties(live, scratch)

        # From here until the swap, the live database takes no new connections.
        since = time.monotonic()
        server.allow_connections(scratch, False)
        server.end_sessions(scratch, timeout)
        if live:
            server.allow_connections(database, False)
        try:
            if live:
                outcome["sessions_terminated"] = server.end_sessions(database, timeout)
            server.swap(database, scratch, replaced, timeout)
            outcome["live_changed"] = True
        finally:
            reopen(server, database)
        timer.step("swap", since)
    finally:
        if not outcome["live_changed"]:
            drop_quietly(server, scratch, outcome)

    if not replaced:
        return
    reopen(server, replaced)
    if params["safety_backup"]:
        since = time.monotonic()
        try:
            safety = dump(params["pg_dump"], params["pg_restore"], params["backup_dir"], replaced, "custom", 1,
                          {**environment, "PGDATABASE": replaced}, name=safety_backup_name(database, now))
        except (PostgresError, OSError) as exc:
            outcome["warnings"].append(f"The safety backup of the replaced database failed ({sentence(str(exc))}) "
                                       f"It is kept as the database {replaced} instead.")
            outcome["replaced_database"] = replaced
            return
        safety.pop("warnings")
        outcome["safety_backup"] = safety
        timer.step("safety_backup", since)
    if params["keep_replaced"]:
        outcome["replaced_database"] = replaced
    else:
        drop_quietly(server, replaced, outcome)


def restore_in_place(server, settings, environment, backup, database, params, timer, outcome):
    """Restore over the live database in one transaction."""
    outcome["sessions_terminated"] = server.end_sessions(database, params["session_timeout"])
    since = time.monotonic()
    command, stdin_from = restore_command(backup, params["pg_restore"], params["psql"], database, params["jobs"],
                                          in_place=True, no_owner=params["no_owner"])
    try:
        outcome["warnings"] += run_client(command, environment, stdin_from)
    except PostgresError as exc:
        hint = " In place, a plain SQL file must drop its own objects first (pg_dump --clean)." \
            if backup["format"].startswith("plain") and "already exists" in str(exc) else ""
        raise PostgresError(f"{exc}{hint}") from None
    outcome["live_changed"] = True
    timer.step("restore", since)
    outcome["rows"] = analyze_and_check(settings, database, params, timer)


def unused_second(directory, database):
    """Now, or the next second if a safety backup of this second exists: names are by the second."""
    while True:
        now = datetime.datetime.now(datetime.timezone.utc)
        if not os.path.exists(os.path.join(directory, safety_backup_name(database, now))):
            return now
        time.sleep(1 - now.microsecond / 1e6)


def sentence(text):
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."
