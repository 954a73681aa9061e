"""Table summaries against a real throwaway cluster: what they cover, what changes a checksum, what does not."""
import os
import subprocess

import psycopg2
import pytest

from ansible_collections.runbook.ops.plugins.module_utils._postgres import PostgresError
from ansible_collections.runbook.ops.plugins.module_utils._tables import summaries
from tests.postgres_cluster import PASSWORD

# Values of every kind whose text depends on a session setting, partitions, inheritance and odd names.
PROBE = """
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id int, total numeric) PARTITION BY RANGE (id);
CREATE TABLE billing.invoices_low PARTITION OF billing.invoices FOR VALUES FROM (0) TO (100);
CREATE TABLE billing.invoices_high PARTITION OF billing.invoices FOR VALUES FROM (100) TO (1000);
INSERT INTO billing.invoices SELECT n, n FROM generate_series(1, 250) AS n;
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10, 2), weight float8, added timestamptz,
                    due date, took interval, blob bytea, cost money, tags text[], doc jsonb, kind regclass);
INSERT INTO items
SELECT n, 'item ' || n, n * 1.25, n / 3.0, timestamptz '2026-01-01 00:00:00+00' + n * interval '61 min',
       date '2026-01-01' + n, n * interval '1 day 2 hours', decode(md5(n::text), 'hex'), n * 2.5,
       ARRAY['a' || n, NULL], jsonb_build_object('n', n, 'half', n / 2.0), 'billing.invoices'::regclass
  FROM generate_series(1, 300) AS n;
CREATE TABLE events (id int, at timestamptz);
INSERT INTO events VALUES (1, '2026-03-01 09:00+09');
-- Its own column first, the inherited ones after: a restore puts the inherited ones first.
CREATE TABLE login_events (who text, id int, at timestamptz);
ALTER TABLE login_events INHERIT events;
INSERT INTO login_events VALUES ('ann', 2, '2026-03-01 10:00+09'), ('bob', 3, '2026-03-01 11:00+09');
CREATE TABLE "Odd Name" ("Select" text);
INSERT INTO "Odd Name" VALUES ('x');
CREATE TABLE nothing ();
INSERT INTO nothing DEFAULT VALUES;
CREATE UNLOGGED TABLE scratchpad (note text);
INSERT INTO scratchpad VALUES ('unlogged');
CREATE MATERIALIZED VIEW item_count AS SELECT count(*) FROM items;
CREATE VIEW cheap_items AS SELECT * FROM items WHERE price < 10;
"""

TABLES = {"billing.invoices_high": 151, "billing.invoices_low": 99, "public.Odd Name": 1, "public.events": 1,
          "public.items": 300, "public.login_events": 2, "public.nothing": 1, "public.scratchpad": 1}

# Session settings, each unlike the pinned value, that change how the values above are written.
ODD_SETTINGS = {"TimeZone": "Asia/Tokyo", "DateStyle": "SQL, DMY", "IntervalStyle": "iso_8601",
                "extra_float_digits": "0", "bytea_output": "escape", "search_path": "billing, public"}


@pytest.fixture(scope="module")
def probe(postgres):
    postgres.psql("DROP DATABASE IF EXISTS tables_probe")
    postgres.psql("CREATE DATABASE tables_probe")
    postgres.psql(PROBE, database="tables_probe")
    yield postgres
    for name in ("tables_probe", "tables_probe_restored"):
        postgres.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def connect(cluster, database="tables_probe"):
    return psycopg2.connect(host=cluster.host, port=cluster.port, user="runbook", password=PASSWORD, dbname=database)


def summary_of(cluster, database="tables_probe", tables=None, **session):
    connection = connect(cluster, database)
    try:
        with connection.cursor() as cursor:
            for name, value in session.items():
                cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
            return summaries(cursor, tables)
    finally:
        connection.close()


def test_every_user_table_and_leaf_partition_and_nothing_else(probe):
    found = summary_of(probe)

    # No partitioned parent, view or materialized view; an inheritance parent counts only its own rows.
    assert {table: counted["rows"] for table, counted in found.items()} == TABLES
    assert all(len(counted["checksum"]) == 16 and int(counted["checksum"], 16) >= 0 for counted in found.values())
    assert found["public.items"]["checksum"] != found["billing.invoices_low"]["checksum"]


