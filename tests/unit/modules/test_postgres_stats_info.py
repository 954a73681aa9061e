"""postgres_stats_info against a real throwaway cluster, and the masking of a statement's literals."""
import threading
import time

import psycopg2
import pytest

from ansible_collections.runbook.ops.plugins.module_utils._stats import mask_literals
from ansible_collections.runbook.ops.plugins.modules import postgres_stats_info
from tests.postgres_cluster import PASSWORD

WATCHER, WATCHER_PASSWORD = "stats_watcher", "watcher-Pw-3f9a0c"
SECRET = "secret-text"
# Long enough to be cut: the text shown stops at 500 characters.
LONG_QUERY = f"SELECT '{SECRET}', pg_sleep(60) /* {'padding ' * 75}*/"


@pytest.fixture(scope="module")
def cluster(postgres):
    """A database with rows, one no one but a superuser may connect to, and a role with no privileges."""
    postgres.psql("CREATE DATABASE stats_shop")
    postgres.psql("CREATE TABLE orders AS SELECT n AS id, repeat('x', 200) AS note FROM generate_series(1, 5000) AS n",
                  database="stats_shop")
    postgres.psql("CREATE DATABASE stats_locked")
    postgres.psql("REVOKE CONNECT ON DATABASE stats_locked FROM PUBLIC")
    postgres.psql(f"CREATE ROLE {WATCHER} LOGIN PASSWORD '{WATCHER_PASSWORD}'")
    yield postgres
    postgres.psql("DROP DATABASE stats_shop")
    postgres.psql("DROP DATABASE stats_locked")
    postgres.psql(f"DROP ROLE {WATCHER}")


@pytest.fixture(scope="module")
def long_query(cluster):
    """The pid of a statement that has been running for more than a second, in another connection."""
    runner = psycopg2.connect(host=cluster.host, port=cluster.port, user="runbook", password=PASSWORD,
                              dbname="stats_shop", application_name="long-runner")
    pid = runner.get_backend_pid()

    def run():
        try:
            with runner.cursor() as cursor:
                cursor.execute(LONG_QUERY)
        except psycopg2.errors.QueryCanceled:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    # Wait until the server has been running it for a second: the tests ask for half of that.
    for _attempt in range(200):
        running = cluster.psql("SELECT extract(epoch FROM clock_timestamp() - query_start) > 1 FROM pg_stat_activity "
                               f"WHERE pid = {pid} AND state = 'active'")
        if running == "t":
            break
        time.sleep(0.05)
    else:
        pytest.fail("the long query did not start")
    yield pid
    cluster.psql(f"SELECT pg_cancel_backend({pid})")
    thread.join()
    runner.close()


def stats_args(cluster, user="runbook", password=PASSWORD, database="stats_shop", **options):
    return {"host": cluster.host, "port": cluster.port, "user": user, "password": password, "database": database,
            **options}


def by_pid(long_queries, pid):
    return [query for query in long_queries if query["pid"] == pid]


def test_everything_as_a_superuser(cluster, long_query, run):
    result = run(postgres_stats_info, stats_args(cluster, long_query_seconds=0.5))

    assert result["changed"] is False and "failed" not in result
    assert result["ping"]["ok"] is True and result["ping"]["latency_ms"] >= 0
    assert result["ping"]["server_version"] == cluster.psql("SHOW server_version").split()[0]

    connections = result["connections"]
    max_connections = int(cluster.psql("SHOW max_connections"))
    assert connections["max_connections"] == max_connections
    # At least the long query's session and this module's own, both running a statement.
    assert connections["by_state"]["active"] >= 2 and connections["by_database"]["stats_shop"] >= 2
    assert connections["total"] == sum(connections["by_state"].values()) == sum(connections["by_database"].values())
    assert connections["percent"] == round(100 * connections["total"] / max_connections, 1)

    [found] = by_pid(result["long_queries"], long_query)
    assert found["query"] == mask_literals(LONG_QUERY)[:500] and len(found["query"]) == 500
    assert found["query"].startswith("SELECT ?, pg_sleep(60) /* padding padding")
    assert (found["database"], found["user"], found["application"], found["state"]) == (
        "stats_shop", "runbook", "long-runner", "active")
    assert found["seconds"] > 0.5

    sizes = result["database_sizes"]
    names = [size["name"] for size in sizes]
    assert {"stats_shop", "stats_locked", "postgres"} <= set(names) and "template0" not in names
    assert [size["bytes"] for size in sizes] == sorted((size["bytes"] for size in sizes), reverse=True)
    assert all(size["bytes"] > 0 for size in sizes)

    assert SECRET not in result["_stdout"] and PASSWORD not in result["_stdout"]


