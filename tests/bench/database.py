"""Benchmark: postgres_backup and postgres_restore next to raw pg_dump and pg_restore, and their memory.

``python -m tests.bench.database [--size-gb 1.0] [--small-gb 0.1] [--runs 3] [--jobs 1]`` (``make bench``).
It starts a throwaway PostgreSQL cluster on 127.0.0.1 and, at two sizes, fills a database with
generate_series (customers, orders and order lines, with their indexes). On that data it measures,
back to back and in alternating order from one run to the next: raw ``pg_dump --format custom``
against the module's backup (its reported ``duration`` and its process's wall time), and raw
``pg_restore`` of the module's archive into a fresh empty database against the restore step the
module reports in ``timings.restore``. The module's other steps (verify, safety backup, analyze,
check, swap) are reported beside them. Times are medians over the runs; the module's ratio to raw is
the median of each run's pair, which cancels out a machine that is busier in one run than another.
How busy it was is printed too: the CPU time everything else on the machine used meanwhile.

Each module runs as its own Python process, as Ansible runs it, and prints its own peak RSS
(getrusage of itself, which leaves out its pg_dump and pg_restore).

Targets (issue 3), judged at the large size: the module at most 5 % slower than raw for the dump
and for the restore step, and the module process's peak memory flat as the database grows (here:
at most 10 % more at the large size than at the small one).
"""
import argparse
import collections
import contextlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.postgres_cluster import PASSWORD, SUPERUSER, ThrowawayCluster

REPO = Path(__file__).resolve().parents[2]
DATABASE = "bench"
RAW_TARGET = "bench_raw"
GIB = 1 << 30
MAX_SLOWDOWN = 1.05
MAX_MEMORY_GROWTH = 1.10
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A first guess of the bytes one order adds with its share of customers and its three lines; each
# batch of the fill measures it again.
GUESSED_BYTES_PER_ORDER = 700
# Module against raw, each as a ratio of one run's back-to-back pair, so that the machine's slower
# and faster moments cancel out: ratio -> (the module's measurement, the raw one).
RATIOS = {"dump_ratio": ("backup_duration", "raw_dump"), "dump_wall_ratio": ("backup_wall", "raw_dump"),
          "restore_ratio": ("restore_restore", "raw_restore")}

SCHEMA = """
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, full_name text NOT NULL, country text NOT NULL,
                        created_at timestamptz NOT NULL, balance numeric(12, 2) NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL,
                     total numeric(12, 2) NOT NULL, placed_at timestamptz NOT NULL, shipping_address text NOT NULL);
CREATE INDEX orders_customer_id ON orders (customer_id);
CREATE INDEX orders_placed_at ON orders (placed_at);
CREATE TABLE order_lines (id bigint PRIMARY KEY, order_id bigint NOT NULL, sku text NOT NULL, quantity int NOT NULL,
                          unit_price numeric(10, 2) NOT NULL, description text NOT NULL);
"""
# Orders first..last, one customer per eight orders, three lines per order.
FILL = """
INSERT INTO customers
SELECT n, 'customer' || n || '@example.com', initcap(left(md5(n::text), 8) || ' ' || right(md5(n::text), 10)),
       (ARRAY['JP', 'US', 'DE', 'FR', 'GB', 'BR', 'IN', 'AU'])[1 + n % 8],
       timestamptz '2020-01-01' + n * interval '17 seconds', round((random() * 10000)::numeric, 2)
FROM generate_series({first_customer}, {last_customer}) AS n;
INSERT INTO orders
SELECT n, 1 + floor(random() * greatest(n / 8, 1))::bigint,
       (ARRAY['placed', 'paid', 'shipped', 'delivered', 'refunded'])[1 + n % 5], round((random() * 500)::numeric, 2),
       timestamptz '2020-01-01' + n * interval '2 seconds',
       n % 997 || ' ' || (ARRAY['Sakura-dori', 'Main Street', 'Rue de Rivoli', 'Unter den Linden'])[1 + n % 4]
       || ', ' || upper(left(md5(n::text), 6))
FROM generate_series({first}, {last}) AS n;
INSERT INTO order_lines
SELECT n * 3 + line, n, 'SKU-' || lpad(((n * 31 + line) % 100000)::text, 6, '0'), 1 + (n + line) % 4,
       round((random() * 200)::numeric, 2), md5((n * 3 + line)::text) || ' ' || md5((n * 3 + line)::text || 'x')
FROM generate_series({first}, {last}) AS n, generate_series(0, 2) AS line;
"""

