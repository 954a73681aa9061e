# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Row counts and checksums of a database's tables, to compare a restored copy with its source.

Private to this collection: the interface may change in any release.

A table's checksum is the sum, modulo 2**64, of a 64-bit hash of each row's text. A sum does not depend
on the order the rows come in, and PostgreSQL adds it up row by row, so a large table costs one scan and
no memory. The hash is PostgreSQL's own hashtextextended, so checksums compare between databases of one
server, or of servers of one major version on one kind of processor.

A row's text is made of its columns in the order of their names, since a restore may give a table its
columns in another order (an inherited table's own columns come after its parent's), and with the
settings that shape how values are written pinned to fixed values.
"""

from __future__ import annotations

from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError, psycopg2

try:
    from psycopg2 import sql
    from psycopg2.extensions import TRANSACTION_STATUS_INERROR
except ImportError:  # the module reports it with missing_required_lib
    sql = TRANSACTION_STATUS_INERROR = None

# Every setting that changes how a value is written as text, and the value it is read with.
PINNED = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
    "lc_monetary": "C",
    # A regclass or regtype value is written without its schema when that schema is on the search path.
    "search_path": "pg_catalog",
}

# Ordinary tables, leaf partitions among them; a partitioned table holds no rows of its own. Left out:
# the system's schemas, other sessions' temporary tables, and the tables of extensions, which
# CREATE EXTENSION fills on the restored side.
TABLES = """
SELECT n.nspname, c.relname,
       coalesce(array_agg(a.attname::text ORDER BY a.attname) FILTER (WHERE a.attnum IS NOT NULL), '{}')
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind = 'r' AND c.relpersistence <> 't'
   AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                                       AND d.objid = c.oid AND d.deptype = 'e')
 GROUP BY n.nspname, c.relname
 ORDER BY 1, 2
"""


def summaries(cursor, tables=None):
    """``{"schema.table": {"rows": n, "checksum": "<16 hex digits>"}}`` for every user table, or for the
    ``tables`` named ``schema.table``.

    It reads what the cursor's transaction sees: in a REPEATABLE READ transaction, every table as of one
    moment. The PINNED settings hold while it reads, and are put back afterwards.
    """
    cursor.execute("SELECT pg_catalog.current_setting(name) FROM pg_catalog.unnest(%s::text[]) AS name",
                   [list(PINNED)])
    before = dict(zip(PINNED, (row[0] for row in cursor.fetchall())))
    set_all(cursor, PINNED)
    try:
        cursor.execute(TABLES)
        found = {f"{schema}.{table}": (schema, table, columns) for schema, table, columns in cursor.fetchall()}
        if tables is not None:
            missing = sorted(set(tables) - set(found))
            if missing:
                raise PostgresError(f"No table named {', '.join(missing)} (as schema.table) to summarise.")
            found = {name: found[name] for name in sorted(set(tables))}
        return {name: summary(cursor, *where) for name, where in found.items()}
    finally:
        # After an error the transaction is aborted, and ending it puts the settings back by itself.
        if cursor.connection.info.transaction_status != TRANSACTION_STATUS_INERROR:
            set_all(cursor, before)


def set_all(cursor, settings):
    cursor.execute("SELECT pg_catalog.set_config(name, value, false)"
                   " FROM unnest(%s::text[], %s::text[]) AS s(name, value)",
                   [list(settings), list(settings.values())])


def summary(cursor, schema, table, columns):
    row = sql.SQL("ROW({})").format(sql.SQL(", ").join(sql.Identifier("t", column) for column in columns))
    # ONLY: an inheritance parent's rows without its children's, which are summarised on their own.
    query = sql.SQL("SELECT count(*), coalesce(sum(hashtextextended({}::text, 0)), 0) FROM ONLY {} AS t").format(
        row, sql.Identifier(schema, table))
    try:
        cursor.execute(query)
    except psycopg2.Error as exc:
        raise PostgresError(f"Summarising {schema}.{table} failed: {' '.join(str(exc).split())}") from None
    rows, total = cursor.fetchone()
    return {"rows": rows, "checksum": f"{int(total) % 2 ** 64:016x}"}
