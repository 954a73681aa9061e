"""postgres_restore against a real throwaway cluster: what it restores, what it refuses, what it leaves."""
import datetime
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time

import psycopg2
import pytest

from ansible_collections.runbook.ops.plugins.module_utils._backup import backup_name
from ansible_collections.runbook.ops.plugins.modules import postgres_backup, postgres_restore
from tests.postgres_cluster import PASSWORD

ORDERS = "SELECT count(*), sum(total) FROM orders"


@pytest.fixture
def shop(postgres):
    """A database with 300 orders, database-level settings, grants and a comment, dropped after the test."""
    postgres.psql("DROP DATABASE IF EXISTS shop WITH (FORCE)")
    postgres.psql("CREATE DATABASE shop")
    postgres.psql("DO $$ BEGIN CREATE ROLE shop_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    postgres.psql("CREATE SCHEMA app; CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL);"
                  "INSERT INTO orders (total) SELECT n FROM generate_series(1, 300) AS n", database="shop")
    postgres.psql("ALTER DATABASE shop SET search_path = app, public, \"$user\"; ALTER DATABASE shop SET work_mem = '8MB';"
                  "REVOKE ALL ON DATABASE shop FROM PUBLIC; GRANT CONNECT ON DATABASE shop TO shop_app;"
                  "COMMENT ON DATABASE shop IS 'the shop'")
    yield postgres
    postgres.psql("DROP DATABASE IF EXISTS shop WITH (FORCE)")
    for name in postgres.psql("SELECT datname FROM pg_database WHERE datname LIKE 'shop\\_%'").split():
        postgres.psql(f'DROP DATABASE "{name}" WITH (FORCE)')


def connection(shop, **options):
    return {"host": shop.host, "port": shop.port, "user": "runbook", "password": PASSWORD, "database": "shop",
            **options}


@pytest.fixture
def backed_up(shop, run, tmp_path):
    """A verified backup of the 300 orders, then a change the restore must undo."""
    backup = run(postgres_backup, connection(shop, backup_dir=str(tmp_path)))
    shop.psql("DELETE FROM orders WHERE id > 100; INSERT INTO orders (total) VALUES (-1)", database="shop")
    return backup


def databases(shop):
    return shop.psql("SELECT datname || ':' || datallowconn::int FROM pg_database WHERE datname LIKE 'shop%' "
                     "ORDER BY 1").split()


def test_the_latest_backup_replaces_the_live_data(shop, backed_up, run, tmp_path):
    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), expected_rows={"public.orders": 300}))

    assert result["changed"] is True and result["mode"] == "swap" and result["backup"] == backed_up["path"]
    assert result["verified_by"] == "manifest" and result["rows"] == {"public.orders": 300}
    assert shop.psql(ORDERS, database="shop") == "300|45150"
    assert databases(shop) == ["shop:1"]
    for step in ("verify", "safety_backup", "restore", "analyze", "check", "swap", "total"):
        assert result["timings"][step] >= 0

    # The safety backup, of the replaced database, holds the data as it was up to the swap, and verifies.
    safety = result["safety_backup"]["path"]
    assert safety.endswith(".pre-restore.dump") and os.path.exists(safety + ".sha256")
    listing = subprocess.run(["pg_restore", "--data-only", "--table", "orders", "--file", "-", safety],
                             capture_output=True, text=True, check=True).stdout
    assert "-1\n" in listing and listing.count("\n") < 150

    # It is the way back: restored by name, it brings the replaced data back.
    undone = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), backup=os.path.basename(safety)))
    assert undone["restored"] is True and shop.psql(ORDERS, database="shop") == "101|5049"


def test_database_settings_grants_and_comment_survive_the_swap(shop, backed_up, run, tmp_path):
    run(postgres_restore, connection(shop, backup_dir=str(tmp_path)))

    settings = shop.psql("SELECT setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
                         "WHERE d.datname = 'shop'")
    assert settings == '{"search_path=app, public, \\"$user\\"",work_mem=8MB}'
    assert shop.psql("SELECT has_database_privilege('shop_app', 'shop', 'CONNECT'), "
                     "has_database_privilege('public', 'shop', 'CONNECT'), "
                     "shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'shop'") == "t|f|the shop"


def test_in_place_restores_in_one_transaction(shop, backed_up, run, tmp_path):
    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), mode="in_place"))

    assert result["mode"] == "in_place" and "swap" not in result["timings"]
    assert shop.psql(ORDERS, database="shop") == "300|45150"
    assert databases(shop) == ["shop:1"]