def test_the_threshold_leaves_out_what_is_shorter(cluster, long_query, run):
    result = run(postgres_stats_info, stats_args(cluster, gather=["long_queries"], long_query_seconds=3600))

    assert result["long_queries"] == []


def test_its_own_session_is_never_listed(cluster, long_query, run):
    result = run(postgres_stats_info, stats_args(cluster, gather=["long_queries"], long_query_seconds=0))

    assert [query["pid"] for query in result["long_queries"]] == [long_query]


def test_only_what_is_asked_for(cluster, run):
    # In a process of its own: a warning left by another test in pytest's process would be reported too.
    result = run(postgres_stats_info, stats_args(cluster, gather=["database_sizes", "ping"]), own_process=True)

    assert set(result) - {"changed", "invocation", "_stdout"} == {"database_sizes", "ping"}


def test_check_mode_reads_the_same(cluster, long_query, run):
    args = stats_args(cluster, gather=["long_queries", "database_sizes"], long_query_seconds=0.5)
    checked = run(postgres_stats_info, args, check=True)
    applied = run(postgres_stats_info, args)

    assert checked["changed"] is False
    assert [size["name"] for size in checked["database_sizes"]] == [size["name"] for size in applied["database_sizes"]]
    [checked_query] = by_pid(checked["long_queries"], long_query)
    [applied_query] = by_pid(applied["long_queries"], long_query)
    assert checked_query["query"] == applied_query["query"]


def test_a_role_without_privileges_reads_what_it_may_see(cluster, long_query, run):
    result = run(postgres_stats_info, stats_args(cluster, user=WATCHER, password=WATCHER_PASSWORD,
                                                 long_query_seconds=0.5))

    assert "failed" not in result
    # The superuser's session is counted, but its state and statement are not shown to this role.
    assert result["connections"]["by_state"].get("hidden", 0) >= 1
    assert result["connections"]["total"] == sum(result["connections"]["by_state"].values())
    assert by_pid(result["long_queries"], long_query) == []
    names = [size["name"] for size in result["database_sizes"]]
    assert "stats_shop" in names and "stats_locked" not in names
    assert WATCHER_PASSWORD not in result["_stdout"]


def test_a_role_with_pg_read_all_stats_sees_every_long_query(cluster, long_query, run):
    cluster.psql(f"GRANT pg_read_all_stats TO {WATCHER}")
    try:
        result = run(postgres_stats_info, stats_args(cluster, user=WATCHER, password=WATCHER_PASSWORD,
                                                     gather=["long_queries"], long_query_seconds=0.5))
    finally:
        cluster.psql(f"REVOKE pg_read_all_stats FROM {WATCHER}")

    assert by_pid(result["long_queries"], long_query)[0]["query"].startswith("SELECT ?, pg_sleep(60)")
    assert SECRET not in result["_stdout"]


def test_a_wrong_password_fails_with_where_but_not_the_password(cluster, run):
    result = run(postgres_stats_info, stats_args(cluster, password="wrong-Password-9"))

    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot connect to runbook@{cluster.host}:{cluster.port}/stats_shop: ")
    assert "password authentication failed" in result["msg"]
    assert "wrong-Password-9" not in result["_stdout"]


