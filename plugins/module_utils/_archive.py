# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Moving a table's old rows into its archive table, in batches that each move whole or not at all.

Private to this collection: the interface may change in any release.

The steps, in the order the module takes them:

1. ``find_source``, ``find_archive``, ``cutoff_column``: the tables and the column, by PostgreSQL's own
   reading of their names; ``archive_problems`` says why an archive table cannot hold the rows.
2. ``compute_cutoff``: the cutoff, computed once on the server, in the column's own type.
3. ``take_lock``: one run per table at a time (a session advisory lock).
4. ``create_archive``: the source's columns and types, and an index on the cutoff column.
5. ``Archiver.run``: the table's pages, walked once from the first to the last as they were at the start,
   a range of pages per batch. One batch is one transaction holding one statement that deletes the old
   rows of its range and inserts them into the archive table. Whatever kills the client, a batch has
   moved all its rows or none, so a row is never lost nor in both tables; a new run simply goes on.

Why a walk over the pages (a TID Range Scan, PostgreSQL 14+) and not ``DELETE ... LIMIT``-style batches:
each batch of the latter searches the table again, through the dead rows of every batch before it when
no index covers the column, so the run gets slower with every batch (quadratic). A range of pages is
read once, whatever the indexes, and each batch costs the same.
"""

from __future__ import annotations

import re
import time

from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError, psycopg2

try:
    from psycopg2 import sql
except ImportError:  # the module reports it with missing_required_lib
    sql = None

# TID Range Scans came with PostgreSQL 14.
MIN_SERVER_VERSION = 140000
# The cutoff column's type: pg_type.typname -> the name used in a cast, and the one shown to operators.
CUTOFF_TYPES = {"timestamp": "timestamp", "timestamptz": "timestamptz", "date": "date"}
# Longer names are cut short by PostgreSQL, and the table created would not be the one named.
MAX_NAME_BYTES = 63
# The first of the two keys of the advisory lock: "rboa" (runbook.ops archive); the second is the table's oid.
LOCK_KEY = 0x72626F61
# How many pages to read to learn how many rows a page holds, at most.
SAMPLE_PAGES = 256
# At most this many pages (32 MiB of 8 KiB pages) in one batch, so that a sparse or mostly dead stretch
# of the table cannot turn one batch into a read of the whole table.
MAX_PAGES_PER_BATCH = 4096
# A page of 8 KiB holds at most 291 rows: the guess when a sample finds none.
MAX_ROWS_PER_PAGE = 291
# ISO 8601: a date, or a date and a time, with an optional Z or offset. The server checks the values.
ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?")

# PostgreSQL's long type names, shortened the way people write them.
SHORT_TYPE_NAMES = [
    (re.compile(r"^character varying"), "varchar"),
    (re.compile(r"^character\b"), "char"),
    (re.compile(r"^timestamp(\(\d+\))? without time zone"), r"timestamp\1"),
    (re.compile(r"^timestamp(\(\d+\))? with time zone"), r"timestamptz\1"),
    (re.compile(r"^time(\(\d+\))? without time zone"), r"time\1"),
    (re.compile(r"^time(\(\d+\))? with time zone"), r"timetz\1"),
]
# Types that hold every value of a narrower one unchanged: source type -> wider types.
WIDER_TYPES = {
    "int2": ("int4", "int8", "numeric"),
    "int4": ("int8", "numeric"),
    "int8": ("numeric",),
    "float4": ("float8",),
    "varchar": ("text",),
    "text": ("varchar",),  # varchar without a length only: see holds()
}
# Digits before the decimal point that an integer type needs in a numeric(p, s).
INTEGER_DIGITS = {"int2": 5, "int4": 10, "int8": 19}
# Types whose type modifier is a length or a precision: a larger one holds every value of a smaller one.
LENGTH_MODIFIED = {"varchar", "varbit", "timestamp", "timestamptz", "time", "timetz"}
# What -1 (no modifier) means for those that have a largest precision.
DEFAULT_PRECISION = {"timestamp": 6, "timestamptz": 6, "time": 6, "timetz": 6}


class Column:
    """A column as pg_attribute describes it; ``builtin`` is the type's name when it is one of pg_catalog's."""

    def __init__(self, name, attnum, type_oid, type_name, builtin, typmod, not_null, has_default, generated,
                 identity):
        self.name, self.attnum, self.type_oid, self.builtin, self.typmod = name, attnum, type_oid, builtin, typmod
        self.type_name = short_type_name(type_name)
        self.not_null, self.has_default, self.generated, self.identity = not_null, has_default, generated, identity


class Table:
    """A table by schema and name; ``oid`` is None while it does not exist."""

    def __init__(self, schema, name, shown, oid=None, columns=None):
        self.schema, self.name, self.shown, self.oid, self.columns = schema, name, shown, oid, columns or []

    @property
    def identifier(self):
        return sql.Identifier(self.schema, self.name)

    def column(self, name):
        return next((column for column in self.columns if column.name == name), None)


def short_type_name(type_name):
    for pattern, short in SHORT_TYPE_NAMES:
        type_name = pattern.sub(short, type_name)
    return type_name


def reason_of(exc):
    """PostgreSQL's message and detail, without the statement it quotes; libpq's message when there is none."""
    diagnostics = getattr(exc, "diag", None)
    primary = diagnostics.message_primary if diagnostics else None
    if not primary:
        return " ".join(str(exc).split())
    return " ".join(f"{primary} {diagnostics.message_detail or ''}".split())


def parse_before(text):
    """``before`` as given, once it has the shape of an ISO 8601 date or date and time (the server checks the
    values); a ValueError says what is wrong."""
    text = text.strip()
    if not ISO_8601.fullmatch(text):
        raise ValueError(f"before must be an ISO 8601 date or date and time, such as 2026-01-01 or "
                         f"2026-01-01T00:00:00+09:00, not {text!r}.")
    return text


def parse_name(cursor, text, option):
    """The parts of a possibly qualified name, read as PostgreSQL reads one: unquoted parts in lower case,
    double-quoted parts as written."""
    try:
        cursor.execute("SELECT parse_ident(%s)", (text,))
    except psycopg2.Error as exc:
        raise PostgresError(f"{option} {text!r} cannot be read as a name ({reason_of(exc)}): write name or "
                            'schema.name, with double quotes around a name that holds capitals, spaces or dots, '
                            'such as "Order Log".') from None
    return cursor.fetchone()[0]


def check_server(connection):
    if connection.server_version < MIN_SERVER_VERSION:
        version = connection.server_version
        raise PostgresError(f"The server runs PostgreSQL {version // 10000}.{version % 10000}; archiving in "
                            "batches needs PostgreSQL 14 or newer, which reads a table in ranges of pages "
                            "(TID Range Scan). Upgrade the server, or archive with one statement in a window "
                            "when the table may be locked.")


def set_session(cursor, lock_timeout, statement_timeout):
    """This session's timeouts. They are session settings, so the module needs a session of its own: a direct
    connection or a pooler in session mode (the advisory lock needs one too)."""
    cursor.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false), "
                   # A DBA who turned TID scans off for the server would make each batch read the whole table.
                   "set_config('enable_tidscan', 'on', false)",
                   (f"{max(1, round(lock_timeout * 1000))}ms", f"{max(1, round(statement_timeout * 1000))}ms"))


def read_columns(cursor, oid):
    cursor.execute("""
        SELECT a.attname, a.attnum, a.atttypid, format_type(a.atttypid, a.atttypmod),
               CASE WHEN t.typnamespace = 'pg_catalog'::regnamespace THEN t.typname END,
               a.atttypmod, a.attnotnull, a.atthasdef, a.attgenerated <> '', a.attidentity <> ''
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum""", (oid,))
    return [Column(*row) for row in cursor.fetchall()]


def find_source(cursor, table, where):
    """The table to archive, as a name on the search path or schema.name; a clear error when there is none."""
    try:
        cursor.execute("""
            SELECT n.nspname, c.relname, format('%%I.%%I', n.nspname, c.relname), c.oid, c.relkind
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = to_regclass(%s)""", (table,))
    except psycopg2.Error as exc:
        raise PostgresError(f"table {table!r} cannot be read as a table name ({reason_of(exc)}): write name or "
                            'schema.name, with double quotes around a name that holds capitals, spaces or dots, '
                            'such as "Order Log".') from None
    found = cursor.fetchone()
    if found is None:
        parts = parse_name(cursor, table, "table")
        raise PostgresError(f"unknown table {table} on {where}: no table by that name "
                            f"{'in that schema' if len(parts) > 1 else 'on the search path'}."
                            + did_you_mean(cursor, parts[-1]))
    schema, name, shown, oid, kind = found
    if kind == "p":
        raise PostgresError(f"{shown} is a partitioned table: archive its partitions one by one (each is a table "
                            "of its own), or detach the partitions that hold only old rows.")
    if kind != "r":
        raise PostgresError(f"{shown} is not a table (a view, an index, a sequence or a foreign table); name the "
                            "table that holds the rows.")
    return Table(schema, name, shown, oid, read_columns(cursor, oid))


def did_you_mean(cursor, name):
    """The tables whose name differs only in capitals: PostgreSQL reads unquoted names in lower case."""
    cursor.execute("""
        SELECT format('%%I.%%I', n.nspname, c.relname)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE lower(c.relname) = lower(%s) AND c.relkind IN ('r', 'p')
        ORDER BY 1 LIMIT 3""", (name,))
    similar = [row[0] for row in cursor.fetchall()]
    if not similar:
        return ""
    return (f" Did you mean {' or '.join(similar)}? A name with capitals or spaces must be written in double "
            "quotes, as above.")


def find_archive(cursor, archive_table, source):
    """The archive table, existing or not: ``archive_table``, in the source's schema unless it names one,
    or ``<table>_archive`` beside the source."""
    if archive_table is None:
        schema, name = source.schema, f"{source.name}_archive"
    else:
        parts = parse_name(cursor, archive_table, "archive_table")
        if len(parts) > 2:
            raise PostgresError(f"archive_table {archive_table!r} names more than a schema and a table.")
        schema, name = ([source.schema] + parts)[-2:]
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise PostgresError(f"The archive table's name {name!r} is longer than PostgreSQL's {MAX_NAME_BYTES} bytes, "
                            "which would cut it short; name a shorter one with archive_table.")
    cursor.execute("""
        SELECT format('%%I.%%I', %s, %s), c.oid, c.relkind
        FROM (SELECT 1) AS one
        LEFT JOIN pg_namespace n ON n.nspname = %s
        LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = %s""", (schema, name, schema, name))
    shown, oid, kind = cursor.fetchone()
    if oid is None:
        return Table(schema, name, shown)
    if oid == source.oid:
        raise PostgresError(f"archive_table names {source.shown} itself; the archive must be another table.")
    if kind not in ("r", "p"):
        raise PostgresError(f"The archive table {shown} is not a table (a view, an index, a sequence or a foreign "
                            "table); name another with archive_table.")
    return Table(schema, name, shown, oid, read_columns(cursor, oid))


def cutoff_column(cursor, source, column):
    """The column the age is read from; it must be a timestamp, timestamptz or date."""
    parts = parse_name(cursor, column, "column")
    found = source.column(parts[-1]) if len(parts) == 1 else None
    if found is None:
        candidates = ", ".join(c.name for c in source.columns if c.builtin in CUTOFF_TYPES) or "none"
        raise PostgresError(f"unknown column {column} in {source.shown}; its columns of a date or time type: "
                            f"{candidates}. A name with capitals or spaces must be written in double quotes.")
    if found.builtin not in CUTOFF_TYPES:
        raise PostgresError(f"column {found.name} of {source.shown} is {found.type_name}; the age can only be read "
                            "from a timestamp, timestamptz or date column.")
    return found


def compute_cutoff(cursor, column, older_than_days=None, before=None):
    """The cutoff, once, on the server, in the column's type: rows with an earlier value move.

    A timestamp (without time zone) column is compared in the session's TimeZone, as PostgreSQL compares
    one with a timestamptz. A date column moves only the days that ended before the cutoff. Returns the
    cutoff and whether it lies in the future.
    """
    cast = sql.SQL(CUTOFF_TYPES[column.builtin])
    moment = sql.SQL("%s::timestamptz") if before is not None else sql.SQL("now() - make_interval(days => %s)")
    try:
        cursor.execute(sql.SQL("SELECT ({moment})::{cast}, {moment} > now()").format(moment=moment, cast=cast),
                       (before, before) if before is not None else (older_than_days, older_than_days))
    except psycopg2.Error as exc:
        what = f"before {before!r}" if before is not None else f"older_than_days {older_than_days}"
        raise PostgresError(f"Cannot compute the cutoff from {what}: {reason_of(exc)}.") from None
    return cursor.fetchone()


# ----- can the archive table hold the rows? -----------------------------------------------------------

def numeric_digits(typmod):
    """(precision, scale) of a numeric's type modifier, None when it has none (any number)."""
    if typmod < 0:
        return None
    return (typmod - 4) >> 16, (typmod - 4) & 0xFFFF