def test_a_role_that_cannot_swap_restores_in_place(shop, run, tmp_path):
    shop.psql("DO $$ BEGIN CREATE ROLE shop_owner LOGIN PASSWORD 'Owner-pw-3141'; "
              "EXCEPTION WHEN duplicate_object THEN NULL; END $$; ALTER ROLE shop_owner NOCREATEDB;"
              "ALTER DATABASE shop OWNER TO shop_owner")
    shop.psql("ALTER TABLE orders OWNER TO shop_owner; ALTER SCHEMA app OWNER TO shop_owner", database="shop")
    managed = connection(shop, user="shop_owner", password="Owner-pw-3141", backup_dir=str(tmp_path))
    run(postgres_backup, managed)
    shop.psql("TRUNCATE orders", database="shop")

    refused = run(postgres_restore, {**managed, "mode": "swap"})
    result = run(postgres_restore, managed)

    assert refused["failed"] is True and "mode=swap needs a superuser" in refused["msg"]
    assert result["mode"] == "in_place" and shop.psql(ORDERS, database="shop") == "300|45150"


@pytest.mark.parametrize("damage", ["flip a byte", "cut short"])
def test_a_damaged_backup_is_refused_before_anything_is_touched(shop, backed_up, run, tmp_path, damage):
    path = backed_up["path"]
    data = open(path, "rb").read()
    with open(path, "wb") as handle:
        handle.write(data[:-40] + bytes([data[-40] ^ 1]) + data[-39:] if damage == "flip a byte" else data[:-200])

    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), backup=os.path.basename(path)))

    assert result["failed"] is True and "does not match its SHA-256 manifest" in result["msg"]
    assert "Nothing was changed" in result["msg"] and result.get("safety_backup") is None
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "101"
    assert not list(tmp_path.glob("*.pre-restore.dump"))


def test_a_truncated_archive_without_a_manifest_is_read_through_and_refused(shop, backed_up, run, tmp_path):
    cut = tmp_path / "handmade.dump"
    cut.write_bytes(open(backed_up["path"], "rb").read()[:-200])

    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), backup=str(cut)))

    assert result["failed"] is True and "pg_restore cannot read all of" in result["msg"]
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "101"


def test_latest_passes_over_newer_backups_that_do_not_verify_and_says_why(shop, backed_up, run, tmp_path):
    # Newer than the backup, by a minute or two: within the clock difference allowed between hosts.
    now = datetime.datetime.now(datetime.timezone.utc)
    newer = tmp_path / backup_name("shop", now + datetime.timedelta(minutes=2))
    newer.write_bytes(b"PGDMP not really")
    (tmp_path / (newer.name + ".sha256")).write_text(f"{'0' * 64}  {newer.name}\n")
    unverified = tmp_path / backup_name("shop", now + datetime.timedelta(minutes=1))
    unverified.write_bytes(open(backed_up["path"], "rb").read())

    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), backup=" Latest "))

    assert result["backup"] == backed_up["path"] and len(result["passed_over"]) == 2
    assert newer.name in result["passed_over"][0] and "does not match its SHA-256 manifest" in result["passed_over"][0]
    assert result["passed_over"][1] == (f"{unverified.name} has no SHA-256 manifest, so it was never verified; "
                                        "name it to restore it.")
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "300"


def plain_dump(shop, path, *extra):
    subprocess.run(["pg_dump", "--no-password", "--file", str(path), *extra, "shop"], check=True,
                   env={**os.environ, "PGHOST": shop.host, "PGPORT": str(shop.port), "PGUSER": "runbook",
                        "PGPASSWORD": PASSWORD})


def test_plain_sql_and_gzipped_sql_from_the_old_scripts(shop, run, tmp_path):
    plain = tmp_path / "shop_old.sql"
    plain_dump(shop, plain)
    with open(plain, "rb") as source, gzip.open(tmp_path / "shop_old.sql.gz", "wb") as packed:
        packed.write(source.read())

    for name in ("shop_old.sql", "shop_old.sql.gz"):
        shop.psql("DELETE FROM orders", database="shop")
        result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), backup=name))
        assert result["verified_by"] == "closing line" and result["format"] in ("plain", "plain-gzip")
        assert shop.psql(ORDERS, database="shop") == "300|45150"