def test_the_connection_comes_from_database_url(cluster, run, monkeypatch):
    dsn = f"postgresql://runbook:{PASSWORD}@{cluster.host}:{cluster.port}/stats_shop"
    monkeypatch.setenv("DATABASE_URL", dsn)

    result = run(postgres_stats_info, {"gather": ["ping"]})

    assert result["ping"]["ok"] is True
    assert PASSWORD not in result["_stdout"] and dsn not in result["_stdout"]


def test_a_negative_threshold_is_refused_before_connecting(run):
    result = run(postgres_stats_info, {"host": "127.0.0.1", "port": 9, "long_query_seconds": -1})

    assert result["failed"] is True and result["msg"] == "long_query_seconds must be 0 or more, not -1."


# ----- slow statements, sizes, unused indexes ----------------------------------------------------------

# pg_stat_statements keeps a utility statement's text as it came: only the masking hides its constant.
SLOW_DO = f"DO $$BEGIN PERFORM pg_sleep(0.3); PERFORM '{SECRET}'; END$$"
SLOW_SELECT = "SELECT pg_sleep(0.25), 'x' AS slow_select"
ITEMS = """
CREATE TABLE items (id int PRIMARY KEY, code text, sku text, during tstzrange, note text, kind int);
INSERT INTO items
SELECT n, 'c' || n, 's' || n, tstzrange(now() + n * interval '1 day', now() + (n + 1) * interval '1 day'),
       md5(n::text), n % 10
FROM generate_series(1, 2000) AS n;
ALTER TABLE items ADD CONSTRAINT items_code_key UNIQUE (code);
ALTER TABLE items ADD CONSTRAINT items_during_excl EXCLUDE USING gist (during WITH &&);
CREATE UNIQUE INDEX items_sku_idx ON items (sku);
CREATE INDEX items_note_idx ON items (note);
CREATE INDEX items_kind_idx ON items (kind);
CREATE TABLE documents (id int, body text);
INSERT INTO documents SELECT n, (SELECT string_agg(md5(n::text || k), '') FROM generate_series(1, 200) AS k)
FROM generate_series(1, 40) AS n;
ANALYZE orders;
"""


@pytest.fixture(scope="module")
def statements(cluster):
    """pg_stat_statements in stats_shop, reset, then two slow statements there, a fast one, and a slow one in
    another database."""
    cluster.psql("CREATE EXTENSION pg_stat_statements", database="stats_shop")
    cluster.psql("SELECT pg_stat_statements_reset()", database="stats_shop")
    for statement in (SLOW_DO, SLOW_SELECT, "SELECT 1 AS fast"):
        cluster.psql(statement, database="stats_shop")
    cluster.psql("SELECT pg_sleep(0.3) AS elsewhere")
    return cluster


@pytest.fixture(scope="module")
def items(cluster):
    """Tables with indexes of each kind; since the statistics were reset, a query used items_kind_idx only."""
    cluster.psql(ITEMS, database="stats_shop")
    cluster.psql("SELECT pg_stat_reset()", database="stats_shop")
    cluster.psql("SET enable_seqscan = off; SELECT count(*) FROM items WHERE kind = 3", database="stats_shop")
    # A session's counts reach the shared statistics when it ends, just after psql has returned.
    for _attempt in range(200):
        if cluster.psql("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'items_kind_idx'",
                        database="stats_shop") != "0":
            break
        time.sleep(0.05)
    else:
        pytest.fail("the scan of items_kind_idx was never counted")
    return cluster


def sizes(cluster, function, names):
    """``function``'s answer for each relation, as psql reads it."""
    return {name: int(cluster.psql(f"SELECT {function}('{name}'::regclass)", database="stats_shop")) for name in names}