def holds(source, archive):
    """Whether every value of the source column fits the archive column unchanged."""
    if source.type_oid == archive.type_oid:
        if archive.typmod in (-1, source.typmod):
            return True
        if source.builtin == "numeric":
            wide, narrow = numeric_digits(archive.typmod), numeric_digits(source.typmod)
            return narrow is not None and wide[1] >= narrow[1] and wide[0] - wide[1] >= narrow[0] - narrow[1]
        if source.builtin in LENGTH_MODIFIED:
            default = DEFAULT_PRECISION.get(source.builtin)
            length = source.typmod if source.typmod >= 0 else default
            return length is not None and archive.typmod >= length
        return False
    if archive.builtin not in WIDER_TYPES.get(source.builtin, ()):
        return False
    if archive.builtin == "varchar":
        return archive.typmod == -1
    if archive.builtin == "numeric" and source.builtin in INTEGER_DIGITS:
        digits = numeric_digits(archive.typmod)
        return digits is None or digits[0] - digits[1] >= INTEGER_DIGITS[source.builtin]
    return True


def lossy_reason(source, archive):
    if source.type_oid == archive.type_oid or {source.builtin, archive.builtin} <= {"varchar", "text"}:
        return "rows could be truncated or refused"
    if {source.builtin, archive.builtin} <= {"int2", "int4", "int8", "numeric", "float4", "float8"}:
        return "values could be rounded or refused"
    return "a different type, so values could change or be refused"


