"""postgres_maintenance against a real throwaway cluster: what ANALYZE, VACUUM and REINDEX leave behind."""
import itertools
import subprocess

import psycopg2
import pytest

from ansible_collections.runbook.ops.plugins.module_utils._maintenance import Table, reason_to_skip
from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError
from ansible_collections.runbook.ops.plugins.modules import postgres_maintenance
from tests.postgres_cluster import PASSWORD

CLERK, CLERK_PASSWORD = "maintenance_clerk", "clerk-Pw-8d2e61"
EVERY_TABLE = {"public.orders", "public.customers", "billing.invoices", "public.events"}
# Autovacuum must not analyze or vacuum behind the tests' backs.
SHOP = """
CREATE TABLE orders (id int PRIMARY KEY, note text) WITH (autovacuum_enabled = false);
INSERT INTO orders SELECT n, 'order ' || n FROM generate_series(1, 2000) AS n;
CREATE INDEX orders_note_idx ON orders (note);
CREATE TABLE customers (id int PRIMARY KEY, name text) WITH (autovacuum_enabled = false);
INSERT INTO customers SELECT n, 'customer ' || n FROM generate_series(1, 500) AS n;
CREATE SCHEMA billing;
-- Without a column that could be TOASTed, it has no TOAST table and so no index at all.
CREATE TABLE billing.invoices (id int, total_cents bigint) WITH (autovacuum_enabled = false);
INSERT INTO billing.invoices SELECT n, n * 150 FROM generate_series(1, 300) AS n;
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
    WITH (autovacuum_enabled = false);
INSERT INTO events SELECT n, date '2026-01-01' + n % 300 FROM generate_series(1, 1000) AS n;
"""
databases = itertools.count()


class Shop:
    """A database of its own for one test, and what the catalog says about its tables."""

    def __init__(self, cluster, name):
        self.cluster, self.name = cluster, name

    def sql(self, statement):
        return self.cluster.psql(statement, database=self.name)

    def last(self, table, column):
        """``last_analyze``, ``last_vacuum``... of the table, '' when never."""
        return self.sql(f"SELECT {column} FROM pg_stat_user_tables WHERE relid = '{table}'::regclass")

    def index(self, name):
        """(oid, relfilenode) of the index."""
        oid, relfilenode = self.sql(f"SELECT oid, relfilenode FROM pg_class WHERE oid = '{name}'::regclass").split("|")
        return int(oid), int(relfilenode)

    def args(self, user="runbook", password=PASSWORD, **options):
        return {"host": self.cluster.host, "port": self.cluster.port, "user": user, "password": password,
                "database": self.name, **options}


