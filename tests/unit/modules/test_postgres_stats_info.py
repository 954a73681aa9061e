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
    result = run(postgres_stats_info, stats_args(cluster, gather=["database_sizes", "ping"]))

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