def test_a_dump_and_restore_gives_the_same_summary_whatever_the_sessions_settings(probe, tmp_path):
    archive = tmp_path / "probe.dump"
    environment = {**os.environ, "PGHOST": probe.host, "PGPORT": str(probe.port), "PGUSER": "runbook",
                   "PGPASSWORD": PASSWORD}
    subprocess.run(["pg_dump", "--format", "custom", "--file", str(archive), "tables_probe"], env=environment,
                   check=True)
    probe.psql("DROP DATABASE IF EXISTS tables_probe_restored")
    probe.psql("CREATE DATABASE tables_probe_restored")
    subprocess.run(["pg_restore", "--dbname", "tables_probe_restored", "--exit-on-error", str(archive)],
                   env=environment, check=True)
    # The restored database's own defaults write every value differently.
    for name, value in ODD_SETTINGS.items():
        probe.psql(f"ALTER DATABASE tables_probe_restored SET \"{name}\" = '{value}'")

    restored = summary_of(probe, "tables_probe_restored")

    assert probe.psql("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attnum > 0 "
                      "AND attrelid = 'public.login_events'::regclass", database="tables_probe_restored") == "id,at,who"
    assert restored == summary_of(probe)


def test_the_sessions_settings_change_no_checksum_and_are_put_back(probe):
    connection = connect(probe)
    try:
        with connection.cursor() as cursor:
            for name, value in ODD_SETTINGS.items():
                cursor.execute("SELECT set_config(%s, %s, false)", [name, value])

            found = summaries(cursor)

            cursor.execute("SELECT current_setting(name) FROM unnest(%s::text[]) AS name", [list(ODD_SETTINGS)])
            assert [row[0] for row in cursor.fetchall()] == list(ODD_SETTINGS.values())
    finally:
        connection.close()
    assert found == summary_of(probe)


@pytest.mark.parametrize("change", [
    "UPDATE items SET weight = weight + 1e-12 WHERE id = 7",
    "UPDATE items SET added = added + interval '1 microsecond' WHERE id = 300",
    "UPDATE items SET blob = blob || '\\x00'::bytea WHERE id = 1",
    "UPDATE items SET name = NULL WHERE id = 150",
])
def test_one_changed_value_changes_the_checksum_of_its_table_only(probe, change):
    connection = connect(probe)
    try:
        with connection.cursor() as cursor:
            before = summaries(cursor)
            # Seen by the same, uncommitted transaction, and rolled back.
            cursor.execute(change)
            after = summaries(cursor)
    finally:
        connection.rollback()
        connection.close()

    assert after["public.items"]["rows"] == before["public.items"]["rows"]
    assert after["public.items"]["checksum"] != before["public.items"]["checksum"]
    assert {name: value for name, value in after.items() if name != "public.items"} == \
        {name: value for name, value in before.items() if name != "public.items"}


def test_row_order_and_column_order_change_no_checksum_but_values_moved_between_rows_do(probe):
    probe.psql("CREATE TABLE ascending (x int, y text); CREATE TABLE descending (y text, x int);"
               "CREATE TABLE swapped (x int, y text);"
               "INSERT INTO ascending SELECT n, 'v' || n FROM generate_series(1, 500) AS n ORDER BY n;"
               "INSERT INTO descending SELECT 'v' || n, n FROM generate_series(1, 500) AS n ORDER BY n DESC;"
               "INSERT INTO swapped SELECT n, 'v' || CASE n WHEN 1 THEN 2 WHEN 2 THEN 1 ELSE n END "
               "FROM generate_series(1, 500) AS n", database="tables_probe")
    try:
        found = summary_of(probe, tables=["public.ascending", "public.descending", "public.swapped"])
    finally:
        probe.psql("DROP TABLE ascending, descending, swapped", database="tables_probe")

    assert found["public.ascending"] == found["public.descending"]
    assert found["public.swapped"]["rows"] == 500
    assert found["public.swapped"]["checksum"] != found["public.ascending"]["checksum"]


def test_tables_names_a_subset_and_an_unknown_one_is_refused(probe):
    subset = summary_of(probe, tables=["public.items", "billing.invoices_low"])

    assert list(subset) == ["billing.invoices_low", "public.items"]
    with pytest.raises(PostgresError, match=r"No table named billing\.invoices, public\.nope \(as schema\.table\)"):
        summary_of(probe, tables=["public.nope", "billing.invoices"])


def test_a_table_the_role_cannot_read_is_named_in_the_failure(probe):
    probe.psql("DO $$ BEGIN CREATE ROLE probe_reader LOGIN PASSWORD 'Reader-pw-1618'; "
               "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    probe.psql("GRANT SELECT ON items TO probe_reader", database="tables_probe")
    connection = psycopg2.connect(host=probe.host, port=probe.port, user="probe_reader", password="Reader-pw-1618",
                                  dbname="tables_probe")
    try:
        assert summaries(connection.cursor(), ["public.items"])["public.items"]["rows"] == 300
        with pytest.raises(PostgresError, match=r"^Summarising public\.scratchpad failed: permission denied"):
            summaries(connection.cursor(), ["public.items", "public.scratchpad"])
    finally:
        connection.close()
