"""postgres_restore_drill against a real throwaway cluster: what it proves, what it finds, what it leaves behind."""
import datetime
import json
import os
import signal
import subprocess
import sys
import time

import psycopg2
import pytest

from ansible_collections.runbook.ops.plugins.module_utils._drill import mark_comment
from ansible_collections.runbook.ops.plugins.modules import postgres_backup, postgres_restore_drill
from tests.postgres_cluster import PASSWORD

TABLES = {"public.customers": 50, "public.orders": 1000, "sales.refunds_2025": 2, "sales.refunds_2026": 1}


@pytest.fixture
def drillshop(postgres):
    """A database with tables in two schemas and a partitioned one; every database named drillshop* goes after."""
    postgres.psql("DROP DATABASE IF EXISTS drillshop WITH (FORCE)")
    postgres.psql("CREATE DATABASE drillshop")
    postgres.psql("CREATE TABLE customers (id int PRIMARY KEY, name text, since timestamptz);"
                  "INSERT INTO customers SELECT n, 'customer ' || n, timestamptz '2025-01-01 00:00+00' + n * "
                  "interval '1 day' FROM generate_series(1, 50) AS n;"
                  "CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers, total float8);"
                  "INSERT INTO orders SELECT n, 1 + n % 50, n / 7.0 FROM generate_series(1, 1000) AS n;"
                  "CREATE SCHEMA sales;"
                  "CREATE TABLE sales.refunds (year int, amount numeric) PARTITION BY LIST (year);"
                  "CREATE TABLE sales.refunds_2025 PARTITION OF sales.refunds FOR VALUES IN (2025);"
                  "CREATE TABLE sales.refunds_2026 PARTITION OF sales.refunds FOR VALUES IN (2026);"
                  "INSERT INTO sales.refunds VALUES (2025, 10), (2025, 20), (2026, 5)", database="drillshop")
    yield postgres
    for name in databases(postgres):
        postgres.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def databases(cluster):
    return cluster.psql("SELECT datname FROM pg_database WHERE datname LIKE 'drillshop%' ORDER BY 1").split()


def connection(cluster, **options):
    return {"host": cluster.host, "port": cluster.port, "user": "runbook", "password": PASSWORD,
            "database": "drillshop", **options}


@pytest.fixture
def backed_up(drillshop, run, tmp_path):
    """A backup with its table summary, then changes the application makes after it."""
    backup = run(postgres_backup, connection(drillshop, backup_dir=str(tmp_path), table_summary=True))
    drillshop.psql("DELETE FROM orders WHERE id > 900; UPDATE customers SET name = 'renamed' WHERE id = 3",
                   database="drillshop")
    return backup


def tamper(summary_path, change):
    with open(summary_path, encoding="utf-8") as handle:
        summary = json.load(handle)
    change(summary)
    with open(summary_path, "w", encoding="utf-8") as handle:
        json.dump(summary, handle)


def pg_restore_that(path, then):
    """A pg_restore that restores, and then does ``then``; reading an archive it leaves to the real one."""
    path.write_text("#!/bin/sh\ncase \" $* \" in *' --dbname '*) ;; *) exec pg_restore \"$@\";; esac\n"
                    f"pg_restore \"$@\" && {then}\n")
    path.chmod(0o755)
    return str(path)