def archive_problems(source, archive):
    """Why the existing archive table cannot hold every row of the source, one sentence each; none when it can."""
    problems = []
    for column in source.columns:
        kept = archive.column(column.name)
        if kept is None:
            problems.append(f"the archive has no column {column.name} (source: {column.type_name})")
        elif kept.generated:
            problems.append(f"archive column {column.name} is a generated column, which cannot be written")
        elif not holds(column, kept):
            problems.append(f"archive column {column.name} is {kept.type_name}, source {column.type_name}: "
                            f"{lossy_reason(column, kept)}")
        if kept is not None and not kept.generated and kept.not_null and not column.not_null:
            problems.append(f"archive column {column.name} is NOT NULL, source column allows NULL: a row with "
                            "none there would stop the archiving")
    for column in archive.columns:
        if (source.column(column.name) is None and column.not_null and not column.has_default
                and not column.generated and not column.identity):
            problems.append(f"archive column {column.name} ({column.type_name}) is NOT NULL without a default, "
                            "and the source has no such column to fill it")
    return problems


def privilege_problems(cursor, source, archive):
    """What the role may not do that archiving needs, one sentence each."""
    cursor.execute("""
        SELECT current_user, has_table_privilege(%(source)s::oid, 'SELECT'),
               has_table_privilege(%(source)s::oid, 'DELETE'),
               CASE WHEN %(archive)s::oid IS NOT NULL THEN has_table_privilege(%(archive)s::oid, 'INSERT') END,
               (SELECT has_schema_privilege(oid, 'CREATE') FROM pg_namespace WHERE nspname = %(schema)s),
               EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %(schema)s)""",
                   {"source": source.oid, "archive": archive.oid, "schema": archive.schema})
    role, may_select, may_delete, may_insert, may_create, schema_exists = cursor.fetchone()
    problems = []
    if not (may_select and may_delete):
        problems.append(f"the role {role} may not SELECT and DELETE rows of {source.shown}")
    if archive.oid is not None and not may_insert:
        problems.append(f"the role {role} may not INSERT into {archive.shown}")
    if archive.oid is None and not schema_exists:
        problems.append(f"the schema {archive.schema} of the archive table does not exist")
    elif archive.oid is None and not may_create:
        problems.append(f"the role {role} may not create the archive table in the schema {archive.schema}")
    return problems


