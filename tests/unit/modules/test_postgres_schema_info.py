"""postgres_schema_info against a real throwaway cluster, and the counting of a query's statements."""
import pytest

from ansible_collections.runbook.ops.plugins.module_utils._postgres import statement_count
from ansible_collections.runbook.ops.plugins.modules import postgres_schema_info
from tests.postgres_cluster import PASSWORD

DATABASE = "schema_shop"
READER, READER_PASSWORD = "schema_reader", "reader-Pw-81d2e4"
LATEST = "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1"
VERSIONS = ["20261101000000", "20261115093000", "20261201120000"]


@pytest.fixture(scope="module")
def cluster(postgres):
    """A database with Rails-like schema_migrations, a sequence, and a role that may only read the table."""
    postgres.psql(f"CREATE DATABASE {DATABASE}")
    postgres.psql("CREATE TABLE schema_migrations (version varchar PRIMARY KEY); "
                  f"INSERT INTO schema_migrations VALUES {', '.join(f'({v!r})' for v in VERSIONS)}; "
                  "CREATE SEQUENCE deploys; "
                  f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'; "
                  f"GRANT SELECT ON schema_migrations TO {READER}", database=DATABASE)
    yield postgres
    postgres.psql(f"DROP DATABASE {DATABASE}")
    postgres.psql(f"DROP ROLE {READER}")


def schema_args(cluster, query=LATEST, user="runbook", password=PASSWORD, **options):
    return {"host": cluster.host, "port": cluster.port, "user": user, "password": password, "database": DATABASE,
            "query": query, **options}


def migrations(cluster):
    return cluster.psql("SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations",
                        database=DATABASE).split(",")


def where(cluster, user="runbook"):
    return f"{user}@{cluster.host}:{cluster.port}/{DATABASE}"


def test_reads_the_newest_version(cluster, run):
    result = run(postgres_schema_info, schema_args(cluster))

    assert result["changed"] is False and "failed" not in result
    assert result["version"] == VERSIONS[-1]
    assert PASSWORD not in result["_stdout"]


def test_a_role_that_may_only_read_the_table_is_enough(cluster, run):
    result = run(postgres_schema_info, schema_args(cluster, "SELECT max(version) FROM schema_migrations;",
                                                   user=READER, password=READER_PASSWORD))

    assert result["version"] == VERSIONS[-1]
    assert READER_PASSWORD not in result["_stdout"]


@pytest.mark.parametrize("query, version", [
    ("SELECT 42", "42"),
    ("SELECT 20261201120000::bigint", "20261201120000"),
    ("SELECT 3.10::numeric", "3.10"),
    ("SELECT timestamptz '2026-12-01 12:00:00+00'", "2026-12-01T12:00:00+00:00"),
    ("SELECT date '2026-12-01'", "2026-12-01"),
    ("SELECT 'v;2' /* a ; in a comment */ -- and ; here", "v;2"),
    ("SELECT version FROM schema_migrations WHERE false", None),
    ("SELECT max(version) FROM schema_migrations WHERE false", None),
])
def test_the_version_is_text_or_null(cluster, run, query, version):
    assert run(postgres_schema_info, schema_args(cluster, query))["version"] == version


def test_check_mode_reads_the_same(cluster, run):
    checked = run(postgres_schema_info, schema_args(cluster), check=True)

    assert checked["changed"] is False and checked["version"] == VERSIONS[-1]


@pytest.mark.parametrize("query", [
    "INSERT INTO schema_migrations VALUES ('20991231000000') RETURNING version",
    "WITH gone AS (DELETE FROM schema_migrations RETURNING version) SELECT max(version) FROM gone",
    "SELECT nextval('deploys')",
])
def test_a_query_that_writes_fails_and_changes_nothing(cluster, run, query):
    before = cluster.psql("SELECT last_value FROM deploys", database=DATABASE)

    result = run(postgres_schema_info, schema_args(cluster, query))

    assert result["failed"] is True
    assert result["msg"].startswith(f"The schema version query tried to write on {where(cluster)}; it runs "
                                    "read-only, so nothing was changed (")
    assert "read-only transaction" in result["msg"]
    assert migrations(cluster) == VERSIONS
    assert cluster.psql("SELECT last_value FROM deploys", database=DATABASE) == before
    assert PASSWORD not in result["_stdout"]


@pytest.mark.parametrize("query", [
    "COMMIT; INSERT INTO schema_migrations VALUES ('20991231000000')",
    "SELECT 1; DELETE FROM schema_migrations",
    "SELECT $$;$$; DELETE FROM schema_migrations",
])
def test_several_statements_are_refused_before_connecting(run, query):
    # Port 9: nothing listens there, so a connection attempt would fail otherwise.
    result = run(postgres_schema_info, {"host": "127.0.0.1", "port": 9, "query": query})

    assert result["failed"] is True and result["msg"].startswith("query holds more than one statement;")


