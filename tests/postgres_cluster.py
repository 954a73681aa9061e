"""A throwaway PostgreSQL cluster for the tests, from the installed server binaries.

It listens on 127.0.0.1 on a free port, with password (SCRAM) authentication for one superuser,
and lives in a temporary folder that is removed when it stops. As root, the server runs as the
``postgres`` account, because PostgreSQL refuses to run as root.
"""
import glob
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
    def __init__(self):
        self.bindir = server_bindir()
        self.folder = Path(tempfile.mkdtemp(prefix="runbook-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.host = "127.0.0.1"
        # As root, hand the folder to the account the server runs as.
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
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
                     " -c fsync=off", "start")

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