def test_slow_statements_are_the_slowest_of_this_database_their_literals_masked(statements, run):
    result = run(postgres_stats_info, stats_args(statements, gather=["slow_statements"], slow_statement_ms=200))

    slow = result["slow_statements"]
    assert slow["available"] is True and slow["reason"] is None
    queries = [statement["query"] for statement in slow["statements"]]
    assert queries[:2] == ["DO ?", "SELECT pg_sleep($1), $2 AS slow_select"]
    first, second = slow["statements"][:2]
    assert first["mean_ms"] >= 300 and second["mean_ms"] >= 250 and first["mean_ms"] >= second["mean_ms"]
    assert (first["calls"], first["rows"], first["user"]) == (1, 0, "runbook") and second["rows"] == 1
    assert first["total_ms"] == first["mean_ms"]
    assert not any("fast" in query or "elsewhere" in query for query in queries)
    assert cluster_time(statements, slow["since"]) == statements.psql(
        "SELECT stats_reset FROM pg_stat_statements_info", database="stats_shop")
    assert SECRET not in result["_stdout"] and PASSWORD not in result["_stdout"]


def cluster_time(cluster, moment):
    """An ISO 8601 time as psql shows it, for comparing."""
    return cluster.psql(f"SELECT '{moment}'::timestamptz", database="stats_shop")


def test_slow_statement_top_and_ms_bound_the_list(statements, run):
    top = run(postgres_stats_info, stats_args(statements, gather=["slow_statements"], slow_statement_ms=200,
                                              slow_statement_top=1))
    slower = run(postgres_stats_info, stats_args(statements, gather=["slow_statements"]))

    assert [statement["query"] for statement in top["slow_statements"]["statements"]] == ["DO ?"]
    # The default, a second on average, is more than any of them took.
    assert slower["slow_statements"]["available"] is True and slower["slow_statements"]["statements"] == []


def test_without_pg_stat_statements_the_reason_is_given_and_the_task_does_not_fail(statements, run):
    result = run(postgres_stats_info, stats_args(statements, database="stats_locked",
                                                 gather=["slow_statements", "ping"]))

    assert "failed" not in result and result["ping"]["ok"] is True
    assert result["slow_statements"] == {
        "available": False, "since": None, "statements": [],
        "reason": "the extension pg_stat_statements is not installed in the database stats_locked: run CREATE "
                  "EXTENSION pg_stat_statements there (the server must load its library, through "
                  "shared_preload_libraries, which takes a restart)"}


def test_table_sizes_are_the_largest_tables_with_their_parts(items, run):
    result = run(postgres_stats_info, stats_args(items, gather=["table_sizes"], size_top=3))

    tables = result["table_sizes"]["tables"]
    names = [table["table"] for table in tables]
    totals = sizes(items, "pg_total_relation_size", names)
    assert [table["total_bytes"] for table in tables] == [totals[name] for name in names]
    assert len(tables) == 3 and sorted(totals.values(), reverse=True) == list(totals.values())
    everything = sizes(items, "pg_total_relation_size", ["orders", "items", "documents"])
    assert max(everything.values()) == tables[0]["total_bytes"]
    for table in tables:
        assert table["total_bytes"] == table["table_bytes"] + table["index_bytes"] + table["toast_bytes"]
        assert table["index_bytes"] == sizes(items, "pg_indexes_size", [table["table"]])[table["table"]]
    by_name = {table["table"]: table for table in tables}
    assert by_name["public.orders"]["estimated_rows"] == 5000 and by_name["public.orders"]["index_bytes"] == 0
    # Never analyzed: PostgreSQL has no estimate yet.
    assert by_name["public.documents"]["toast_bytes"] > 0 and by_name["public.documents"]["estimated_rows"] is None
    assert result["table_sizes"]["database_bytes"] >= sum(totals.values())


def test_index_sizes_are_the_largest_indexes(items, run):
    every = run(postgres_stats_info, stats_args(items, gather=["index_sizes"], size_top=50))["index_sizes"]
    top = run(postgres_stats_info, stats_args(items, gather=["index_sizes"], size_top=2))["index_sizes"]

    expected = sizes(items, "pg_relation_size", ["items_pkey", "items_code_key", "items_during_excl", "items_sku_idx",
                                                 "items_note_idx", "items_kind_idx"])
    assert {index["index"]: index["bytes"] for index in every} == {f"public.{name}": size
                                                                   for name, size in expected.items()}
    assert [index["bytes"] for index in every] == sorted(expected.values(), reverse=True)
    assert all(index["table"] == "public.items" for index in every)
    assert {index["index"]: index["scans"] for index in every} == {f"public.{name}": int(name == "items_kind_idx")
                                                                   for name in expected}
    assert top == every[:2]