def test_a_missing_table_names_the_problem_and_the_database(cluster, run):
    result = run(postgres_schema_info, schema_args(cluster, "SELECT version FROM flyway_schema_history"))

    assert result["failed"] is True
    assert result["msg"].startswith(f"The schema version query failed on {where(cluster)}: "
                                    'relation "flyway_schema_history" does not exist')
    assert result["msg"].endswith("Check that the query names a table of this database, and that the migrations "
                                  "have run there.")
    assert PASSWORD not in result["_stdout"]


def test_a_table_the_role_may_not_read_fails_naming_the_role(cluster, run):
    cluster.psql("CREATE TABLE secrets_kept (v text)", database=DATABASE)
    try:
        result = run(postgres_schema_info, schema_args(cluster, "SELECT v FROM secrets_kept", user=READER,
                                                       password=READER_PASSWORD))
    finally:
        cluster.psql("DROP TABLE secrets_kept", database=DATABASE)

    assert result["failed"] is True
    assert result["msg"].startswith(f"The schema version query failed on {where(cluster, READER)}: "
                                    "permission denied for table secrets_kept")
    assert READER_PASSWORD not in result["_stdout"]


def test_more_than_one_column_fails(cluster, run):
    result = run(postgres_schema_info, schema_args(cluster, "SELECT version, 1 AS extra FROM schema_migrations"))

    assert result["failed"] is True
    assert result["msg"] == (f"The schema version query returns 2 columns (version, extra) on {where(cluster)}; "
                             "it must return one, the version.")


def test_more_than_one_row_fails_rather_than_pick_one(cluster, run):
    result = run(postgres_schema_info, schema_args(cluster, "SELECT version FROM schema_migrations"))

    assert result["failed"] is True
    assert result["msg"].startswith(f"The schema version query returned more than one row on {where(cluster)};")
    assert "ORDER BY ... DESC LIMIT 1" in result["msg"]


def test_a_statement_returning_no_rows_fails(cluster, run):
    result = run(postgres_schema_info, schema_args(cluster, "SET search_path TO public"))

    assert result["failed"] is True
    assert result["msg"].startswith(f"The schema version query returned no rows at all on {where(cluster)};")


def test_a_slow_query_is_canceled_after_the_statement_timeout(cluster, run):
    result = run(postgres_schema_info, schema_args(cluster, "SELECT pg_sleep(30)::text", statement_timeout=0.2))

    assert result["failed"] is True
    assert result["msg"].startswith(f"The schema version query ran longer than statement_timeout (0.2 s) on "
                                    f"{where(cluster)} and was canceled (")


def test_the_connection_comes_from_database_url(cluster, run, monkeypatch):
    dsn = f"postgresql://runbook:{PASSWORD}@{cluster.host}:{cluster.port}/{DATABASE}"
    monkeypatch.setenv("DATABASE_URL", dsn)

    result = run(postgres_schema_info, {"query": LATEST})

    assert result["version"] == VERSIONS[-1]
    assert PASSWORD not in result["_stdout"] and dsn not in result["_stdout"]


def test_a_wrong_password_fails_with_where_but_not_the_password(cluster, run):
    result = run(postgres_schema_info, schema_args(cluster, password="wrong-Password-5"))

    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot connect to {where(cluster)}: ")
    assert "wrong-Password-5" not in result["_stdout"]


@pytest.mark.parametrize("options, message", [
    ({"query": "  ;  "}, "query must not be empty."),
    ({"query": LATEST, "statement_timeout": 0}, "statement_timeout must be more than 0 and at most 86400 seconds, "
                                                "not 0."),
])
def test_bad_options_are_refused_before_connecting(run, options, message):
    result = run(postgres_schema_info, {"host": "127.0.0.1", "port": 9, **options})

    assert result["failed"] is True and result["msg"] == message


# ----- counting statements ------------------------------------------------------------------------

@pytest.mark.parametrize("sql, count", [
    ("SELECT 1", 1),
    ("SELECT 1;", 1),
    ("SELECT 1 ;  \n -- done\n", 1),
    ("SELECT 1; SELECT 2", 2),
    ("COMMIT; INSERT INTO t VALUES (1)", 2),
    ("SELECT ';'", 1),
    ("SELECT 'it''s; fine'", 1),
    ('SELECT "odd;name" FROM t', 1),
    ("SELECT 1 -- a; b\n", 1),
    ("SELECT 1 /* a; /* nested; */ still; */", 1),
    ("SELECT $$;$$, $tag$ ; $$ ; $tag$", 1),
    ("SELECT a$b$ FROM t; DELETE FROM t", 2),
    ("SELECT $1; DELETE FROM t", 2),
    ("SELECT E'\\';', 1", 1),
    # One statement as read with standard_conforming_strings on, three with it off: the larger count is taken.
    ("SELECT 'a\\', '; DELETE FROM t; SELECT '", 3),
    (";;", 0),
    ("", 0),
])
def test_statement_count(sql, count):
    assert statement_count(sql) == count