@pytest.fixture
def shop(postgres):
    name = f"maintenance_{next(databases)}"
    postgres.psql(f"CREATE DATABASE {name}")
    shop = Shop(postgres, name)
    shop.sql(SHOP)
    yield shop
    postgres.psql(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def clerk(shop):
    """A role that owns nothing, in the shop's cluster."""
    shop.cluster.psql(f"CREATE ROLE {CLERK} LOGIN PASSWORD '{CLERK_PASSWORD}'")
    yield CLERK
    shop.sql(f"REASSIGN OWNED BY {CLERK} TO runbook")
    shop.cluster.psql(f"DROP ROLE {CLERK}")


def ran(result):
    return [(step["operation"], step["table"]) for step in result["steps"] if step["skipped"] is None]


def warnings(result):
    """The warnings' texts, whether ansible-core gives them as strings or as structured events."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def test_analyze_sets_last_analyze_of_the_tables_named_only(shop, run):
    result = run(postgres_maintenance, shop.args(operations=["analyze"], tables=["orders", "billing.invoices"]))

    assert result["changed"] is True and "failed" not in result
    assert ran(result) == [("analyze", "public.orders"), ("analyze", "billing.invoices")]
    assert all(step["seconds"] >= 0 for step in result["steps"])
    assert shop.last("orders", "last_analyze") and shop.last("billing.invoices", "last_analyze")
    assert shop.last("customers", "last_analyze") == ""
    assert result["invalid_indexes"] == []
    assert result["server_version"] == shop.sql("SHOW server_version").split()[0]
    assert result["duration"] >= sum(step["seconds"] for step in result["steps"])
    assert PASSWORD not in result["_stdout"]


def test_without_tables_every_table_but_the_systems_is_done_and_a_partitioned_one_covers_its_partitions(shop, run):
    result = run(postgres_maintenance, shop.args(operations=["vacuum_analyze"]))

    assert {table for operation, table in ran(result)} == EVERY_TABLE
    assert len(result["steps"]) == len(EVERY_TABLE)
    for table in ("orders", "customers", "billing.invoices", "events_2026"):
        assert shop.last(table, "last_vacuum") and shop.last(table, "last_analyze")


def test_reindex_concurrently_swaps_in_new_indexes(shop, run):
    pkey, note = shop.index("orders_pkey"), shop.index("orders_note_idx")

    result = run(postgres_maintenance, shop.args(operations=["reindex"], tables=["orders"]))

    assert ran(result) == [("reindex", "public.orders")]
    assert "REINDEX TABLE CONCURRENTLY on 1 table(s)" in result["msg"]
    # CONCURRENTLY builds a new index and gives it the old one's name.
    for name, before in (("orders_pkey", pkey), ("orders_note_idx", note)):
        oid, relfilenode = shop.index(name)
        assert oid != before[0] and relfilenode != before[1]
    assert result["invalid_indexes"] == []


def test_reindex_never_concurrently_rebuilds_the_same_indexes(shop, run):
    oid, relfilenode = shop.index("orders_note_idx")

    result = run(postgres_maintenance, shop.args(operations=["reindex"], tables=["orders"], concurrently="never"))

    assert "REINDEX TABLE on 1 table(s)" in result["msg"]
    assert shop.index("orders_note_idx")[0] == oid and shop.index("orders_note_idx")[1] != relfilenode


def test_reindex_passes_over_a_table_without_an_index(shop, run):
    result = run(postgres_maintenance, shop.args(operations=["reindex"], tables=["billing.invoices", "customers"]))

    assert result["steps"][0] == {"operation": "reindex", "table": "billing.invoices", "seconds": None,
                                  "skipped": "it has no index"}
    assert ran(result) == [("reindex", "public.customers")]


def test_the_operations_run_in_the_order_given_each_once(shop, run):
    result = run(postgres_maintenance, shop.args(operations=["reindex", "analyze", "reindex"],
                                                 tables=["customers", "orders"]))

    assert ran(result) == [("reindex", "public.customers"), ("reindex", "public.orders"),
                           ("analyze", "public.customers"), ("analyze", "public.orders")]


def test_check_mode_says_what_would_run_and_runs_nothing(shop, run):
    note = shop.index("orders_note_idx")

    result = run(postgres_maintenance, shop.args(operations=["vacuum_analyze", "reindex"], tables=["orders"]),
                 check=True)

    assert result["changed"] is True
    assert result["steps"] == [
        {"operation": "vacuum_analyze", "table": "public.orders", "seconds": None, "skipped": None},
        {"operation": "reindex", "table": "public.orders", "seconds": None, "skipped": None}]
    assert result["msg"] == ("Would run VACUUM (ANALYZE) on 1 table(s), REINDEX TABLE CONCURRENTLY on 1 table(s). "
                             "Nothing was run.")
    assert shop.last("orders", "last_vacuum") == shop.last("orders", "last_analyze") == ""
    assert shop.index("orders_note_idx") == note


def test_min_interval_hours_passes_over_fresh_tables_and_a_second_run_changes_nothing(shop, run):
    args = shop.args(operations=["analyze", "vacuum_analyze"], min_interval_hours=1)
    first = run(postgres_maintenance, args)
    analyzed = shop.last("orders", "last_analyze")

    second = run(postgres_maintenance, args)

    assert first["changed"] is True and len(ran(first)) == 2 * len(EVERY_TABLE)
    # The VACUUM (ANALYZE) of the first run came after its own ANALYZE: it did not pass over the tables.
    assert second["changed"] is False and ran(second) == []
    assert second["steps"][0]["skipped"].startswith("analyzed ") and "within min_interval_hours (1)" in \
        second["steps"][0]["skipped"]
    assert all(step["seconds"] is None for step in second["steps"])
    # The partitioned table counts as vacuumed, since its partition was.
    events = [step for step in second["steps"] if step["table"] == "public.events"]
    assert [step["skipped"] is not None for step in events] == [True, True]
    assert shop.last("orders", "last_analyze") == analyzed


def test_min_interval_hours_does_not_pass_over_a_table_never_analyzed(shop, run):
    shop.sql("ANALYZE customers")

    result = run(postgres_maintenance, shop.args(operations=["analyze"], tables=["customers", "orders"],
                                                 min_interval_hours=1))

    assert ran(result) == [("analyze", "public.orders")]


def table(analyzed_hours=None, vacuumed_hours=None):
    return Table("public", "orders", "r", False, True, True, True, True, analyzed_hours, vacuumed_hours)


@pytest.mark.parametrize("operation, analyzed, vacuumed, skipped", [
    ("analyze", 2.0, None, None),
    ("analyze", 0.5, None, "analyzed 30 min ago, within min_interval_hours (1)"),
    ("vacuum_analyze", 0.5, None, None),
    ("vacuum_analyze", 0.5, 2.5, None),
    ("vacuum_analyze", 0.25, 0.75, "vacuumed 45 min and analyzed 15 min ago, within min_interval_hours (1)"),
])
def test_min_interval_hours_reads_the_last_analyze_and_vacuum(operation, analyzed, vacuumed, skipped):
    assert reason_to_skip(operation, table(analyzed, vacuumed), 1, set(), 150018) == skipped


def test_without_min_interval_hours_a_fresh_table_is_done_again():
    assert reason_to_skip("analyze", table(0.01, 0.01), 0, set(), 150018) is None


def test_an_analyze_earlier_in_the_run_counts_for_min_interval_hours(shop, run):
    shop.sql("VACUUM orders")

    result = run(postgres_maintenance, shop.args(operations=["vacuum_analyze", "analyze"], tables=["orders"],
                                                 min_interval_hours=1))

    assert ran(result) == [("vacuum_analyze", "public.orders")]
    assert result["steps"][1]["skipped"] == "analyzed earlier in this run"


def test_reindex_always_runs_whatever_min_interval_hours_says(shop, run):
    args = shop.args(operations=["reindex"], tables=["customers"], min_interval_hours=24)
    run(postgres_maintenance, args)

    result = run(postgres_maintenance, args)

    assert result["changed"] is True and ran(result) == [("reindex", "public.customers")]


def test_unknown_tables_fail_before_any_step_all_of_them_named(shop, run):
    result = run(postgres_maintenance, shop.args(operations=["analyze"],
                                                 tables=["orders", "ghost", "billing.orders", "invoices"]))

    assert result["failed"] is True and "steps" not in result
    assert result["msg"] == (f"Not tables of runbook@{shop.cluster.host}:{shop.cluster.port}/{shop.name}: ghost, "
                             "billing.orders, invoices. Name each in tables as table (found through the search path) "
                             "or schema.table, spelt as in the catalog. Nothing was run.")
    assert shop.last("orders", "last_analyze") == ""


def test_check_mode_fails_on_unknown_tables_too(shop, run):
    result = run(postgres_maintenance, shop.args(operations=["analyze"], tables=["ghost"]), check=True)

    assert result["failed"] is True and "ghost" in result["msg"]


def test_a_lock_timeout_names_the_table_and_the_holder_and_keeps_the_steps_done(shop, run):
    holder = psycopg2.connect(host=shop.cluster.host, port=shop.cluster.port, user="runbook", password=PASSWORD,
                              dbname=shop.name, application_name="migration")
    try:
        holder_pid = holder.get_backend_pid()
        with holder.cursor() as cursor:
            cursor.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        result = run(postgres_maintenance, shop.args(operations=["analyze"], lock_timeout=0.2,
                                                     tables=["orders", "customers", "billing.invoices"]))
    finally:
        holder.rollback()
        holder.close()

    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith("ANALYZE of public.customers waited more than lock_timeout (0.2 s) for a lock and "
                                    "was stopped (canceling statement due to lock timeout).")
    assert f"pid {holder_pid} (migration, idle in transaction)" in result["msg"]
    assert "The 1 step(s) before it are in steps." in result["msg"]
    assert ran(result) == [("analyze", "public.orders")] and len(result["steps"]) == 1
    assert shop.last("orders", "last_analyze") and shop.last("billing.invoices", "last_analyze") == ""
    assert PASSWORD not in result["_stdout"]


def test_an_invalid_index_is_reported_and_left_in_place(shop, run):
    # What an interrupted REINDEX CONCURRENTLY leaves behind: an index marked invalid.
    with pytest.raises(subprocess.CalledProcessError) as failed:
        shop.sql("CREATE INDEX CONCURRENTLY orders_note_idx_ccnew ON orders ((1 / (id - 3)))")
    assert "division by zero" in failed.value.stderr

    result = run(postgres_maintenance, shop.args(operations=["analyze"], tables=["customers"]), own_process=True)

    assert result["invalid_indexes"] == ["public.orders_note_idx_ccnew"]
    assert warnings(result)[0].startswith("Indexes left invalid: public.orders_note_idx_ccnew. Drop each with DROP "
                                          "INDEX CONCURRENTLY")
    assert shop.sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'orders_note_idx_ccnew'::regclass") == "f"


def test_a_role_that_may_not_maintain_a_table_passes_it_over_with_a_warning(shop, clerk, run):
    result = run(postgres_maintenance, shop.args(user=clerk, password=CLERK_PASSWORD, operations=["analyze", "reindex"],
                                                 tables=["orders"]), own_process=True)

    assert result["changed"] is False and ran(result) == []
    assert [step["skipped"] for step in result["steps"]] == [
        "this role may not analyze it: only its owner, the database's owner or a superuser may",
        "this role may not reindex it: only its owner or a superuser may"]
    assert warnings(result) == ["This role may not maintain 1 table(s), passed over: public.orders."]
    assert shop.last("orders", "last_analyze") == ""
    assert CLERK_PASSWORD not in result["_stdout"]


def test_the_owner_of_a_table_may_maintain_it(shop, clerk, run):
    shop.sql(f"ALTER TABLE customers OWNER TO {clerk}")

    result = run(postgres_maintenance, shop.args(user=clerk, password=CLERK_PASSWORD, operations=["vacuum_analyze"]),
                 own_process=True)

    assert ran(result) == [("vacuum_analyze", "public.customers")]
    assert shop.last("customers", "last_vacuum")
    assert warnings(result) == ["This role may not maintain 3 table(s), passed over: billing.invoices, public.events, "
                                "public.orders."]


def test_a_wrong_password_fails_with_where_but_not_the_password(shop, run):
    result = run(postgres_maintenance, shop.args(password="wrong-Password-5", operations=["analyze"]))

    assert result["failed"] is True
    assert result["msg"].startswith(f"Cannot connect to runbook@{shop.cluster.host}:{shop.cluster.port}/{shop.name}: ")
    assert "wrong-Password-5" not in result["_stdout"]


def test_the_connection_comes_from_database_url(shop, run, monkeypatch):
    dsn = f"postgresql://runbook:{PASSWORD}@{shop.cluster.host}:{shop.cluster.port}/{shop.name}"
    monkeypatch.setenv("DATABASE_URL", dsn)

    result = run(postgres_maintenance, {"operations": ["analyze"], "tables": ["orders"]})

    assert ran(result) == [("analyze", "public.orders")]
    assert PASSWORD not in result["_stdout"] and dsn not in result["_stdout"]


@pytest.mark.parametrize("options, message", [
    ({"operations": []}, "operations must name at least one of analyze, vacuum_analyze, reindex. Nothing was run."),
    ({"operations": ["analyze"], "lock_timeout": -1}, "lock_timeout must be 0 or more, not -1. Nothing was run."),
    ({"operations": ["analyze"], "min_interval_hours": -2},
     "min_interval_hours must be 0 or more, not -2. Nothing was run."),
    ({"operations": ["analyze"], "tables": ["orders", " "]}, "tables holds an empty name. Nothing was run."),
])
def test_bad_options_are_refused_before_connecting(run, options, message):
    result = run(postgres_maintenance, {"host": "127.0.0.1", "port": 9, **options})

    assert result["failed"] is True and result["msg"] == message


@pytest.mark.parametrize("choice, version, concurrently", [
    ("auto", 150018, True), ("auto", 110022, False), ("never", 150018, False), ("always", 120000, True)])
def test_when_reindex_runs_concurrently(choice, version, concurrently):
    assert postgres_maintenance.reindex_concurrently(choice, version) is concurrently


def test_always_concurrently_is_refused_by_a_server_that_cannot():
    with pytest.raises(PostgresError, match=r"PostgreSQL 11\.22 cannot REINDEX CONCURRENTLY"):
        postgres_maintenance.reindex_concurrently("always", 110022)
