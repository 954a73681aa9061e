"""The archiving helper: which archive tables hold a table's rows, and batches that survive SIGKILL.

The kill test runs the real module in a process of its own and kills it with SIGKILL at random points
(fixed seed): in the middle of a batch, between a batch and its commit, while it pauses, while it creates
the archive table. After each kill, the table and its archive together hold every original row exactly once.
"""
import json
import random
import select
import signal
import statistics
import subprocess
import sys
import time

import pytest

from ansible_collections.runbook.ops.plugins.module_utils._archive import (
    Archiver,
    Column,
    PostgresError,
    Table,
    archive_problems,
    compute_cutoff,
    create_archive,
    cutoff_column,
    find_archive,
    find_source,
    holds,
    parse_before,
    short_type_name,
    take_lock,
)
from ansible_collections.runbook.ops.plugins.module_utils._postgres import connect, connection_settings
from tests.postgres_cluster import PASSWORD

# Created for this module and dropped after it by the cluster fixture (tests/unit/conftest.py).
DATABASE = "archive_helper"
APPLICATION = "runbook.ops.postgres_archive"


@pytest.fixture
def connection(cluster):
    connection = connect(connection_settings(cluster.dsn, database=DATABASE), autocommit=True)
    yield connection
    connection.close()


@pytest.fixture
def events(cluster, request):
    """A table of 3000 rows, 2000 of them older than 2025-01-01, spread over the pages; dropped after."""
    name = f"events_{request.node.name.split('[')[0][-30:]}"
    cluster.psql(f"""
        CREATE TABLE {name} (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, note text);
        INSERT INTO {name}
        SELECT n, CASE WHEN n % 3 = 0 THEN timestamptz '2025-06-01' ELSE timestamptz '2024-06-01' END
                  + n * interval '1 minute', 'note ' || n
        FROM generate_series(1, 3000) AS n""", DATABASE)
    yield name
    cluster.psql(f"DROP TABLE IF EXISTS {name}, {name}_archive", DATABASE)


def column(name="c", type_oid=23, builtin="int4", typmod=-1, type_name=None, not_null=False, has_default=False,
           generated=False, identity=False):
    return Column(name, 1, type_oid, type_name or builtin or "status", builtin, typmod, not_null, has_default,
                  generated, identity)


def numeric(precision, scale):
    return ((precision << 16) | scale) + 4


# ----- which archive columns hold a source column's values --------------------------------------------

@pytest.mark.parametrize("source, archive, held", [
    (column(), column(), True),
    (column(type_oid=21, builtin="int2"), column(type_oid=20, builtin="int8"), True),
    (column(type_oid=20, builtin="int8"), column(), False),
    (column(type_oid=20, builtin="int8"), column(type_oid=1700, builtin="numeric"), True),
    (column(type_oid=20, builtin="int8"), column(type_oid=1700, builtin="numeric", typmod=numeric(10, 0)), False),
    (column(), column(type_oid=1700, builtin="numeric", typmod=numeric(12, 2)), True),
    (column(type_oid=1043, builtin="varchar", typmod=14), column(type_oid=1043, builtin="varchar", typmod=204), True),
    (column(type_oid=1043, builtin="varchar", typmod=204), column(type_oid=1043, builtin="varchar", typmod=14), False),
    (column(type_oid=1043, builtin="varchar", typmod=204), column(type_oid=25, builtin="text"), True),
    (column(type_oid=1043, builtin="varchar", typmod=204), column(type_oid=1043, builtin="varchar"), True),
    (column(type_oid=25, builtin="text"), column(type_oid=1043, builtin="varchar"), True),
    (column(type_oid=25, builtin="text"), column(type_oid=1043, builtin="varchar", typmod=204), False),
    (column(type_oid=1700, builtin="numeric", typmod=numeric(10, 2)),
     column(type_oid=1700, builtin="numeric", typmod=numeric(12, 3)), True),
    (column(type_oid=1700, builtin="numeric", typmod=numeric(10, 2)),
     column(type_oid=1700, builtin="numeric", typmod=numeric(10, 1)), False),
    (column(type_oid=1700, builtin="numeric"), column(type_oid=1700, builtin="numeric", typmod=numeric(30, 2)), False),
    (column(type_oid=1042, builtin="bpchar", typmod=14), column(type_oid=1042, builtin="bpchar", typmod=24), False),
    (column(type_oid=1042, builtin="bpchar", typmod=14), column(type_oid=25, builtin="text"), False),
    (column(type_oid=1184, builtin="timestamptz", typmod=3), column(type_oid=1184, builtin="timestamptz"), True),
    (column(type_oid=1184, builtin="timestamptz"), column(type_oid=1184, builtin="timestamptz", typmod=3), False),
    (column(type_oid=1184, builtin="timestamptz"), column(type_oid=1184, builtin="timestamptz", typmod=6), True),
    (column(type_oid=1114, builtin="timestamp"), column(type_oid=1184, builtin="timestamptz"), False),
    (column(type_oid=114, builtin="json"), column(type_oid=3802, builtin="jsonb"), False),
    (column(type_oid=700, builtin="float4"), column(type_oid=701, builtin="float8"), True),
    (column(type_oid=701, builtin="float8"), column(type_oid=1700, builtin="numeric"), False),
    # A type of the database's own (an enum), the same one and another one of the same name.
    (column(type_oid=90001, builtin=None), column(type_oid=90001, builtin=None), True),
    (column(type_oid=90001, builtin=None), column(type_oid=90002, builtin=None), False),
])
def test_which_archive_columns_hold_the_values(source, archive, held):
    assert holds(source, archive) is held