def test_a_backup_of_another_database_is_refused_unless_named(shop, run, tmp_path):
    shop.psql("DROP DATABASE IF EXISTS shop_other")
    shop.psql("CREATE DATABASE shop_other")
    shop.psql("CREATE TABLE secret (id int)", database="shop_other")
    other = run(postgres_backup, connection(shop, database="shop_other", backup_dir=str(tmp_path)))

    refused = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), backup=other["path"]))
    assert refused["failed"] is True and shop.psql("SELECT count(*) FROM orders", database="shop") == "300"
    assert f"The backup {other['path']} is of the database shop_other, not of shop." in refused["msg"]

    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), backup=other["path"],
                                              source_database="shop_other"))
    assert result["source_database"] == "shop_other"
    assert shop.psql("SELECT to_regclass('public.orders') IS NULL AND to_regclass('public.secret') IS NOT NULL",
                     database="shop") == "t"


def test_a_meta_command_in_a_plain_file_fails_instead_of_running(shop, run, tmp_path):
    plain = tmp_path / "shop_old.sql"
    plain_dump(shop, plain)
    marker = tmp_path / "shell-ran"
    text = plain.read_text()
    plain.write_text(text.replace("SET statement_timeout = 0;", f"SET statement_timeout = 0; \\! touch {marker}", 1))
    shop.psql("DELETE FROM orders WHERE id > 10", database="shop")

    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), backup=plain.name))

    assert result["failed"] is True and "backslash commands are restricted" in result["msg"]
    assert not marker.exists() and shop.psql("SELECT count(*) FROM orders", database="shop") == "10"


def test_a_plain_file_with_a_failing_statement_changes_nothing(shop, run, tmp_path):
    plain = tmp_path / "shop_old.sql"
    plain_dump(shop, plain)
    text = plain.read_text()
    plain.write_text(text.replace("ALTER TABLE public.orders OWNER", "ALTER TABLE public.no_such_table OWNER", 1))
    shop.psql("DELETE FROM orders WHERE id > 10", database="shop")

    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), backup=plain.name))

    assert result["failed"] is True and 'relation "public.no_such_table" does not exist' in result["msg"]
    # Swapping, the live database is not touched before the swap: nothing needed saving.
    assert result["msg"].endswith("The live database was left as it was.") and result["safety_backup"] is None
    assert result["restored"] is False and shop.psql("SELECT count(*) FROM orders", database="shop") == "10"
    assert databases(shop) == ["shop:1"]


def test_a_restore_that_fails_midway_leaves_the_live_database_as_it_was(shop, run, tmp_path):
    shop.psql("DO $$ BEGIN CREATE ROLE ghost; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    shop.psql("CREATE TABLE haunted (id int); ALTER TABLE haunted OWNER TO ghost", database="shop")
    backup = run(postgres_backup, connection(shop, backup_dir=str(tmp_path)))
    shop.psql("DROP TABLE haunted", database="shop")
    shop.psql("DROP ROLE ghost")

    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), backup=backup["path"]))

    assert result["failed"] is True and 'role "ghost" does not exist' in result["msg"]
    assert "set no_owner (db_restore_no_owner in the roles) to true" in result["msg"]
    assert result["msg"].endswith("The live database was left as it was.") and not list(tmp_path.glob("*.pre-*"))
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "300"
    assert databases(shop) == ["shop:1"]

    # Without the missing role's ownership, the same backup restores.
    assert run(postgres_restore, connection(shop, backup_dir=str(tmp_path), backup=backup["path"],
                                            no_owner=True))["changed"] is True


def test_rows_that_differ_from_what_is_expected_keep_the_live_database(shop, backed_up, run, tmp_path):
    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), expected_rows={"orders": 299}))

    assert result["failed"] is True and "orders has 300 rows after the restore, not the 299 expected" in result["msg"]
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "101"
    assert databases(shop) == ["shop:1"]