def test_unused_indexes_leave_out_those_that_enforce_a_constraint(items, run):
    result = run(postgres_stats_info, stats_args(items, gather=["unused_indexes"]))

    unused = result["unused_indexes"]
    assert [index["index"] for index in unused["indexes"]] == ["public.items_note_idx"]
    assert unused["indexes"][0] == {"index": "public.items_note_idx", "table": "public.items",
                                    "bytes": sizes(items, "pg_relation_size", ["items_note_idx"])["items_note_idx"]}
    assert cluster_time(items, unused["since"]) == items.psql(
        "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()", database="stats_shop")


@pytest.mark.parametrize("option, value, message", [
    ("slow_statement_ms", -5, "slow_statement_ms must be 0 or more, not -5."),
    ("slow_statement_top", 0, "slow_statement_top must be 1 or more, not 0."),
    ("size_top", -1, "size_top must be 1 or more, not -1."),
])
def test_bad_bounds_are_refused_before_connecting(run, option, value, message):
    result = run(postgres_stats_info, {"host": "127.0.0.1", "port": 9, option: value})

    assert result["failed"] is True and result["msg"] == message


# ----- masking ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sql, shown", [
    ("SELECT 'secret-text', pg_sleep(5)", "SELECT ?, pg_sleep(5)"),
    ("ALTER ROLE app PASSWORD 'hunter2' VALID UNTIL '2027-01-01'", "ALTER ROLE app PASSWORD ? VALID UNTIL ?"),
    ("SELECT 'it''s secret', 2", "SELECT ?, 2"),
    # An escape string: the backslash hides a quote whatever the session's settings.
    ("SELECT E'a\\'secret', 1", "SELECT ?, 1"),
    ("SELECT U&'d\\0061t\\+000061', B'1010', X'1F', N'nat', e'x'", "SELECT ?, ?, ?, ?, ?"),
    ("DO $$BEGIN PERFORM 'x'; END$$", "DO ?"),
    ("SELECT $fn$ secret $fn$, $1, a$b$ FROM t", "SELECT ?, $1, a$b$ FROM t"),
    ('SELECT "it\'s" FROM t WHERE x = \'pw\'', 'SELECT "it\'s" FROM t WHERE x = ?'),
    ("SELECT 1 -- don't\nFROM t WHERE a = 'pw'", "SELECT 1 -- don't\nFROM t WHERE a = ?"),
    ("/* a /* 'b' */ c */ SELECT 'pw'", "/* a /* 'b' */ c */ SELECT ?"),
    # Cut short by track_activity_query_size: the open constant runs to the end.
    ("INSERT INTO t VALUES ('secret cut sh", "INSERT INTO t VALUES (?"),
    ("SELECT 1", "SELECT 1"),
])
def test_string_constants_are_masked(sql, shown):
    assert mask_literals(sql) == shown


@pytest.mark.parametrize("sql", [
    # Sent with standard_conforming_strings off, the backslash escapes the quote: 'a\'b' and 'pw'.
    "SELECT 'a\\'b', 'pw'",
    # Sent with it on (the default), the backslash is a character: 'C:\' and 'pw'.
    "SELECT 'C:\\', 'pw'",
])
def test_a_backslash_cannot_let_a_constant_out_whatever_the_session_sent_it_with(sql):
    shown = mask_literals(sql)

    assert "pw" not in shown and "b'" not in shown and shown.startswith("SELECT ?")


# ----- numbers of your own: queries ----------------------------------------------------------------