# ----- one run per table at a time ---------------------------------------------------------------------

def take_lock(cursor, source):
    """A session advisory lock on the table, taken without waiting: a second run fails at once, naming the
    session that holds it. It ends with the session, so a killed run's lock goes when its session does."""
    # Oids go up to 2^32 - 1; the two-key form takes signed 32-bit integers.
    second_key = source.oid - (1 << 32) if source.oid >= 1 << 31 else source.oid
    cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_KEY, second_key))
    if cursor.fetchone()[0]:
        return
    cursor.execute("""
        SELECT string_agg(pid::text, ', ') FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND classid = %s::oid AND objid = %s::oid AND objsubid = 2""",
                   (LOCK_KEY, source.oid))
    holders = cursor.fetchone()[0] or "?"
    raise PostgresError(f"Another postgres_archive run is archiving {source.shown} now (its PostgreSQL session, "
                        f"pid {holders}, holds the lock). Let it finish. If that run was "
                        "killed, its session ends when its last statement does; run again then.")


# ----- creating the archive table ----------------------------------------------------------------------

def archive_ddl(source, archive, column):
    """The statements that create the archive: the source's column names, types and NOT NULLs, without its
    defaults (so no sequence is shared with the source), identities, constraints or indexes; then an index on
    the cutoff column, for queries of the archive by age."""
    create_table = sql.SQL("CREATE TABLE {archive} (LIKE {source})")
    create_index = sql.SQL("CREATE INDEX ON {archive} ({column})")
    return [create_table.format(archive=archive.identifier, source=source.identifier),
            create_index.format(archive=archive.identifier, column=sql.Identifier(column.name))]