def test_a_client_that_keeps_reconnecting_does_not_stop_the_restore(shop, backed_up, run, tmp_path):
    stop = threading.Event()
    refused = []

    def application():
        while not stop.is_set():
            try:
                held = psycopg2.connect(host=shop.host, port=shop.port, user="runbook", password=PASSWORD,
                                        dbname="shop")
                held.cursor().execute("SELECT count(*) FROM orders")
                stop.wait(1)
                held.close()
            except psycopg2.Error as exc:
                refused.append(str(exc))
                stop.wait(0.05)

    clients = [threading.Thread(target=application) for dummy in range(3)]
    for client in clients:
        client.start()
    time.sleep(0.5)
    try:
        result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), session_timeout=10))
    finally:
        stop.set()
        for client in clients:
            client.join()

    assert result["changed"] is True and result["sessions_terminated"] >= 1
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "300"
    assert databases(shop) == ["shop:1"]
    assert psycopg2.connect(host=shop.host, port=shop.port, user="runbook", password=PASSWORD, dbname="shop")


def as_owner_who_may_swap(shop, tmp_path):
    """The connection of a role that is not a superuser but owns the database and may create databases."""
    shop.psql("DO $$ BEGIN CREATE ROLE shop_owner LOGIN PASSWORD 'Owner-pw-3141'; "
              "EXCEPTION WHEN duplicate_object THEN NULL; END $$; ALTER ROLE shop_owner CREATEDB;"
              "ALTER DATABASE shop OWNER TO shop_owner")
    shop.psql("ALTER TABLE orders OWNER TO shop_owner; ALTER SCHEMA app OWNER TO shop_owner", database="shop")
    return connection(shop, user="shop_owner", password="Owner-pw-3141", backup_dir=str(tmp_path))


def test_sessions_that_cannot_be_ended_stop_the_swap_and_connections_are_allowed_again(shop, run, tmp_path):
    owner = as_owner_who_may_swap(shop, tmp_path)
    run(postgres_backup, owner)
    # A superuser's session, which the database's owner may not end.
    held = psycopg2.connect(host=shop.host, port=shop.port, user="runbook", password=PASSWORD, dbname="shop")
    try:
        result = run(postgres_restore, {**owner, "mode": "swap", "session_timeout": 1})
    finally:
        held.close()

    assert result["failed"] is True and "session(s) of shop (of runbook) did not end within 1.0 s" in result["msg"]
    assert "The live database was left as it was." in result["msg"]
    assert databases(shop) == ["shop:1"]


@pytest.mark.parametrize("signal_sent", [signal.SIGTERM, signal.SIGINT])
def test_a_restore_stopped_while_connections_are_blocked_allows_them_again(shop, run, tmp_path, signal_sent):
    owner = as_owner_who_may_swap(shop, tmp_path)
    run(postgres_backup, owner)
    arguments = tmp_path / "arguments.json"
    arguments.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {**owner, "mode": "swap", "session_timeout": 60}}))
    # A superuser's session, which the owner may not end: the restore waits with connections blocked.
    held = psycopg2.connect(host=shop.host, port=shop.port, user="runbook", password=PASSWORD, dbname="shop")
    try:
        restore = subprocess.Popen([sys.executable, postgres_restore.__file__, str(arguments)],
                                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for dummy in range(200):
            if "shop:0" in databases(shop):
                break
            time.sleep(0.1)
        assert "shop:0" in databases(shop), "the restore never blocked connections"
        restore.send_signal(signal_sent)
        output, dummy = restore.communicate(timeout=30)
    finally:
        held.close()

    result = json.loads(output)
    assert restore.returncode != 0 and result["failed"] is True
    assert result["msg"].endswith(f"Stopped by {signal_sent.name}. The live database was left as it was.")
    assert databases(shop) == ["shop:1"], "connections allowed again and the scratch database dropped"
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "300"


def test_check_mode_verifies_and_changes_nothing(shop, backed_up, run, tmp_path):
    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path)), check=True)

    assert result["changed"] is True and result["mode"] == "swap" and result["backup"] == backed_up["path"]
    assert result["msg"].startswith("Would restore shop from ") and result["safety_backup"] is None
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "101"
    assert not list(tmp_path.glob("*.pre-restore.dump")) and databases(shop) == ["shop:1"]


def test_a_missing_database_is_created_from_the_backup(shop, backed_up, run, tmp_path):
    shop.psql("DROP DATABASE shop WITH (FORCE)")

    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path)))

    assert result["safety_backup"] is None and shop.psql("SELECT count(*) FROM orders", database="shop") == "300"


def test_a_wrong_password_is_reported_without_the_password(shop, run, tmp_path):
    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), password="Wrong-pw-2718"))

    assert result["failed"] is True and "password authentication failed" in result["msg"]
    assert "Wrong-pw-2718" not in result["_stdout"] and PASSWORD not in result["_stdout"]


