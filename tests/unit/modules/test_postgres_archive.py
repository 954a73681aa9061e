"""postgres_archive against a real throwaway cluster: what moves, what is refused before anything moves,
check mode, names that need quoting, the three column types, timeouts, max_batches, and the password."""
import psycopg2
import pytest

from ansible_collections.runbook.ops.plugins.module_utils._archive import LOCK_KEY, Archiver
from ansible_collections.runbook.ops.plugins.modules import postgres_archive
from tests.postgres_cluster import PASSWORD

# Created for this module and dropped after it by the cluster fixture (tests/unit/conftest.py).
DATABASE = "archive_shop"
# Old rows (before 2025-01-01) and young ones interleaved, so that every batch holds both.
LOG = """
CREATE TABLE {table} (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, level text NOT NULL DEFAULT 'info',
                      message varchar(200));
INSERT INTO {table}
SELECT n, CASE WHEN n % 4 = 0 THEN timestamptz '2025-06-01' ELSE timestamptz '2024-06-01' END + n * interval '1 minute',
       'info', 'message ' || n
FROM generate_series(1, {rows}) AS n
"""
CUTOFF = "2025-01-01T00:00:00+00:00"


@pytest.fixture
def log(cluster, request):
    """A table of 4000 log rows, 3000 of them older than 2025-01-01, named after the test; dropped after."""
    name = f"log_{request.node.name.split('[')[0][5:40]}"
    cluster.psql(LOG.format(table=name, rows=4000), DATABASE)
    yield name
    cluster.psql(f"DROP TABLE IF EXISTS {name}, {name}_archive", DATABASE)


def sql(cluster, statement):
    return cluster.psql(statement, DATABASE)


def archive_args(cluster, table, **options):
    """The module's arguments; an option given as None is left out, as a role's omit leaves it out."""
    args = {"host": cluster.host, "port": cluster.port, "user": "runbook", "password": PASSWORD, "database": DATABASE,
            "table": table, "column": "created_at", "before": CUTOFF, **options}
    return {key: value for key, value in args.items() if value is not None}


def exists(cluster, table):
    return sql(cluster, f"SELECT to_regclass('{table}') IS NOT NULL") == "t"


def fingerprint(cluster, table, archive=None):
    """Count, distinct ids and a checksum of every row, wherever it is now."""
    union = f"SELECT * FROM {table}" + (f" UNION ALL SELECT * FROM {archive}" if archive else "")
    return sql(cluster, f"SELECT count(*), count(DISTINCT id), md5(string_agg(r::text, '|' ORDER BY id)) "
                        f"FROM ({union}) AS r")


def test_moves_the_old_rows_and_a_second_run_moves_nothing(cluster, run, log):
    before = fingerprint(cluster, log)

    result = run(postgres_archive, archive_args(cluster, log, batch_size=500))

    assert result["changed"] is True and "failed" not in result
    assert (result["table"], result["archive_table"]) == (f"public.{log}", f"public.{log}_archive")
    assert result["cutoff"] == CUTOFF and result["archive_created"] is True and result["complete"] is True
    assert result["rows_moved"] == 3000 and result["batches"] >= 4
    assert 0 < result["longest_batch"] <= result["duration"]
    assert result["msg"] == (f"Moved 3000 row(s) of public.{log} older than {CUTOFF} into public.{log}_archive in "
                             f"{result['batches']} batch(es), which it created.")
    assert sql(cluster, f"SELECT count(*), min(created_at) >= '{CUTOFF}' FROM {log}") == "1000|t"
    assert sql(cluster, f"SELECT count(*), max(created_at) < '{CUTOFF}' FROM {log}_archive") == "3000|t"
    assert fingerprint(cluster, log, f"{log}_archive") == before
    assert PASSWORD not in result["_stdout"]

    again = run(postgres_archive, archive_args(cluster, log, batch_size=500))

    assert again["changed"] is False and again["rows_moved"] == 0 and again["batches"] == 0
    assert again["archive_created"] is False and again["complete"] is True
    assert fingerprint(cluster, log, f"{log}_archive") == before