def roll_back(cursor):
    """End a failed transaction, if the connection still stands; closing it would end it too."""
    try:
        cursor.execute("ROLLBACK")
    except psycopg2.Error:
        pass


def create_archive(connection, source, archive, column):
    """Create the archive table, whole or not at all (one transaction); return it as it now exists."""
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            for statement in archive_ddl(source, archive, column):
                cursor.execute(statement)
            cursor.execute("COMMIT")
        except psycopg2.Error as exc:
            roll_back(cursor)
            raise PostgresError(f"Cannot create the archive table {archive.shown}: {reason_of(exc)}.") from None
        cursor.execute("SELECT %s::regclass::oid", (archive.shown,))
        oid = cursor.fetchone()[0]
        return Table(archive.schema, archive.name, archive.shown, oid, read_columns(cursor, oid))


def has_index_on(cursor, source, column):
    """Whether a valid, whole-table btree index starts with the column, so that asking for one old row is cheap."""
    cursor.execute("""
        SELECT EXISTS (
            SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
            WHERE i.indrelid = %s AND i.indkey[0] = %s AND i.indpred IS NULL AND i.indisvalid
              AND am.amname = 'btree')""", (source.oid, column.attnum))
    return cursor.fetchone()[0]


# ----- the batches ----------------------------------------------------------------------------------------