def test_every_problem_of_an_archive_table_is_listed():
    source = Table("public", "events", "public.events", 1, [
        column("id", type_oid=20, builtin="int8", not_null=True),
        column("note", type_oid=1043, builtin="varchar", typmod=204, type_name="character varying(200)"),
        column("amount", type_oid=1700, builtin="numeric", typmod=numeric(12, 2), type_name="numeric(12,2)"),
        column("kind", type_oid=25, builtin="text"),
        column("total", type_oid=1700, builtin="numeric"),
        column("region", type_oid=25, builtin="text"),
    ])
    archive = Table("public", "events_archive", "public.events_archive", 2, [
        column("id", type_oid=20, builtin="int8", not_null=True),
        column("note", type_oid=1043, builtin="varchar", typmod=14, type_name="character varying(10)"),
        column("amount", type_oid=23, builtin="int4", type_name="integer"),
        column("kind", type_oid=25, builtin="text", not_null=True),
        column("total", type_oid=1700, builtin="numeric", generated=True),
        column("archived_by", type_oid=25, builtin="text", not_null=True),
        column("archived_at", type_oid=1184, builtin="timestamptz", not_null=True, has_default=True),
    ])

    assert archive_problems(source, archive) == [
        "archive column note is varchar(10), source varchar(200): rows could be truncated or refused",
        "archive column amount is integer, source numeric(12,2): values could be rounded or refused",
        "archive column kind is NOT NULL, source column allows NULL: a row with none there would stop the "
        "archiving",
        "archive column total is a generated column, which cannot be written",
        "the archive has no column region (source: text)",
        "archive column archived_by (text) is NOT NULL without a default, and the source has no such column to "
        "fill it",
    ]


def test_an_archive_table_like_the_source_has_no_problem():
    columns = [column("id", type_oid=20, builtin="int8", not_null=True), column("note", type_oid=25, builtin="text")]
    assert archive_problems(Table("public", "a", "a", 1, columns), Table("public", "b", "b", 2, columns)) == []


@pytest.mark.parametrize("long, short", [
    ("character varying(200)", "varchar(200)"),
    ("character(3)", "char(3)"),
    ("timestamp with time zone", "timestamptz"),
    ("timestamp(3) without time zone", "timestamp(3)"),
    ("time with time zone", "timetz"),
    ("numeric(12,2)", "numeric(12,2)"),
    ("character varying(10)[]", "varchar(10)[]"),
])
def test_type_names_are_shown_short(long, short):
    assert short_type_name(long) == short