def test_the_archive_table_gets_the_columns_and_an_index_but_no_defaults(cluster, run, log):
    run(postgres_archive, archive_args(cluster, log))

    assert sql(cluster, f"SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull, "
                        f"', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '{log}_archive'::regclass "
                        "AND attnum > 0") == ("id bigint true, created_at timestamp with time zone true, "
                                              "level text true, message character varying(200) false")
    assert sql(cluster, f"SELECT count(*) FROM pg_attrdef WHERE adrelid = '{log}_archive'::regclass") == "0"
    assert sql(cluster, f"SELECT indexdef FROM pg_indexes WHERE tablename = '{log}_archive'") == (
        f"CREATE INDEX {log}_archive_created_at_idx ON public.{log}_archive USING btree (created_at)")


def test_identity_and_generated_columns_keep_their_values(cluster, run):
    sql(cluster, """
        CREATE TABLE orders_ident (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, placed date NOT NULL,
                                   price numeric(10, 2), doubled numeric GENERATED ALWAYS AS (price * 2) STORED);
        INSERT INTO orders_ident (placed, price) SELECT date '2024-01-01' + n, n FROM generate_series(1, 600) AS n;
        CREATE TABLE orders_ident_old (id bigint GENERATED ALWAYS AS IDENTITY, placed date NOT NULL,
                                       price numeric, doubled numeric, archived_at timestamptz DEFAULT now())""")
    checksum = "SELECT md5(string_agg(format('%s %s %s %s', id, placed, price, doubled), ',' ORDER BY id)) FROM "
    expected = sql(cluster, checksum + "orders_ident WHERE placed < '2025-01-01'")
    try:
        result = run(postgres_archive, archive_args(cluster, "orders_ident", archive_table="orders_ident_old",
                                                    column="placed", before="2025-01-01"))
        archived = sql(cluster, checksum + "orders_ident_old")
    finally:
        sql(cluster, "DROP TABLE orders_ident, orders_ident_old")

    assert result["rows_moved"] == 365 and result["archive_created"] is False
    assert archived == expected


def test_check_mode_counts_what_would_move_and_moves_nothing(cluster, run, log):
    before = fingerprint(cluster, log)

    checked = run(postgres_archive, archive_args(cluster, log, batch_size=500), check=True, diff=True)

    assert checked["changed"] is True and checked["rows_moved"] == 3000 and checked["archive_created"] is True
    assert checked["msg"].startswith("Would move 3000 row(s) of ") and checked["msg"].endswith(", after creating it.")
    assert checked["diff"]["before"] == f"public.{log}_archive: absent\n"
    assert checked["diff"]["after"].startswith(f'CREATE TABLE "public"."{log}_archive" (LIKE "public"."{log}");\n'
                                               f'CREATE INDEX ON "public"."{log}_archive" ("created_at");\n')
    assert not exists(cluster, f"{log}_archive")
    assert fingerprint(cluster, log) == before

    moved = run(postgres_archive, archive_args(cluster, log, batch_size=500))
    assert moved["rows_moved"] == checked["rows_moved"] and moved["batches"] == checked["batches"]

    nothing = run(postgres_archive, archive_args(cluster, log, batch_size=500), check=True, diff=True)
    assert nothing["changed"] is False and nothing["rows_moved"] == 0 and "diff" not in nothing


def test_check_mode_counts_exactly_what_max_batches_would_move(cluster, run, log):
    checked = run(postgres_archive, archive_args(cluster, log, batch_size=200, max_batches=3), check=True)
    moved = run(postgres_archive, archive_args(cluster, log, batch_size=200, max_batches=3))

    assert checked["complete"] is moved["complete"] is False
    assert checked["rows_moved"] == moved["rows_moved"] and 0 < moved["rows_moved"] < 3000
    assert checked["batches"] == moved["batches"] == 3


def test_max_batches_stops_early_and_the_next_run_goes_on(cluster, run, log):
    first = run(postgres_archive, archive_args(cluster, log, batch_size=200, max_batches=2))

    assert first["changed"] is True and first["complete"] is False and first["batches"] == 2
    assert first["msg"].endswith("in 2 batch(es), then stopped at max_batches, which it created.")
    assert sql(cluster, f"SELECT count(*) FROM {log}_archive") == str(first["rows_moved"])

    # The ranges archived before hold no old row any more; they do not count against max_batches.
    second = run(postgres_archive, archive_args(cluster, log, batch_size=200, max_batches=2))
    assert second["batches"] == 2 and second["rows_moved"] > 0

    rest = run(postgres_archive, archive_args(cluster, log, batch_size=200))
    assert rest["complete"] is True
    assert first["rows_moved"] + second["rows_moved"] + rest["rows_moved"] == 3000
    assert sql(cluster, f"SELECT count(*) FROM {log}") == "1000"