@pytest.fixture(scope="module")
def visits(cluster):
    """Seven visits by three users."""
    cluster.psql("CREATE TABLE metric_visits (user_id int, seen timestamptz DEFAULT now());"
                 "INSERT INTO metric_visits (user_id) VALUES (1), (1), (2), (3), (3), (3), (2)", database="stats_shop")
    return cluster


def where(cluster):
    return f"runbook@{cluster.host}:{cluster.port}/stats_shop"


def visit_count(cluster):
    return cluster.psql("SELECT count(*) FROM metric_visits", database="stats_shop")


def test_queries_return_their_numbers_under_their_names(visits, run):
    queries = {
        "active_users": "SELECT count(DISTINCT user_id) FROM metric_visits",
        "visits_per_user": "SELECT round(count(*)::numeric / count(DISTINCT user_id), 2) FROM metric_visits",
        "user_id_sum": "SELECT sum(user_id) FROM metric_visits;",
        "half": "SELECT 0.5::float8",
        "_none_yet": "SELECT max(user_id) FROM metric_visits WHERE user_id > 100",
    }

    result = run(postgres_stats_info, stats_args(visits, gather=["queries", "ping"], queries=queries))

    assert result["queries"] == {"active_users": 3, "visits_per_user": 2.33, "user_id_sum": 15, "half": 0.5,
                                 "_none_yet": None}
    assert list(result["queries"]) == list(queries)
    assert isinstance(result["queries"]["user_id_sum"], int) and isinstance(result["queries"]["half"], float)
    # The connection is left usable for the parts after it.
    assert result["ping"]["ok"] is True and result["changed"] is False
    assert PASSWORD not in result["_stdout"]


@pytest.mark.parametrize("query", [
    "WITH added AS (INSERT INTO metric_visits (user_id) VALUES (99) RETURNING 1) SELECT count(*) FROM added",
    "SELECT count(*) FROM (SELECT nextval('metric_sequence')) AS taken",
])
def test_a_query_that_writes_is_refused_by_the_server_and_changes_nothing(visits, run, query):
    visits.psql("CREATE SEQUENCE IF NOT EXISTS metric_sequence", database="stats_shop")

    result = run(postgres_stats_info, stats_args(visits, gather=["queries"], queries={"sneaky": query}))

    assert result["failed"] is True
    assert result["msg"].startswith(f"The query sneaky tried to write on {where(visits)}; queries run read-only, so "
                                    "nothing was changed (cannot execute ")
    assert result["msg"].endswith(" in a read-only transaction).")
    assert visit_count(visits) == "7"
    assert visits.psql("SELECT last_value, is_called FROM metric_sequence", database="stats_shop") == "1|f"
    assert PASSWORD not in result["_stdout"]


def test_a_query_cannot_make_the_next_one_read_write(visits, run):
    queries = {
        "loosen": "SELECT length(set_config('default_transaction_read_only', 'off', false))",
        "sneaky": "WITH added AS (INSERT INTO metric_visits (user_id) VALUES (99) RETURNING 1) "
                  "SELECT count(*) FROM added",
    }

    result = run(postgres_stats_info, stats_args(visits, gather=["queries"], queries=queries))

    assert result["failed"] is True and result["msg"].startswith("The query sneaky tried to write on ")
    assert visit_count(visits) == "7"