@pytest.mark.parametrize("text", ["2026-01-01", "2026-01-01T00:00", "2026-01-01 12:30:00", "2026-01-01T00:00:00Z",
                                  "2026-01-01T00:00:00.123456+09:00", "2026-01-01T00:00:00-0530", " 2026-01-01 "])
def test_iso_8601_dates_and_times_are_taken(text):
    assert parse_before(text) == text.strip()


@pytest.mark.parametrize("text", ["yesterday", "now() - interval '1 day'", "2026-01-01'; DROP TABLE x; --",
                                  "01/02/2026", "2026-1-1", "2026-01-01T", ""])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError, match="before must be an ISO 8601 date or date and time"):
        parse_before(text)


# ----- against the server -----------------------------------------------------------------------------

def plan(connection, table, cutoff="2025-01-01", archive_table=None):
    with connection.cursor() as cursor:
        source = find_source(cursor, table, "here")
        date_column = cutoff_column(cursor, source, "created_at")
        archive = find_archive(cursor, archive_table, source)
        value, dummy_in_future = compute_cutoff(cursor, date_column, before=cutoff)
    return source, date_column, archive, value


def test_batches_read_ranges_of_pages_and_never_an_index(connection, cluster, events):
    # An index on the column, and a cutoff that only a few rows pass: the cheapest plan for the statement
    # written plainly would be that index, and each batch would walk all the old rows again.
    cluster.psql(f"CREATE INDEX ON {events} (created_at); ANALYZE {events}", DATABASE)
    source, date_column, archive, cutoff = plan(connection, events, cutoff="2024-06-01 00:10")
    archive = create_archive(connection, source, archive, date_column)
    archiver = Archiver(connection, source, archive, date_column, cutoff, batch_size=100)

    params = {"first": "(0,0)", "last": "(1000,0)", "cutoff": cutoff}
    with connection.cursor() as cursor:
        cursor.execute(b"EXPLAIN " + cursor.mogrify(archiver.move_statement, params))
        batch = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN DELETE FROM {events} WHERE ctid >= %(first)s::tid AND ctid < %(last)s::tid "
                       "AND created_at < %(cutoff)s", params)
        written_plainly = "\n".join(row[0] for row in cursor.fetchall())

    assert "Index Scan" in written_plainly
    assert "Tid Range Scan on" in batch and "Index" not in batch.split("Insert on", maxsplit=1)[0]


def test_a_walk_moves_every_old_row_in_batches_of_about_the_size(connection, cluster, events):
    source, date_column, archive, cutoff = plan(connection, events)
    archive = create_archive(connection, source, archive, date_column)
    archiver = Archiver(connection, source, archive, date_column, cutoff, batch_size=250)
    moved = []

    archiver.run(on_batch=moved.append)

    assert archiver.complete and archiver.rows_moved == sum(moved) == 2000
    assert archiver.batches == len(moved) > 4 and max(moved) <= 2 * 250
    assert cluster.psql(f"SELECT count(*) FROM {events}_archive WHERE created_at < '2025-01-01'", DATABASE) == "2000"
    assert cluster.psql(f"SELECT count(*) FROM {events} WHERE created_at < '2025-01-01'", DATABASE) == "0"


def test_a_stop_request_ends_the_walk_after_the_batch_in_flight(connection, cluster, events):
    source, date_column, archive, cutoff = plan(connection, events)
    archive = create_archive(connection, source, archive, date_column)
    archiver = Archiver(connection, source, archive, date_column, cutoff, batch_size=250)
    moved = []

    def stop_after_the_second(rows):
        moved.append(rows)
        if len(moved) == 2:
            archiver.stop("SIGTERM")

    with pytest.raises(PostgresError, match=r"^Stopped by SIGTERM\.$"):
        archiver.run(on_batch=stop_after_the_second)

    assert archiver.batches == 2 and archiver.rows_moved == sum(moved) and not archiver.complete
    assert cluster.psql(f"SELECT count(*) FROM {events}_archive", DATABASE) == str(sum(moved))
    assert cluster.psql(f"SELECT count(*) FROM {events}", DATABASE) == str(3000 - sum(moved))