# ----- refused before anything moves -------------------------------------------------------------------

def test_an_archive_table_that_would_truncate_rows_is_refused_before_anything_moves(cluster, run, log):
    sql(cluster, f"""
        CREATE TABLE {log}_archive (id integer, created_at timestamptz, level text NOT NULL,
                                    message varchar(10), archived_by text NOT NULL)""")
    before = fingerprint(cluster, log)

    for check in (True, False):
        result = run(postgres_archive, archive_args(cluster, log), check=check)

        assert result["failed"] is True and result["rows_moved"] == 0 and result["batches"] == 0
        assert result["msg"] == (
            f"Cannot archive public.{log}: the archive table public.{log}_archive cannot hold its rows: "
            "archive column id is integer, source bigint: values could be rounded or refused; "
            "archive column message is varchar(10), source varchar(200): rows could be truncated or refused; "
            "archive column archived_by (text) is NOT NULL without a default, and the source has no such column "
            "to fill it. Fix the archive table, or name another with archive_table. Nothing was moved.")
    assert fingerprint(cluster, log) == before
    assert sql(cluster, f"SELECT count(*) FROM {log}_archive") == "0"


def test_a_wider_archive_table_is_taken(cluster, run, log):
    sql(cluster, f"CREATE TABLE {log}_archive (id numeric, created_at timestamptz NOT NULL, level text, "
                 "message text, archived_at timestamptz NOT NULL DEFAULT now())")

    result = run(postgres_archive, archive_args(cluster, log))

    assert result["rows_moved"] == 3000 and result["archive_created"] is False
    assert sql(cluster, f"SELECT count(*) FROM {log}_archive WHERE archived_at IS NOT NULL") == "3000"


@pytest.mark.parametrize("options, message", [
    ({"table": "no_such_table"}, "Cannot archive no_such_table: unknown table no_such_table on "
                                 "runbook@127.0.0.1:{port}/archive_shop: no table by that name on the search path. "
                                 "Nothing was moved."),
    ({"table": "public.no_such_table"}, "Cannot archive public.no_such_table: unknown table public.no_such_table on "
                                        "runbook@127.0.0.1:{port}/archive_shop: no table by that name in that schema. "
                                        "Nothing was moved."),
    ({"column": "createdat"}, "Cannot archive public.{log}: unknown column createdat in public.{log}; its columns of "
                              "a date or time type: created_at. A name with capitals or spaces must be written in "
                              "double quotes. Nothing was moved."),
    ({"column": "message"}, "Cannot archive public.{log}: column message of public.{log} is varchar(200); the age "
                            "can only be read from a timestamp, timestamptz or date column. Nothing was moved."),
    ({"before": None, "older_than_days": -1}, "older_than_days must be 0 or more, not -1: a negative age would reach "
                                              "into the future. Nothing was moved."),
    ({"older_than_days": 30}, "parameters are mutually exclusive: older_than_days|before"),
    ({"before": None}, "one of the following is required: older_than_days, before"),
    ({"batch_size": 0}, "batch_size must be more than 0 rows, not 0. Nothing was moved."),
    ({"max_batches": 0}, "max_batches must be more than 0, not 0; leave it out for no bound. Nothing was moved."),
    ({"lock_timeout": 0}, "lock_timeout must be more than 0 and at most 86400 seconds, not 0. Nothing was moved."),
    ({"before": "last tuesday"}, "before must be an ISO 8601 date or date and time, such as 2026-01-01 or "
                                 "2026-01-01T00:00:00+09:00, not 'last tuesday'. Nothing was moved."),
    ({"before": "2025-13-45"}, "Cannot archive public.{log}: Cannot compute the cutoff from before '2025-13-45': "
                               'date/time field value out of range: "2025-13-45". Nothing was moved.'),
    ({"archive_table": "{log}"}, "Cannot archive public.{log}: archive_table names public.{log} itself; the "
                                 "archive must be another table. Nothing was moved."),
    ({"create_archive": False}, "Cannot archive public.{log}: the archive table public.{log}_archive does not "
                                "exist, and create_archive is false (on runbook@127.0.0.1:{port}/archive_shop). "
                                "Nothing was moved."),
    ({"table": "pg_stat_activity"}, "Cannot archive pg_stat_activity: pg_catalog.pg_stat_activity is not a table (a "
                                    "view, an index, a sequence or a foreign table); name the table that holds the "
                                    "rows. Nothing was moved."),
])
def test_bad_input_fails_before_any_change(cluster, run, log, options, message):
    options = {key: value.format(log=log) if isinstance(value, str) else value for key, value in options.items()}
    before = fingerprint(cluster, log)

    result = run(postgres_archive, archive_args(cluster, options.pop("table", log), **options))

    assert result["failed"] is True and result.get("rows_moved", 0) == 0
    assert result["msg"] == message.format(log=log, port=cluster.port)
    assert fingerprint(cluster, log) == before and not exists(cluster, f"{log}_archive")
    assert PASSWORD not in result["_stdout"]