def test_an_intact_backup_passes_as_of_the_backup_and_leaves_no_scratch_database(backed_up, drillshop, run, tmp_path):
    result = run(postgres_restore_drill, connection(drillshop, backup_dir=str(tmp_path)))

    assert result["changed"] is False and result["passed"] is True and result["compared"] is True
    assert result["backup"] == backed_up["path"] and result["mismatches"] == []
    assert {table["table"]: table["rows_restored"] for table in result["tables"]} == TABLES
    assert all(table["rows_expected"] == table["rows_restored"] and table["checksum_match"] is True
               for table in result["tables"])
    stamp = os.path.basename(backed_up["path"])[len("drillshop_"):-len(".dump")]
    assert datetime.datetime.fromisoformat(result["backup_time"]) == datetime.datetime.strptime(
        stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    assert result["rpo_seconds"] >= 0 and result["rto_seconds"] >= result["restore_seconds"] > 0
    assert result["scratch_database"].startswith("drillshop_drill_")
    assert databases(drillshop) == ["drillshop"]
    assert PASSWORD not in result["_stdout"]


@pytest.mark.parametrize("fail_on_mismatch", [True, False])
def test_a_tampered_summary_is_found_and_the_scratch_database_is_dropped(backed_up, drillshop, run, tmp_path,
                                                                         fail_on_mismatch):
    def change(summary):
        summary["public.orders"]["rows"] += 1
        summary["public.customers"]["checksum"] = "0" * 16
        summary["sales.refunds_2027"] = summary.pop("sales.refunds_2026")

    tamper(backed_up["table_summary"], change)

    result = run(postgres_restore_drill, connection(drillshop, backup_dir=str(tmp_path),
                                                    fail_on_mismatch=fail_on_mismatch))

    assert result.get("failed", False) is fail_on_mismatch and result["passed"] is False
    assert result["changed"] is False and result["compared"] is True and result["rto_seconds"] > 0
    assert len(result["mismatches"]) == 4
    lines = " ".join(result["mismatches"])
    assert "public.orders has 1000 rows restored, not the 1001 of the backup's table summary." in lines
    assert "public.customers has the 50 rows of the backup's table summary, but their contents differ" in lines
    assert "sales.refunds_2026 was restored (1 rows) but is not in the backup's table summary." in lines
    assert "sales.refunds_2027 is in the backup's table summary (1 rows) but was not restored." in lines
    by_table = {table["table"]: table for table in result["tables"]}
    assert by_table["public.orders"] == {"table": "public.orders", "rows_expected": 1001, "rows_restored": 1000,
                                         "checksum_match": True}
    assert by_table["public.customers"]["checksum_match"] is False
    assert by_table["sales.refunds_2027"]["rows_restored"] is None
    assert by_table["sales.refunds_2026"]["rows_expected"] is None
    if fail_on_mismatch:
        assert "public.orders has 1000 rows restored" in result["msg"]
        assert f"The scratch database {result['scratch_database']} was dropped." in result["msg"]
    assert databases(drillshop) == ["drillshop"]
    assert PASSWORD not in result["_stdout"]


def test_a_backup_without_a_summary_is_restored_and_counted_not_compared(drillshop, run, tmp_path):
    run(postgres_backup, connection(drillshop, backup_dir=str(tmp_path)))

    result = run(postgres_restore_drill, connection(drillshop, backup_dir=str(tmp_path)), own_process=True)

    assert result["passed"] is True and result["compared"] is False and result["mismatches"] == []
    assert {table["table"]: table["rows_restored"] for table in result["tables"]} == TABLES
    assert all(table["rows_expected"] is None and table["checksum_match"] is None for table in result["tables"])
    assert "has no table summary (" in str(result["warnings"])
    assert databases(drillshop) == ["drillshop"]


def test_a_restore_that_fails_drops_the_scratch_database(backed_up, drillshop, run, tmp_path):
    failing = pg_restore_that(tmp_path / "pg_restore",
                              "echo 'pg_restore: error: could not extend file: No space left' >&2; exit 1")

    result = run(postgres_restore_drill, connection(drillshop, backup_dir=str(tmp_path), pg_restore=failing))

    assert result["failed"] is True and result["passed"] is False and "No space left" in result["msg"]
    assert result["msg"].endswith(f"The scratch database {result['scratch_database']} was dropped.")
    assert "rto_seconds" not in result and result["backup"] == backed_up["path"]
    assert databases(drillshop) == ["drillshop"]


def restored_orders(cluster, scratch):
    """The orders in the scratch database so far, or None while it has no such table."""
    try:
        return cluster.psql("SELECT count(*) FROM orders", database=scratch)
    except subprocess.CalledProcessError:
        return None


@pytest.mark.parametrize("signal_sent", [signal.SIGTERM, signal.SIGINT])
def test_a_cancelled_drill_drops_the_scratch_database(backed_up, drillshop, tmp_path, signal_sent):
    # pg_restore restores, then takes its time: the drill is stopped while its scratch database exists.
    slow = pg_restore_that(tmp_path / "pg_restore", "exec sleep 60")
    arguments = tmp_path / "arguments.json"
    arguments.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": connection(drillshop, backup_dir=str(tmp_path),
                                                                       pg_restore=slow)}))
    drill = subprocess.Popen([sys.executable, postgres_restore_drill.__file__, str(arguments)],
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    try:
        for dummy in range(300):
            scratch = [name for name in databases(drillshop) if name.startswith("drillshop_drill_")]
            if scratch and restored_orders(drillshop, scratch[0]) == "1000":
                break
            time.sleep(0.1)
        else:
            pytest.fail("the drill never restored into its scratch database")
        drill.send_signal(signal_sent)
        output, dummy = drill.communicate(timeout=60)
    finally:
        if drill.poll() is None:
            drill.kill()
            drill.wait()

    result = json.loads(output)
    assert drill.returncode != 0 and result["failed"] is True
    assert f"Stopped by {signal_sent.name}. The scratch database {scratch[0]} was dropped." in result["msg"]
    assert databases(drillshop) == ["drillshop"]


def mark_for(cluster, name, session):
    """Mark a database as a drill's scratch database, made by the session of a connection."""
    with session.cursor() as cursor:
        cursor.execute("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        pid, started = cursor.fetchone()
    cluster.psql(f"CREATE DATABASE \"{name}\"")
    comment = mark_comment("drillshop", pid, started).replace("'", "''")
    cluster.psql(f"COMMENT ON DATABASE \"{name}\" IS '{comment}'")


def test_leftovers_of_killed_drills_are_dropped_and_nothing_else(backed_up, drillshop, run, tmp_path):
    def session():
        return psycopg2.connect(host=drillshop.host, port=drillshop.port, user="runbook", password=PASSWORD,
                                dbname="postgres")

    killed = session()
    mark_for(drillshop, "drillshop_drill_20200101T000000Z", killed)
    killed.close()
    running = session()
    mark_for(drillshop, "drillshop_drill_20200102T000000Z", running)
    drillshop.psql("CREATE DATABASE \"drillshop_drill_20200103T000000Z\"")
    drillshop.psql("CREATE DATABASE drillshop_notes")
    drillshop.psql("COMMENT ON DATABASE drillshop_notes IS 'runbook.ops.postgres_restore_drill scratch database of "
                   "drillshop, kept by hand for a closer look'")
    try:
        checked = run(postgres_restore_drill, connection(drillshop, backup_dir=str(tmp_path)), check=True)
        assert checked["leftovers_dropped"] == ["drillshop_drill_20200101T000000Z"]
        assert "drillshop_drill_20200101T000000Z" in databases(drillshop)

        result = run(postgres_restore_drill, connection(drillshop, backup_dir=str(tmp_path)))
    finally:
        running.close()

    assert result["passed"] is True and result["leftovers_dropped"] == ["drillshop_drill_20200101T000000Z"]
    assert databases(drillshop) == ["drillshop", "drillshop_drill_20200102T000000Z",
                                    "drillshop_drill_20200103T000000Z", "drillshop_notes"]


def test_check_mode_names_the_backup_and_creates_nothing(backed_up, drillshop, run, tmp_path):
    result = run(postgres_restore_drill, connection(drillshop, backup_dir=str(tmp_path)), check=True)

    assert result["changed"] is False and result["backup"] == backed_up["path"] and result["compared"] is True
    assert result["msg"] == (f"Would restore {backed_up['path']} into the scratch database "
                             f"{result['scratch_database']}, compare it with its table summary, and drop it.")
    assert "tables" not in result and "rto_seconds" not in result
    assert databases(drillshop) == ["drillshop"]


def test_a_damaged_backup_is_refused_before_anything_is_created(backed_up, drillshop, run, tmp_path):
    path = backed_up["path"]
    data = open(path, "rb").read()
    with open(path, "wb") as handle:
        handle.write(data[:-40] + bytes([data[-40] ^ 1]) + data[-39:])

    result = run(postgres_restore_drill, connection(drillshop, backup_dir=str(tmp_path), backup=os.path.basename(path)))

    assert result["failed"] is True and "does not match its SHA-256 manifest" in result["msg"]
    assert result["msg"].endswith("Nothing was changed.") and databases(drillshop) == ["drillshop"]


def test_an_unreadable_summary_is_refused_before_anything_is_created(backed_up, drillshop, run, tmp_path):
    with open(backed_up["table_summary"], "w", encoding="utf-8") as handle:
        handle.write('{"public.orders": {"rows": "many"}}')

    result = run(postgres_restore_drill, connection(drillshop, backup_dir=str(tmp_path)))

    assert result["failed"] is True
    assert "is not a map of tables to rows and checksum (see public.orders)" in result["msg"]
    assert databases(drillshop) == ["drillshop"]


def test_an_existing_database_is_never_taken_for_scratch(backed_up, drillshop, run, tmp_path):
    drillshop.psql("CREATE DATABASE drillshop_keep")
    drillshop.psql("CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)", database="drillshop_keep")

    result = run(postgres_restore_drill, connection(drillshop, backup_dir=str(tmp_path),
                                                    scratch_database="drillshop_keep"))

    assert result["failed"] is True and "A database named drillshop_keep exists" in result["msg"]
    assert drillshop.psql("SELECT count(*) FROM precious", database="drillshop_keep") == "1"


@pytest.mark.parametrize("options, message", [
    ({"jobs": 0}, "jobs must be at least 1."),
    ({"backup": " "}, "backup must be latest or the name of a backup."),
    ({"scratch_database": "drillshop"},
     "scratch_database must not be drillshop, which the drill reads or connects to."),
    ({"scratch_database": "x" * 64}, "scratch_database must be at most 63 bytes long, which PostgreSQL would cut it "
                                     "short to."),
])
def test_bad_input_is_refused_before_connecting(run, tmp_path, options, message):
    result = run(postgres_restore_drill, {"host": "127.0.0.1", "port": 1, "database": "drillshop",
                                          "backup_dir": str(tmp_path), **options})

    assert result["failed"] is True and result["msg"] == message + " Nothing was changed."


def test_a_wrong_password_is_reported_without_the_password(drillshop, run, tmp_path):
    result = run(postgres_restore_drill, connection(drillshop, backup_dir=str(tmp_path), password="Wrong-pw-2718"))

    assert result["failed"] is True and "password authentication failed" in result["msg"]
    assert "Wrong-pw-2718" not in result["_stdout"] and PASSWORD not in result["_stdout"]