def test_a_trigger_that_drops_rows_rolls_its_batch_back(connection, cluster, events):
    source, date_column, archive, cutoff = plan(connection, events)
    archive = create_archive(connection, source, archive, date_column)
    cluster.psql(f"""
        CREATE FUNCTION drop_odd() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN IF NEW.id % 2 = 1 THEN RETURN NULL; END IF; RETURN NEW; END $$;
        CREATE TRIGGER drop_odd BEFORE INSERT ON {events}_archive FOR EACH ROW EXECUTE FUNCTION drop_odd()""",
                 DATABASE)
    try:
        archiver = Archiver(connection, source, archive, date_column, cutoff, batch_size=250)
        with pytest.raises(PostgresError, match=r"row\(s\) left .* but .* arrived in the archive table"):
            archiver.run()
    finally:
        cluster.psql("DROP FUNCTION drop_odd() CASCADE", DATABASE)

    assert archiver.rows_moved == 0
    assert cluster.psql(f"SELECT count(*) FROM {events}", DATABASE) == "3000"
    assert cluster.psql(f"SELECT count(*) FROM {events}_archive", DATABASE) == "0"


def test_a_second_run_on_the_same_table_is_refused_at_once(connection, cluster, events):
    source = plan(connection, events)[0]
    with connection.cursor() as cursor:
        take_lock(cursor, source)
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connect(connection_settings(cluster.dsn, database=DATABASE), autocommit=True)
    try:
        with other.cursor() as cursor, pytest.raises(PostgresError) as refused:
            take_lock(cursor, source)
    finally:
        other.close()

    assert str(refused.value).startswith(f"Another postgres_archive run is archiving public.{events} now (its "
                                         f"PostgreSQL session, pid {pid}, holds the lock). Let it finish.")


def test_an_unknown_table_in_other_capitals_is_pointed_at(connection, cluster):
    cluster.psql('CREATE TABLE "AuditLog" (at timestamptz)', DATABASE)
    try:
        with connection.cursor() as cursor, pytest.raises(PostgresError) as unknown:
            find_source(cursor, "AuditLog", "runbook@db/x")
    finally:
        cluster.psql('DROP TABLE "AuditLog"', DATABASE)

    assert str(unknown.value) == ('unknown table AuditLog on runbook@db/x: no table by that name on the search '
                                  'path. Did you mean public."AuditLog"? A name with capitals or spaces must be '
                                  'written in double quotes, as above.')


# ----- SIGKILL at random points -------------------------------------------------------------------------

# The real module, with one line printed after each committed batch so that the test knows where it is.
CHILD = """
import json, sys
sys.path[:0] = sys.argv[1:3]
from ansible.module_utils.testing import patch_module_args
from ansible_collections.runbook.ops.plugins.module_utils import _archive
from ansible_collections.runbook.ops.plugins.modules import postgres_archive
run = _archive.Archiver.run
def announced(self, check_mode=False, max_batches=None, pause=0, on_batch=None):
    return run(self, check_mode, max_batches, pause, on_batch=lambda rows: print("batch", rows, flush=True))
_archive.Archiver.run = announced
with patch_module_args(json.loads(sys.stdin.read())):
    postgres_archive.main()
"""
KILL_ROWS, KILL_OLD = 60000, 40000
KILLS = 24


def kill_args(cluster):
    return {"host": cluster.host, "port": cluster.port, "user": "runbook", "password": PASSWORD,
            "database": DATABASE, "table": "kill_events", "column": "created_at", "before": "2025-01-01",
            "batch_size": 300, "pause": 0.001}


def start_child(cluster):
    from tests.conftest import REPO_ROOT
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(REPO_ROOT / "collections"), str(REPO_ROOT)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child.stdin.write(json.dumps(kill_args(cluster)))
    child.stdin.close()
    child.stdin = None  # so that communicate() does not flush it
    return child


