"""A throwaway PostgreSQL cluster for the tests and the sandbox, from the installed server binaries.

It listens on 127.0.0.1 on a free port (or the one given), with password (SCRAM) authentication for
one superuser, and lives in a temporary folder that is removed when it stops. As root, the server
runs as the ``postgres`` account, because PostgreSQL refuses to run as root.

The sandbox starts one that outlives this process, with a small shop database:
``python -m tests.postgres_cluster up|down --state FILE [--port N]``, and
``python -m tests.postgres_cluster sql --state FILE DATABASE SQL``.
"""
import argparse
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "runbook"
PASSWORD = "throwaway-Pg-secret-7c1e"


def server_bindir():
    """The newest installed server's binaries, or a clear error saying what to install."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    if not candidates:
        raise RuntimeError("No PostgreSQL server is installed: run `make test` (or apt-get install postgresql).")
    return Path(candidates[-1]).parent


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayCluster:
    def __init__(self, port=None, folder=None):
        """A new cluster, or with ``folder`` the one a sandbox started earlier there."""
        self.bindir = server_bindir()
        self.host = "127.0.0.1"
        self.port = port or free_port()
        # As root, the server runs as the account PostgreSQL asks for.
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.folder = Path(folder or tempfile.mkdtemp(prefix="runbook-pg-"))
        self.data = self.folder / "data"
        if folder:
            return
        if self.run_as:
            shutil.chown(self.folder, "postgres", "postgres")
        self._start()

    def _server(self, *command, **options):
        return subprocess.run([*self.run_as, *command], check=True, capture_output=True, text=True, **options)

    def _start(self):
        password_file = self.folder / "password"
        password_file.write_text(PASSWORD)
        if self.run_as:
            shutil.chown(password_file, "postgres", "postgres")
        self._server(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=scram-sha-256",
                     f"--pwfile={password_file}", "--encoding=UTF8", "--locale=C.UTF-8")
        password_file.unlink()
        self._server(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w",
                     "-o", f"-c listen_addresses={self.host} -c port={self.port} -c unix_socket_directories={self.folder}"
                     " -c fsync=off -c shared_preload_libraries=pg_stat_statements", "start")

    @property
    def dsn(self):
        return f"postgresql://{SUPERUSER}:{PASSWORD}@{self.host}:{self.port}/postgres"

    def psql(self, sql, database="postgres"):
        """Run SQL as the superuser and return psql's unaligned output."""
        done = subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql,
                               f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"],
                              env={**os.environ, "PGPASSWORD": PASSWORD}, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    def stop(self):
        try:
            self._server(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


# The sandbox's shop: what a bad deploy breaks and a database rollback puts back.
SHOP = """
CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price numeric(10, 2) NOT NULL);
INSERT INTO products (name, price) SELECT 'Product ' || n, n * 1.25 FROM generate_series(1, 200) AS n;
CREATE TABLE orders (id serial PRIMARY KEY, product_id int NOT NULL REFERENCES products, quantity int NOT NULL);
INSERT INTO orders (product_id, quantity) SELECT 1 + n % 200, 1 + n % 3 FROM generate_series(1, 1000) AS n;
-- What the monthly maintenance archives: operation logs after 90 days, the audit log after a year.
CREATE TABLE operation_logs (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), message text);
INSERT INTO operation_logs (created_at, message)
  SELECT now() - make_interval(hours => 6 * n), 'operation ' || n FROM generate_series(1, 800) AS n;
CREATE TABLE audit_log (id bigserial PRIMARY KEY, "timestamp" timestamp NOT NULL DEFAULT localtimestamp, actor text,
                        action text);
INSERT INTO audit_log ("timestamp", actor, action)
  SELECT localtimestamp - make_interval(days => n), 'user' || n % 5, 'login' FROM generate_series(1, 500) AS n;
CREATE EXTENSION pg_stat_statements;
"""


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.postgres_cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "sql"])
    parser.add_argument("--state", required=True, help="file that records the running cluster")
    parser.add_argument("--port", type=int, help="port for up (default: a free one)")
    parser.add_argument("database", nargs="?", help="for sql")
    parser.add_argument("sql", nargs="?", help="for sql")
    args = parser.parse_intermixed_args(argv)
    state = Path(args.state)

    if args.action == "up":
        cluster = ThrowawayCluster(port=args.port)
        cluster.psql("CREATE DATABASE shop")
        cluster.psql(SHOP, database="shop")
        state.write_text(json.dumps({"folder": str(cluster.folder), "port": cluster.port}), encoding="utf-8")
        print(f"PostgreSQL up on {cluster.host}:{cluster.port}, database shop")
        return 0
    if not state.exists():
        # Nothing to stop; nothing to run SQL on is a mistake.
        return 0 if args.action == "down" else f"No sandbox cluster is recorded in {state}: run make sandbox-up."
    recorded = json.loads(state.read_text(encoding="utf-8"))
    cluster = ThrowawayCluster(port=recorded["port"], folder=recorded["folder"])
    if args.action == "sql":
        output = cluster.psql(args.sql, database=args.database)
        if output:
            print(output)
    else:
        cluster.stop()
        state.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
