# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Restore drills: a verified backup restored into a scratch database, compared with the summary of its
tables taken with the backup, and dropped again.

Private to this collection: the interface may change in any release.

A scratch database is marked with a comment naming the drill's session on the server (its process id
and start time). A marked database whose session is gone is the leftover of a drill that was killed,
and the next drill drops it; nothing else is ever dropped, and neither is the database of a drill that
still runs.
"""

from __future__ import annotations

import datetime
import json
import os
import re

from ansible_collections.runbook.ops.plugins.module_utils._backup import NAME, SAFETY_NAME, STAMP, SUMMARY, stamp_of
from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError, connect
from ansible_collections.runbook.ops.plugins.module_utils._tables import summaries

try:
    from psycopg2 import sql
except ImportError:  # the module reports it with missing_required_lib
    sql = None

MARK = "runbook.ops.postgres_restore_drill scratch database"
MARKED = re.compile(re.escape(MARK) + r" of .*, made by session (?P<pid>\d+) started (?P<started>\S+); "
                    r"dropped when the drill ends\.", re.DOTALL)
# PostgreSQL cuts longer names short, and the scratch database would be dropped under a name it does not have.
NAME_BYTES = 63


def scratch_name(database, now):
    """``<database>_drill_<UTC time>``, the database's name cut short to fit."""
    suffix = f"_drill_{now.strftime(STAMP)}"
    head = database.encode()[:NAME_BYTES - len(suffix)].decode(errors="ignore")
    return head + suffix


def mark_comment(source, pid, started):
    return f"{MARK} of {source}, made by session {pid} started {started.isoformat()}; dropped when the drill ends."


def mark(server, scratch, source):
    """Mark the scratch database as this drill's, with the session that made it."""
    pid, started = server.one("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")
    server.cursor.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
        sql.Identifier(scratch), sql.Literal(mark_comment(source, pid, started))))


def leftovers(server):
    """Marked scratch databases whose drill session is gone, by name."""
    server.cursor.execute("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database"
                          " WHERE shobj_description(oid, 'pg_database') LIKE %s ORDER BY 1", [MARK + " %"])
    found = []
    for name, comment in server.cursor.fetchall():
        marked = MARKED.fullmatch(comment)
        if not marked:
            continue
        try:
            started = datetime.datetime.fromisoformat(marked.group("started"))
        except ValueError:
            continue
        # A session of another role may hide its start time: then the same process id counts as alive.
        alive = server.one("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = %s"
                           " AND (backend_start IS NULL OR backend_start = %s))",
                           [int(marked.group("pid")), started])[0]
        if not alive:
            found.append(name)
    return found


def drop_scratch(server, name, session_timeout):
    """Close the scratch database to new sessions, end its sessions, and drop it."""
    server.allow_connections(name, False)
    server.end_sessions(name, session_timeout)
    server.drop(name)


def backup_time(path):
    """When the backup was taken: the UTC time in its name, else the time its file was last written."""
    base = os.path.basename(path.rstrip("/"))
    named = NAME.match(base) or SAFETY_NAME.match(base)
    stamp = stamp_of(named) if named else None
    if stamp is None:
        stamp = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return stamp


def read_summary(backup_path):
    """The summary of the backup's tables (``_tables.summaries``), or None when it has none."""
    path = backup_path.rstrip("/") + SUMMARY
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)
    except (OSError, ValueError) as exc:
        raise PostgresError(f"The table summary {path} cannot be read ({exc}); remove it to drill without "
                            "comparing.") from None
    wrong = [] if isinstance(summary, dict) else ["(the whole file)"]
    for table, counted in summary.items() if not wrong else ():
        rows = counted.get("rows") if isinstance(counted, dict) else None
        if not (isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0
                and isinstance(counted.get("checksum"), str)):
            wrong.append(table)
    if wrong:
        raise PostgresError(f"The table summary {path} is not a map of tables to rows and checksum (see "
                            f"{', '.join(wrong[:3])}); remove it to drill without comparing.")
    return summary


def summarise_database(settings, database):
    """The summary of every table of a database, read as of one moment."""
    connection = connect({**settings, "dbname": database})
    try:
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
        return summaries(connection.cursor())
    finally:
        connection.close()


def compare(expected, restored):
    """One line per table for the result, and a sentence for each difference.

    Without a summary (``expected`` None) only the restored row counts are reported.
    """
    tables, mismatches = [], []
    for table in sorted(set(restored) | set(expected or {})):
        want, got = (expected or {}).get(table), restored.get(table)
        tables.append({
            "table": table,
            "rows_expected": want["rows"] if want else None,
            "rows_restored": got["rows"] if got else None,
            "checksum_match": want["checksum"] == got["checksum"] if want and got else None,
        })
        if expected is None:
            continue
        if want is None:
            mismatches.append(f"{table} was restored ({got['rows']} rows) but is not in the backup's table summary.")
        elif got is None:
            mismatches.append(f"{table} is in the backup's table summary ({want['rows']} rows) but was not restored.")
        elif want["rows"] != got["rows"]:
            mismatches.append(f"{table} has {got['rows']} rows restored, not the {want['rows']} of the backup's "
                              "table summary.")
        elif want["checksum"] != got["checksum"]:
            mismatches.append(f"{table} has the {got['rows']} rows of the backup's table summary, but their contents "
                              f"differ (checksum {got['checksum']} restored, {want['checksum']} expected).")
    return tables, mismatches