def test_a_null_age_is_refused(cluster, run, log):
    # A null passes Ansible's required_one_of, which counts the options named, not their values.
    result = run(postgres_archive, {**archive_args(cluster, log), "before": None})

    assert result["failed"] is True
    assert result["msg"] == "Give older_than_days or before, the age of the rows to move. Nothing was moved."
    assert sql(cluster, f"SELECT count(*) FROM {log}") == "4000"


def test_a_wrong_password_fails_naming_the_server_but_not_the_password(cluster, run, log):
    result = run(postgres_archive, archive_args(cluster, log, password="not-the-Password-77"))

    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot connect to runbook@127.0.0.1:{cluster.port}/{DATABASE}: ")
    assert result["msg"].endswith(" Nothing was moved.")
    assert "not-the-Password-77" not in result["_stdout"] and PASSWORD not in result["_stdout"]


def test_the_connection_comes_from_database_url_and_stays_secret(cluster, run, log, monkeypatch):
    dsn = f"postgresql://runbook:{PASSWORD}@{cluster.host}:{cluster.port}/{DATABASE}"
    monkeypatch.setenv("DATABASE_URL", dsn)

    result = run(postgres_archive, {"table": log, "column": "created_at", "older_than_days": 0})

    assert result["rows_moved"] == 4000
    assert PASSWORD not in result["_stdout"] and dsn not in result["_stdout"]


# ----- column types and names ----------------------------------------------------------------------------

@pytest.mark.parametrize("column_type, moves, stays, cutoff", [
    ("timestamptz", "2025-12-31 14:59:59.999999+00", "2025-12-31 15:00:00+00", "2025-12-31T15:00:00+00:00"),
    ("timestamp", "2025-12-31 14:59:59.999999", "2025-12-31 15:00:00", "2025-12-31T15:00:00"),
    # A day moves once all of it is older than the cutoff.
    ("date", "2025-12-30", "2025-12-31", "2025-12-31"),
])
def test_timestamp_timestamptz_and_date_columns(cluster, run, monkeypatch, column_type, moves, stays, cutoff):
    # The session's time zone decides how a timestamp without one compares; libpq takes it from PGTZ.
    monkeypatch.setenv("PGTZ", "UTC")
    table = f"typed_{column_type}"
    sql(cluster, f"CREATE TABLE {table} (id int PRIMARY KEY, at {column_type}); "
                 f"INSERT INTO {table} VALUES (1, '{moves}'), (2, '{stays}'), (3, NULL), (4, '2020-02-29')")
    try:
        result = run(postgres_archive, archive_args(cluster, table, column="at", before="2026-01-01T00:00:00+09:00"))
        left = sql(cluster, f"SELECT string_agg(id::text, ',' ORDER BY id) FROM {table}")
        archived = sql(cluster, f"SELECT string_agg(id::text, ',' ORDER BY id) FROM {table}_archive")
    finally:
        sql(cluster, f"DROP TABLE {table}, {table}_archive")

    assert result["cutoff"] == cutoff and result["rows_moved"] == 2
    assert (left, archived) == ("2,3", "1,4")