@pytest.mark.parametrize("query, message", [
    ("SELECT user_id FROM metric_visits",
     "The query bad returned more than one row on {where}; it must return exactly one row with one column, a number "
     "or NULL: use an aggregate such as count(*) or max(...)."),
    ("SELECT 1 WHERE false",
     "The query bad returned no row on {where}; it must return exactly one row with one column, a number or NULL: "
     "use an aggregate such as count(*) or max(...)."),
    ("SELECT 'many'::text",
     "The query bad returns a column that is not a number on {where}; it must return exactly one row with one "
     "column, a number or NULL (cast it, for example count(*)::bigint or value::numeric)."),
    # A NULL of another type is refused too: the column's type decides, not one row's value.
    ("SELECT NULL::text", "The query bad returns a column that is not a number on {where}; "),
    ("SELECT 1, 2", "The query bad returns 2 columns on {where}; it must return exactly one row with one column, a "
                    "number or NULL."),
    ("SET work_mem = '8MB'", "The query bad returned no rows at all on {where}; it must be a SELECT that returns "
                             "exactly one row with one column, a number or NULL."),
    ("SELECT 'NaN'::numeric", "The query bad returned nan on {where}, which JSON cannot carry; it must return a "
                              "finite number or NULL."),
    ("SELECT count(*) FROM no_such_table", 'The query bad failed on {where}: relation "no_such_table" does not exist.'),
])
def test_a_query_of_the_wrong_shape_fails_naming_it(visits, run, query, message):
    result = run(postgres_stats_info, stats_args(visits, gather=["queries"],
                                                 queries={"fine": "SELECT 1", "bad": query}))

    assert result["failed"] is True and result["msg"].startswith(message.format(where=where(visits)))
    # PostgreSQL's reason without its quote of the query (LINE 1: ...).
    assert "LINE 1" not in result["msg"] and PASSWORD not in result["_stdout"]


def test_a_slow_query_is_canceled_after_query_timeout(visits, run):
    result = run(postgres_stats_info, stats_args(visits, gather=["queries"], query_timeout=0.2,
                                                 queries={"slow": "SELECT count(*) FROM pg_sleep(30)"}))

    assert result["failed"] is True
    assert result["msg"] == (f"The query slow ran longer than query_timeout (0.2 s) on {where(visits)} and was "
                             "canceled (canceling statement due to statement timeout).")


def test_the_timeout_is_each_querys_own_and_not_left_on_the_session(visits, run):
    queries = {"quick": "SELECT 1", "slower": "SELECT count(*) FROM pg_sleep(0.3)"}

    result = run(postgres_stats_info, stats_args(visits, gather=["queries", "connections"], query_timeout=1,
                                                 queries=queries))

    assert result["queries"] == {"quick": 1, "slower": 1}
    assert result["connections"]["total"] >= 1


@pytest.mark.parametrize("name", ["Active_users", "1st", "active-users", "", "with space", "ünicode"])
def test_a_query_name_that_is_not_an_identifier_is_refused_before_connecting(run, name):
    result = run(postgres_stats_info, {"host": "127.0.0.1", "port": 9, "gather": ["queries"],
                                       "queries": {name: "SELECT 1"}})

    assert result["failed"] is True
    assert result["msg"] == (f"The query name {name!r} is not an identifier: use lower-case letters, digits and "
                             "underscores, not starting with a digit. Nothing was run.")


@pytest.mark.parametrize("options, message", [
    ({"queries": {"two": "SELECT 1; DELETE FROM metric_visits"}},
     "The query two holds more than one statement; give one. Nothing was run."),
    ({"queries": {"empty": " ; "}}, "The query empty is empty; give it one SQL statement. Nothing was run."),
    ({"queries": {}}, "gather names queries, but the option queries is empty: give it a name and a SQL query for "
                      "each number to read."),
    ({"queries": {"one": "SELECT 1"}, "query_timeout": 0},
     "query_timeout must be more than 0 and at most 86400 seconds, not 0."),
    ({"queries": {"one": "SELECT 1"}, "gather": ["ping"]},
     "queries is set, but gather does not name queries; add queries to gather."),
])
def test_bad_queries_options_are_refused_before_connecting(run, options, message):
    result = run(postgres_stats_info, {"host": "127.0.0.1", "port": 9, "gather": ["queries"], **options})

    assert result["failed"] is True and result["msg"] == message


def test_check_mode_runs_the_queries_the_same(visits, run):
    args = stats_args(visits, gather=["queries"], queries={"active_users": "SELECT count(DISTINCT user_id) "
                                                                           "FROM metric_visits"})

    assert run(postgres_stats_info, args, check=True)["queries"] == {"active_users": 3}