# Runs one module in this process the way Ansible's wrapper does: its arguments in, its JSON result
# out. Then one more line: the peak RSS of this process alone. (Not RUSAGE_CHILDREN: a child spawned
# from Python counts the parent's pages it started with, so it would only repeat this number.)
MODULE_RUNNER = """
import importlib, json, resource, sys
collections_path, repo, name = sys.argv[1:]
sys.path[:0] = [collections_path, repo]
from ansible.module_utils.testing import patch_module_args
module = importlib.import_module("ansible_collections.runbook.ops.plugins.modules." + name)
code = 0
with patch_module_args(json.loads(sys.stdin.read())):
    try:
        module.main()
    except SystemExit as exited:
        code = exited.code
print(json.dumps({"peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
sys.exit(code)
"""


def client_environment(cluster, database=DATABASE):
    """libpq's variables for a bench database, so that no password stands in any process's arguments."""
    inherited = {key: value for key, value in os.environ.items()
                 if not key.startswith("PG") and key != "DATABASE_URL"}
    return {**inherited, "PGHOST": cluster.host, "PGPORT": str(cluster.port), "PGUSER": SUPERUSER,
            "PGPASSWORD": PASSWORD, "PGDATABASE": database}


def machine_busy_seconds():
    """CPU seconds the machine has been busy since it booted, steal by the hypervisor included."""
    user, nice, system, dummy_idle, dummy_iowait, irq, softirq, steal = (
        int(ticks) for ticks in Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def process_cpu_seconds(pid, reaped_children=False):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0  # a backend that just ended: the postmaster's reaped children count it
    # utime, stime, then cutime, cstime: the children it waited for.
    return sum(int(ticks) for ticks in fields[11:15 if reaped_children else 13]) / CLOCK_TICKS


def own_cpu_seconds(postmaster):
    """CPU seconds of this benchmark: itself, the programs it ran, and the cluster's server processes."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    servers = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return (sum(each.ru_utime + each.ru_stime for each in usage) + process_cpu_seconds(postmaster, True)
            + sum(process_cpu_seconds(pid) for pid in servers))


def others_cpu_seconds(postmaster):
    """A counter of the CPU seconds used by everything else on the machine (kernel threads that write this
    benchmark's files back included): the noise in the timings."""
    return machine_busy_seconds() - own_cpu_seconds(postmaster)


def quiesce(cluster):
    # Each measurement starts with no dirty buffers and no pending writeback left by the one before.
    cluster.psql("CHECKPOINT")
    os.sync()


def database_size(cluster):
    return int(cluster.psql(f"SELECT pg_database_size('{DATABASE}')"))


def fill(cluster, target_bytes):
    """Create the bench database and grow it to the target size; return its tables' row counts."""
    cluster.psql(f"CREATE DATABASE {DATABASE}")
    cluster.psql(SCHEMA, DATABASE)
    orders, size, bytes_per_order = 0, database_size(cluster), GUESSED_BYTES_PER_ORDER
    while size < target_bytes:
        batch = max(1000, int((target_bytes - size) / bytes_per_order * 1.02))
        first, last = orders + 1, orders + batch
        cluster.psql(FILL.format(first=first, last=last, first_customer=(first - 1) // 8 + 1,
                                 last_customer=last // 8), DATABASE)
        grown = database_size(cluster)
        bytes_per_order = (grown - size) / batch
        orders, size = last, grown
    # Frozen, with hint bits set and statistics, so that the first dump does not pay for writing them.
    cluster.psql("VACUUM (FREEZE, ANALYZE)", DATABASE)
    return {"public.customers": orders // 8, "public.orders": orders, "public.order_lines": orders * 3}


def timed(command, env):
    """Wall seconds of a client program; a failure stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return elapsed


def run_module(name, args, env):
    """Run a module in its own process; return its result, with its wall time and peak RSS added."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MODULE_RUNNER, str(REPO / "collections"), str(REPO), name],
                          input=json.dumps(args), env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        result, usage = json.loads(lines[-2]), json.loads(lines[-1])
    except (IndexError, ValueError):
        raise SystemExit(f"{name} printed no result:\n{done.stdout}\n{done.stderr}") from None
    if done.returncode != 0 or result.get("failed"):
        raise SystemExit(f"{name} failed: {result.get('msg')}")
    return {**result, "wall": wall, **usage}


def back_to_back(raw, module, raw_first):
    """Measure the raw command and the module one right after the other; return (raw, module)."""
    if raw_first:
        return raw(), module()
    module_result = module()
    return raw(), module_result


def measure_backup(cluster, env, scratch, raw_first):
    raw_archive = scratch / "raw.dump"

    def raw():
        quiesce(cluster)
        return timed(["pg_dump", "--format", "custom", "--file", str(raw_archive)], env)

    def module():
        quiesce(cluster)
        return run_module("postgres_backup", {"backup_dir": str(scratch / "backups")}, env)

    raw_seconds, backup = back_to_back(raw, module, raw_first)
    raw_archive.unlink()
    return {"raw_dump": raw_seconds, "backup_duration": backup["duration"], "backup_wall": backup["wall"],
            "backup_peak": backup["peak_rss_kib"], "archive": backup["path"], "archive_size": backup["size_bytes"]}


def measure_restore(cluster, env, scratch, archive, rows, jobs, raw_first):
    def raw():
        cluster.psql(f"CREATE DATABASE {RAW_TARGET} TEMPLATE template0")
        quiesce(cluster)
        seconds = timed(["pg_restore", "--dbname", RAW_TARGET, *(["--jobs", str(jobs)] if jobs > 1 else []),
                         archive], env)
        cluster.psql(f"DROP DATABASE {RAW_TARGET}")
        return seconds

    def module():
        quiesce(cluster)
        return run_module("postgres_restore", {"backup": archive, "backup_dir": str(scratch / "backups"),
                                               "jobs": jobs, "expected_rows": rows}, env)

    raw_seconds, restore = back_to_back(raw, module, raw_first)
    return {"raw_restore": raw_seconds, **{f"restore_{step}": seconds for step, seconds in restore["timings"].items()},
            "restore_wall": restore["wall"], "restore_peak": restore["peak_rss_kib"]}


def measure_size(cluster, env, scratch, size_gb, args):
    """Fill the database to the size, measure it --runs times, and drop it; return medians and peaks."""
    rows = fill(cluster, size_gb * GIB)
    samples = collections.defaultdict(list)
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    try:
        size = database_size(cluster)
        started, others_before = time.perf_counter(), others_cpu_seconds(postmaster)
        for run in range(args.runs):
            raw_first = run % 2 == 0
            backup = measure_backup(cluster, env, scratch, raw_first)
            restore = measure_restore(cluster, env, scratch, backup.pop("archive"), rows, args.jobs, raw_first)
            measured = {**backup, **restore}
            measured.update({ratio: measured[module] / measured[raw] for ratio, (module, raw) in RATIOS.items()})
            for key, value in measured.items():
                samples[key].append(value)
            shutil.rmtree(scratch / "backups")
            # The restored database replaced the measured one: settle it as the fill did.
            cluster.psql("VACUUM (FREEZE, ANALYZE)", DATABASE)
        others = {"seconds": time.perf_counter() - started, "cpu": others_cpu_seconds(postmaster) - others_before}
    finally:
        cluster.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    summary = {key: max(values) if key.endswith("peak") else statistics.median(values)
               for key, values in samples.items()}
    return {"size": size, "rows": rows, "per_run": {ratio: samples[ratio] for ratio in RATIOS}, "others": others,
            **summary}


def mib(kib):
    return kib / 1024


def print_report(small, large, args):
    print(f"runs: {args.runs} (medians; peaks are the highest; a ratio is module / raw, the median of the runs' "
          f"back-to-back pairs), pg_restore jobs: {args.jobs}")
    for label, measured in (("small", small), ("large", large)):
        print(f"{label} database: {measured['size'] / GIB:.2f} GiB (pg_database_size), "
              f"{measured['rows']['public.order_lines']:,} order lines, archive {measured['archive_size'] / GIB:.2f} GiB")
    for measured in (small, large):
        others = measured["others"]
        share = others["cpu"] / others["seconds"] / os.cpu_count()
        print(f"while measuring at {measured['size'] / GIB:.2f} GiB ({others['seconds']:.0f} s), everything else on this "
              f"machine (other processes, kernel threads, steal) used {others['cpu']:.1f} CPU s, {100 * share:.0f} % of "
              f"its {os.cpu_count()} cores: the timings carry that noise")
    print("\nBackup (custom format)")
    print(f"{'size GiB':>9} {'raw pg_dump s':>14} {'module duration s':>18} {'ratio':>6} {'module wall s':>14} {'ratio':>6}")
    for measured in (small, large):
        print(f"{measured['size'] / GIB:9.2f} {measured['raw_dump']:14.2f} {measured['backup_duration']:18.2f} "
              f"{measured['dump_ratio']:6.3f} {measured['backup_wall']:14.2f} {measured['dump_wall_ratio']:6.3f}")
    print("\nRestore (swap mode; raw pg_restore into a fresh empty database)")
    print(f"{'size GiB':>9} {'raw pg_restore s':>17} {'module restore step s':>22} {'ratio':>6}")
    for measured in (small, large):
        print(f"{measured['size'] / GIB:9.2f} {measured['raw_restore']:17.2f} {measured['restore_restore']:22.2f} "
              f"{measured['restore_ratio']:6.3f}")
    print("\nThe restore module's other steps, s")
    steps = ("verify", "safety_backup", "analyze", "check", "swap", "total")
    print(f"{'size GiB':>9} " + " ".join(f"{step:>13}" for step in steps) + f" {'wall':>8}")
    for measured in (small, large):
        print(f"{measured['size'] / GIB:9.2f} " + " ".join(f"{measured['restore_' + step]:13.2f}" for step in steps)
              + f" {measured['restore_wall']:8.2f}")
    print("\nPeak RSS of the module process alone (without pg_dump and pg_restore), MiB")
    print(f"{'size GiB':>9} {'postgres_backup':>16} {'postgres_restore':>17}")
    for measured in (small, large):
        print(f"{measured['size'] / GIB:9.2f} {mib(measured['backup_peak']):16.1f} {mib(measured['restore_peak']):17.1f}")


def verdict(ok):
    return "within target" if ok else "OVER TARGET"


def percent(ratio):
    return f"{100 * (ratio - 1):+.1f} %"


def print_verdicts(small, large):
    print(f"\nTargets (at {large['size'] / GIB:.2f} GiB):")
    for what, ratio in (("backup duration vs raw pg_dump", "dump_ratio"),
                        ("backup wall time vs raw pg_dump", "dump_wall_ratio"),
                        ("restore step vs raw pg_restore", "restore_ratio")):
        runs = f" (runs: {', '.join(percent(each) for each in large['per_run'][ratio])})" \
            if len(large["per_run"][ratio]) > 1 else ""
        print(f"  {what}: {percent(large[ratio])}{runs} (target at most {percent(MAX_SLOWDOWN)}): "
              f"{verdict(large[ratio] <= MAX_SLOWDOWN)}")
    for name, key in (("postgres_backup", "backup_peak"), ("postgres_restore", "restore_peak")):
        growth = large[key] / small[key]
        print(f"  {name} peak RSS {mib(small[key]):.1f} -> {mib(large[key]):.1f} MiB, {percent(growth)} "
              f"(flat: at most {percent(MAX_MEMORY_GROWTH)}): {verdict(growth <= MAX_MEMORY_GROWTH)}")


def stopped(signum, frame):
    raise SystemExit(f"Stopped by signal {signum}.")


@contextlib.contextmanager
def quiet_cluster():
    """A throwaway cluster without autovacuum, stopped and removed on the way out."""
    # Stopped from outside, still stop the cluster and remove its folder on the way out.
    signal.signal(signal.SIGTERM, stopped)
    cluster = ThrowawayCluster()
    try:
        # Autovacuum would start on freshly written tables at random moments, under one measurement or the other.
        cluster.psql("ALTER SYSTEM SET autovacuum = off")
        cluster.psql("SELECT pg_reload_conf()")
        yield cluster
    finally:
        cluster.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.bench.database", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gb", type=float, default=1.0, help="the large size, in GiB (default 1.0)")
    parser.add_argument("--small-gb", type=float, default=0.1, help="the small size, in GiB (default 0.1)")
    parser.add_argument("--runs", type=int, default=3, help="measurements per size (default 3)")
    parser.add_argument("--jobs", type=int, default=1, help="pg_restore jobs, for the module and raw (default 1)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.jobs < 1 or not 0 < args.small_gb < args.size_gb:
        parser.error("--runs and --jobs must be at least 1, and --small-gb more than 0 and less than --size-gb.")

    started = time.perf_counter()
    with quiet_cluster() as cluster, tempfile.TemporaryDirectory(prefix="runbook-bench-") as scratch:
        env = client_environment(cluster)
        small = measure_size(cluster, env, Path(scratch), args.small_gb, args)
        large = measure_size(cluster, env, Path(scratch), args.size_gb, args)
    print_report(small, large, args)
    print_verdicts(small, large)
    print(f"\nbenchmark wall time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