def test_a_date_column_by_age_keeps_today(cluster, run):
    sql(cluster, "CREATE TABLE daily (id int, day date NOT NULL); "
                 "INSERT INTO daily VALUES (1, current_date - 1), (2, current_date), (3, current_date - 400)")
    try:
        result = run(postgres_archive, archive_args(cluster, "daily", column="day", before=None, older_than_days=0))
        left = sql(cluster, "SELECT string_agg(id::text, ',' ORDER BY id) FROM daily")
        today = sql(cluster, "SELECT current_date")
    finally:
        sql(cluster, "DROP TABLE daily, daily_archive")

    assert result["rows_moved"] == 2 and left == "2" and result["cutoff"] == today


def test_schema_qualified_names_that_need_quoting(cluster, run):
    sql(cluster, """
        CREATE SCHEMA "Sales Data";
        CREATE SCHEMA cold;
        CREATE TABLE "Sales Data"."Order Log" ("Order Id" int PRIMARY KEY, "Created At" timestamptz NOT NULL);
        INSERT INTO "Sales Data"."Order Log" SELECT n, timestamptz '2024-12-31' + n * interval '1 hour'
        FROM generate_series(1, 48) AS n""")
    try:
        default = run(postgres_archive, archive_args(cluster, '"Sales Data"."Order Log"', column='"Created At"',
                                                     before="2025-01-01T12:00:00+00:00"))
        elsewhere = run(postgres_archive, archive_args(cluster, '"Sales Data"."Order Log"', column='"Created At"',
                                                       archive_table='cold."Order Log"'))
        counts = sql(cluster, 'SELECT (SELECT count(*) FROM "Sales Data"."Order Log") || \' \' || '
                              '(SELECT count(*) FROM "Sales Data"."Order Log_archive") || \' \' || '
                              '(SELECT count(*) FROM cold."Order Log")')
        unquoted = run(postgres_archive, archive_args(cluster, "sales data.order log", column="created at"))
    finally:
        sql(cluster, 'DROP SCHEMA "Sales Data", cold CASCADE')

    assert default["table"] == '"Sales Data"."Order Log"'
    assert default["archive_table"] == '"Sales Data"."Order Log_archive"'
    assert default["rows_moved"] == 35
    assert elsewhere["archive_table"] == 'cold."Order Log"' and elsewhere["rows_moved"] == 0
    assert counts == "13 35 0"
    assert unquoted["failed"] is True and "cannot be read as a table name" in unquoted["msg"]


# ----- locks, timeouts, a second run --------------------------------------------------------------------

def hold(cluster, statement):
    """A session of its own that ran ``statement`` in a transaction it keeps open."""
    session = psycopg2.connect(host=cluster.host, port=cluster.port, user="runbook", password=PASSWORD,
                               dbname=DATABASE)
    session.cursor().execute(statement)
    return session


def test_a_row_locked_by_another_session_stops_the_run_after_the_lock_timeout(cluster, run, log):
    before = fingerprint(cluster, log)
    # A row in the middle of the table, changed by a transaction that does not end.
    session = hold(cluster, f"SELECT * FROM {log} WHERE id = 2001 FOR UPDATE")
    try:
        result = run(postgres_archive, archive_args(cluster, log, batch_size=100, lock_timeout=0.2))
    finally:
        session.close()

    assert result["failed"] is True and result["complete"] is False
    assert 0 < result["rows_moved"] < 3000 and result["batches"] > 0
    assert result["msg"].startswith(f"Archiving public.{log} into public.{log}_archive stopped after "
                                    f"{result['batches']} batch(es) and {result['rows_moved']} row(s) moved: a "
                                    "statement waited longer than lock_timeout (0.2 s) for a lock (")
    assert result["msg"].endswith("Every batch moves its rows whole or not at all, so no row was lost or copied "
                                  "twice; run again to continue where it stopped.")
    assert sql(cluster, f"SELECT count(*) FROM {log}_archive") == str(result["rows_moved"])
    assert fingerprint(cluster, log, f"{log}_archive") == before
    assert PASSWORD not in result["_stdout"]

    rest = run(postgres_archive, archive_args(cluster, log, batch_size=100))
    assert result["rows_moved"] + rest["rows_moved"] == 3000 and rest["complete"] is True
    assert fingerprint(cluster, log, f"{log}_archive") == before


def test_a_locked_table_fails_after_the_lock_timeout_and_nothing_moves(cluster, run, log):
    before = fingerprint(cluster, log)
    session = hold(cluster, f"LOCK TABLE {log} IN SHARE MODE")
    try:
        result = run(postgres_archive, archive_args(cluster, log, lock_timeout=0.2))
    finally:
        session.close()

    assert result["failed"] is True and result["rows_moved"] == 0
    assert "waited longer than lock_timeout (0.2 s) for a lock" in result["msg"]
    assert fingerprint(cluster, log) == before