@pytest.mark.parametrize("options, message", [
    ({"jobs": 0}, "jobs must be at least 1."),
    ({"expected_rows": {"orders": "many"}}, "expected_rows of orders must be a whole number of 0 or more, not 'many'."),
    ({"expected_rows": {"orders": -1}}, "expected_rows of orders must be a whole number of 0 or more, not -1."),
    ({"check_query": " "}, "check_query must not be empty; SELECT 1 checks only that the database answers."),
    ({"backup": " "}, "backup must be latest or the name of a backup."),
])
def test_bad_input_is_refused_before_connecting(run, tmp_path, options, message):
    result = run(postgres_restore, {"host": "127.0.0.1", "port": 1, "database": "shop", "backup_dir": str(tmp_path),
                                    **options})

    assert result["failed"] is True and result["msg"] == message + " Nothing was changed."


def test_a_check_query_cannot_change_the_data_it_checks(shop, backed_up, run, tmp_path):
    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path),
                                              check_query="UPDATE orders SET total = 0 RETURNING true"))

    assert result["failed"] is True and "read-only transaction" in result["msg"]
    assert shop.psql("SELECT count(*) FROM orders", database="shop") == "101"


@pytest.mark.parametrize("check_query, said", [("SELECT false", "false"), ("SELECT NULL", "NULL"),
                                               ("SELECT 1 WHERE false", "no row")])
def test_a_check_query_must_return_true(shop, backed_up, run, tmp_path, check_query, said):
    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), check_query=check_query))

    assert result["failed"] is True and f"The check query returned {said}, not a true value." in result["msg"]
    assert result["restored"] is False and shop.psql("SELECT count(*) FROM orders", database="shop") == "101"


def test_expected_rows_of_a_table_the_backup_lacks_are_refused_before_anything_is_touched(shop, backed_up, run,
                                                                                          tmp_path):
    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path), expected_rows={"ordres": 300}),
                 check=True)

    assert result["failed"] is True and "expected_rows names ordres, which the backup does not hold." in result["msg"]


def test_a_setting_the_role_may_not_copy_is_a_warning_not_a_failure(shop, run, tmp_path):
    owner = as_owner_who_may_swap(shop, tmp_path)
    shop.psql("ALTER DATABASE shop SET log_min_duration_statement = '250ms'")
    run(postgres_backup, owner)

    # In a process of its own, as Ansible runs it: in pytest's, the controller's plugins loaded by other
    # tests take the module's warnings over.
    arguments = tmp_path / "arguments.json"
    arguments.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": owner}))
    done = subprocess.run([sys.executable, postgres_restore.__file__, str(arguments)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, check=False)
    result = json.loads(done.stdout)

    assert result["restored"] is True and result["mode"] == "swap"
    assert ("The setting log_min_duration_statement=250ms of the database was not copied (permission denied to set "
            'parameter "log_min_duration_statement"); set it again as a superuser.') in str(result["warnings"])


def test_the_icu_locale_survives_the_swap(postgres, run, tmp_path):
    postgres.psql("DROP DATABASE IF EXISTS shop_icu")
    postgres.psql("CREATE DATABASE shop_icu TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'de-DE'")
    try:
        settings = connection(postgres, database="shop_icu", backup_dir=str(tmp_path))
        postgres.psql("CREATE TABLE t (x text); INSERT INTO t VALUES ('a')", database="shop_icu")
        run(postgres_backup, settings)

        run(postgres_restore, settings)

        assert postgres.psql("SELECT datlocprovider::text || ' ' || daticulocale FROM pg_database "
                             "WHERE datname = 'shop_icu'") == "i de-DE"
    finally:
        postgres.psql("DROP DATABASE IF EXISTS shop_icu WITH (FORCE)")


def test_latest_passes_over_a_backup_dated_in_the_future(shop, backed_up, run, tmp_path):
    future = tmp_path / "shop_20991231T000000Z.dump"
    future.write_bytes(open(backed_up["path"], "rb").read())
    (tmp_path / (future.name + ".sha256")).write_text("x  " + future.name + "\n")

    result = run(postgres_restore, connection(shop, backup_dir=str(tmp_path)), check=True)

    assert result["backup"] == backed_up["path"]
    assert result["passed_over"] == [f"{future.name} is not dated by a real time in the past, so it cannot be the "
                                     "newest; name it to restore it."]