def wait_for_batches(child, count, deadline=20):
    """Read the child's lines until ``count`` batches have committed; what it printed when it ended first."""
    seen, ends, printed = 0, time.monotonic() + deadline, []
    while seen < count:
        ready, dummy_write, dummy_error = select.select([child.stdout], [], [], max(0, ends - time.monotonic()))
        line = child.stdout.readline() if ready else ""
        if not line:
            return "".join(printed) + child.stderr.read() or "(nothing)"
        printed.append(line)
        seen += line.startswith("batch ")
    return None


def wait_for_its_session_to_end(connection):
    """A killed client's session ends when its statement does; until then it holds the table's lock."""
    with connection.cursor() as cursor:
        for dummy_try in range(2000):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                           (DATABASE, APPLICATION))
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.005)
    raise AssertionError("The killed run's session did not end.")


def contents(connection):
    """Rows of the table and of its archive (when there is one): counts, duplicates, and one checksum of all."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('kill_events_archive') IS NOT NULL")
        archived = "SELECT id, created_at, note FROM kill_events_archive" if cursor.fetchone()[0] else \
            "SELECT NULL::bigint AS id, NULL::timestamptz AS created_at, NULL::text AS note WHERE false"
        cursor.execute(f"""
            WITH every AS (SELECT id, created_at, note FROM kill_events UNION ALL {archived})
            SELECT count(*), count(DISTINCT id), md5(string_agg(every::text, '|' ORDER BY id)) FROM every""")
        every = cursor.fetchone()
        cursor.execute(f"SELECT count(*), count(*) FILTER (WHERE created_at >= '2025-01-01') FROM ({archived}) AS a")
        return every + cursor.fetchone()


def test_sigkill_at_random_points_neither_loses_nor_copies_a_row(connection, cluster):
    cluster.psql(f"""
        CREATE TABLE kill_events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, note text);
        INSERT INTO kill_events
        SELECT n, CASE WHEN n % 3 = 0 THEN timestamptz '2025-06-01' ELSE timestamptz '2024-06-01' END
                  + n * interval '1 minute', md5(n::text)
        FROM generate_series(1, {KILL_ROWS}) AS n""", DATABASE)
    original = contents(connection)
    chance = random.Random(20260301)
    archived_after, startups = [], []
    try:
        for kill in range(KILLS):
            started = time.monotonic()
            child = start_child(cluster)
            # Mostly after a few committed batches, at a random moment of the next one; now and then before
            # its first batch would commit: while it connects, checks, takes its lock or creates the archive.
            if kill % 6 == 5:
                time.sleep(chance.uniform(0.2, 1.0) * statistics.median(startups))
                mid_run = False
            else:
                ended = wait_for_batches(child, 1)
                startups.append(time.monotonic() - started)
                ended = ended or wait_for_batches(child, chance.randint(0, 3))
                assert ended is None, f"run {kill} ended before it was killed: {ended}"
                time.sleep(chance.uniform(0, 0.006))
                mid_run = True
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
            child.stderr.close()
            wait_for_its_session_to_end(connection)

            rows, distinct, checksum, archived, young = contents(connection)
            assert (rows, distinct, checksum) == original[:3], f"after kill {kill}"
            assert young == 0
            if mid_run:
                archived_after.append(archived)
        archived_before = contents(connection)[3]
        final = start_child(cluster)
        output, errors = final.communicate(timeout=60)
        result = json.loads(output.splitlines()[-1])
        after = contents(connection)
        again = start_child(cluster)
        second, dummy_errors = again.communicate(timeout=60)
        second_result = json.loads(second.splitlines()[-1])
    finally:
        cluster.psql("DROP TABLE IF EXISTS kill_events, kill_events_archive", DATABASE)

    # Every mid-run kill came after at least one more committed batch, so the archive grew each time.
    assert len(archived_after) == KILLS - 4 and archived_after == sorted(set(archived_after)) and archived_after[0] > 0
    assert archived_before < KILL_OLD
    assert result["changed"] is True and result["complete"] is True, errors
    assert result["rows_moved"] == KILL_OLD - archived_before
    assert after[:3] == original[:3] and after[3:] == (KILL_OLD, 0)
    assert second_result["changed"] is False and second_result["rows_moved"] == 0
    assert PASSWORD not in output and PASSWORD not in second