def test_a_statement_timeout_cancels_the_batch_and_says_what_to_do(cluster, run, log):
    before = fingerprint(cluster, log)
    session = hold(cluster, f"LOCK TABLE {log} IN SHARE MODE")
    try:
        result = run(postgres_archive, archive_args(cluster, log, lock_timeout=30, statement_timeout=0.2))
    finally:
        session.close()

    assert result["failed"] is True and result["rows_moved"] == 0
    assert "canceling statement due to statement timeout" in result["msg"]
    assert "lower batch_size or raise statement_timeout (0.2 s)" in result["msg"]
    assert fingerprint(cluster, log) == before


def test_a_second_run_on_the_same_table_fails_fast(cluster, run, log):
    oid = int(sql(cluster, f"SELECT '{log}'::regclass::oid"))
    session = hold(cluster, f"SELECT pg_advisory_lock({LOCK_KEY}, {oid})")
    try:
        pid = session.get_backend_pid()
        result = run(postgres_archive, archive_args(cluster, log))
    finally:
        session.close()

    assert result["failed"] is True and result["rows_moved"] == 0
    assert result["msg"].startswith(f"Cannot archive public.{log}: Another postgres_archive run is archiving "
                                    f"public.{log} now (its PostgreSQL session, pid {pid}, holds the lock). Let it "
                                    "finish.")
    assert sql(cluster, f"SELECT count(*) FROM {log}") == "4000"


def test_a_cutoff_in_the_future_warns(cluster, run, log):
    result = run(postgres_archive, archive_args(cluster, log, before="2999-01-01"), check=True, own_process=True)

    assert result["rows_moved"] == 4000
    assert "The cutoff 2999-01-01T00:00:00+00:00 is in the future: rows younger than now move too." in str(
        result["warnings"])
    assert len(result["warnings"]) == 1


def test_a_lost_connection_says_what_moved_and_that_a_rerun_is_safe(cluster, run, log, monkeypatch):
    before = fingerprint(cluster, log)
    move, calls = Archiver.move, []

    def move_then_lose_the_connection(self, cursor, first, last):
        calls.append(first)
        if len(calls) == 4:
            # An administrator (or a failover) ends the module's session in the middle of the run.
            sql(cluster, f"SELECT pg_terminate_backend({self.connection.get_backend_pid()})")
        return move(self, cursor, first, last)

    monkeypatch.setattr(Archiver, "move", move_then_lose_the_connection)
    result = run(postgres_archive, archive_args(cluster, log, batch_size=100))

    assert result["failed"] is True and result["batches"] == 3 and 0 < result["rows_moved"] < 3000
    assert f"stopped after 3 batch(es) and {result['rows_moved']} row(s) moved: the connection to " \
           f"runbook@127.0.0.1:{cluster.port}/{DATABASE} was lost (" in result["msg"]
    assert "rows_moved counts the batches that were confirmed" in result["msg"]
    assert sql(cluster, f"SELECT count(*) FROM {log}_archive") == str(result["rows_moved"])
    assert fingerprint(cluster, log, f"{log}_archive") == before


def test_a_role_that_may_not_delete_is_refused_before_anything_moves(cluster, run, log):
    sql(cluster, f"CREATE ROLE archive_reader LOGIN PASSWORD 'Reader-Pw-3f9a'; GRANT SELECT ON {log} TO archive_reader")
    try:
        checked = run(postgres_archive, {**archive_args(cluster, log), "user": "archive_reader",
                                         "password": "Reader-Pw-3f9a"}, check=True)
    finally:
        sql(cluster, "DROP OWNED BY archive_reader; DROP ROLE archive_reader")

    assert checked["failed"] is True
    assert checked["msg"] == (f"Cannot archive public.{log}: the role archive_reader may not SELECT and DELETE rows of "
                              f"public.{log}; the role archive_reader may not create the archive table in the schema "
                              f"public (on archive_reader@127.0.0.1:{cluster.port}/{DATABASE}). Nothing was moved.")
    assert "Reader-Pw-3f9a" not in checked["_stdout"]