class Archiver:
    """Walks the source's pages in ranges and moves (or, in check mode, counts) the old rows of each.

    Its counters stay readable after a failure: ``rows_moved`` and ``batches`` count only the batches
    whose transaction committed.
    """

    def __init__(self, connection, source, archive, column, cutoff, batch_size, clock=time.monotonic,
                 sleep=time.sleep):
        self.connection, self.source, self.column, self.cutoff = connection, source, column, cutoff
        self.batch_size, self.clock, self.sleep = batch_size, clock, sleep
        self.rows_moved = self.batches = 0
        self.longest_batch = 0.0
        self.complete = False
        self.stop_requested = None
        old = sql.SQL("({column} < %(cutoff)s::{cast}) IS TRUE").format(
            column=sql.Identifier(column.name), cast=sql.SQL(CUTOFF_TYPES[column.builtin]))
        # "IS TRUE" keeps the planner from walking an index on the column instead of the range of pages:
        # that index scan would pass every remaining old row (and its dead predecessors) at each batch.
        in_range = sql.SQL("ctid >= %(first)s::tid AND ctid < %(last)s::tid AND {old}").format(old=old)
        self.exists_statement = sql.SQL("SELECT EXISTS (SELECT 1 FROM {source} WHERE {column} < %(cutoff)s::{cast})"
                                        ).format(source=source.identifier, column=sql.Identifier(column.name),
                                                 cast=sql.SQL(CUTOFF_TYPES[column.builtin]))
        self.count_statement = sql.SQL("SELECT count(*) FROM {source} WHERE {in_range}").format(
            source=source.identifier, in_range=in_range)
        if archive is None:
            return
        columns = sql.SQL(", ").join(sql.Identifier(each.name) for each in source.columns)
        # One statement: the rows deleted are the rows inserted. Both counts come back, so that a trigger or
        # rule of the archive table that drops rows rolls the batch back instead of losing them.
        # OVERRIDING SYSTEM VALUE keeps the source's values in an archive column that is an identity.
        self.move_statement = sql.SQL("""
            WITH moved AS (DELETE FROM {source} WHERE {in_range} RETURNING {columns}),
                 archived AS (INSERT INTO {archive} ({columns}) OVERRIDING SYSTEM VALUE
                              SELECT {columns} FROM moved RETURNING 1)
            SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM archived)""").format(
            source=source.identifier, archive=archive.identifier, in_range=in_range, columns=columns)

    def size(self, cursor):
        """The table's pages now (the walk ends there), and pages per batch, so that a batch holds about
        batch_size rows: from the rows per page of a sample of pages, those that hold rows."""
        cursor.execute("SELECT pg_relation_size(%s) / current_setting('block_size')::int", (self.source.oid,))
        pages = cursor.fetchone()[0]
        if pages == 0:
            return 0, 1
        percent = min(100.0, 100.0 * SAMPLE_PAGES / pages)
        cursor.execute(sql.SQL("SELECT count(*), count(DISTINCT (ctid::text::point)[0]) FROM {source} "
                               "TABLESAMPLE SYSTEM (%s) REPEATABLE (0)").format(source=self.source.identifier),
                       (percent,))
        rows, pages_with_rows = cursor.fetchone()
        rows_per_page = rows / pages_with_rows if pages_with_rows else MAX_ROWS_PER_PAGE
        return pages, max(1, min(MAX_PAGES_PER_BATCH, int(self.batch_size / rows_per_page)))

    def any_old_row(self, cursor):
        """Whether any row is old enough, asked only where an index answers it at once."""
        if not has_index_on(cursor, self.source, self.column):
            return True
        cursor.execute(self.exists_statement, {"cutoff": self.cutoff})
        return cursor.fetchone()[0]

    def count(self, cursor, first, last):
        cursor.execute(self.count_statement, {"first": f"({first},0)", "last": f"({last},0)", "cutoff": self.cutoff})
        return cursor.fetchone()[0]

    def move(self, cursor, first, last):
        """Move the old rows of pages first..last-1, in one transaction; return how many moved."""
        cursor.execute("BEGIN")
        try:
            cursor.execute(self.move_statement, {"first": f"({first},0)", "last": f"({last},0)",
                                                 "cutoff": self.cutoff})
        except psycopg2.Error:
            roll_back(cursor)
            raise
        deleted, inserted = cursor.fetchone()
        if deleted != inserted:
            roll_back(cursor)
            raise PostgresError(f"{deleted} row(s) left {self.source.shown} but {inserted} arrived in the archive "
                                "table (a trigger or rule of the archive table drops rows); that batch was rolled "
                                "back. Remove the trigger or rule, or archive into another table.")
        cursor.execute("COMMIT")
        return deleted

    def stop(self, reason):
        """Ask the walk to stop before its next batch (from a signal handler)."""
        self.stop_requested = reason

    def run(self, check_mode=False, max_batches=None, pause=0, on_batch=None):
        """Walk the table once. In check mode count what would move, in the same ranges, moving nothing.

        ``batches`` counts the ranges that held old rows; ranges with none are read, not counted, so that a
        table whose first pages were archived before does not use up ``max_batches``. ``on_batch(rows)`` is
        called after each of them (tests use it to know when a batch has committed).
        """
        with self.connection.cursor() as cursor:
            pages, step = self.size(cursor)
            if pages == 0 or not self.any_old_row(cursor):
                self.complete = True
                return
            first = 0
            while first < pages:
                # A signal only asks: the batch in flight ends first, so that the counters stay exact.
                if self.stop_requested:
                    raise PostgresError(f"Stopped by {self.stop_requested}.")
                if max_batches is not None and self.batches >= max_batches:
                    return
                last = min(pages, first + step)
                started = self.clock()
                rows = self.count(cursor, first, last) if check_mode else self.move(cursor, first, last)
                self.longest_batch = max(self.longest_batch, self.clock() - started)
                first = last
                if rows == 0:
                    continue
                self.rows_moved += rows
                self.batches += 1
                if on_batch:
                    on_batch(rows)
                # Denser pages than the sample showed: smaller ranges from now on keep batches near batch_size.
                if rows > 2 * self.batch_size:
                    step = max(1, step * self.batch_size // rows)
                if pause and not check_mode and first < pages:
                    self.sleep(pause)
        self.complete = True
