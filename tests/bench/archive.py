"""Benchmark: postgres_archive next to one ``WITH moved AS (DELETE ... RETURNING *) INSERT ...`` statement.

``python -m tests.bench.archive [--rows 2000000] [--young-rows 500000] [--small-rows 20000] [--runs 3]``
(``make bench``). It starts a throwaway PostgreSQL cluster on 127.0.0.1 and fills a template database with an
append-only event log: ``--rows`` rows older than the cutoff, then ``--young-rows`` younger ones, with a primary
key but no index on the cutoff column (the case where batches that search the table again get slower with
every batch). The archive table exists, with an index on the column, for both contenders alike.

Each run copies the template into a fresh database twice and moves the old rows, back to back and in
alternating order: once with the single statement (the floor: one transaction, no batches), once with the
module at its default batch size, run as its own Python process as Ansible runs it. After each, the rows are
counted: the archive must hold exactly the old rows and the table exactly the young ones.

Printed: both throughputs (rows per second; the module's from the duration it reports, connecting and
checking included), their ratio (module / single statement, the median of each run's back-to-back pair),
the module's longest batch, and the module process's peak RSS when it moves ``--small-rows`` rows and when
it moves ``--rows``.

Targets: a ratio of at least 0.8, no batch longer than 1 s at the default batch size, and the peak memory
flat (at most 10 % more for the big run than for the small one).
"""
import argparse
import statistics
import time

from tests.bench.database import client_environment, quiesce, quiet_cluster, run_module, verdict

TEMPLATE = "archive_template"
DATABASE = "archive_bench"
MIN_RATIO = 0.8
MAX_BATCH_SECONDS = 1.0
MAX_MEMORY_GROWTH = 1.10
CUTOFF = "2024-01-01 00:00:00+00"

SCHEMA = """
CREATE TABLE events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, account_id bigint NOT NULL,
                     kind text NOT NULL, payload text NOT NULL);
CREATE TABLE events_archive (LIKE events);
CREATE INDEX ON events_archive (created_at);
"""
# Old rows first, one a second up to the cutoff, then the young ones: an append-only log.
FILL = """
INSERT INTO events
SELECT n, timestamptz '{cutoff}' - ({old} - n + 1) * interval '1 second', n % 5000,
       (ARRAY['login', 'order', 'refund', 'export'])[1 + n % 4], md5(n::text) || ' ' || md5((n * 7)::text)
FROM generate_series(1, {old}) AS n;
INSERT INTO events
SELECT n, timestamptz '{cutoff}' + (n - {old}) * interval '1 second', n % 5000, 'login', md5(n::text)
FROM generate_series({old} + 1, {old} + {young}) AS n;
"""
SINGLE_STATEMENT = f"""
WITH moved AS (DELETE FROM events WHERE created_at < '{CUTOFF}' RETURNING *)
INSERT INTO events_archive SELECT * FROM moved
"""


def fill_template(cluster, old, young):
    cluster.psql(f"DROP DATABASE IF EXISTS {TEMPLATE}")
    cluster.psql(f"CREATE DATABASE {TEMPLATE}")
    cluster.psql(SCHEMA, TEMPLATE)
    cluster.psql(FILL.format(cutoff=CUTOFF, old=old, young=young), TEMPLATE)
    # Frozen, with hint bits set and statistics, so that the first contender does not pay for writing them.
    cluster.psql("VACUUM (FREEZE, ANALYZE) events", TEMPLATE)


def fresh_copy(cluster):
    cluster.psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    # A file copy: the rows arrive frozen and with their hint bits, as in the template.
    cluster.psql(f"CREATE DATABASE {DATABASE} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
    quiesce(cluster)


def check_moved(cluster, old, young):
    counts = cluster.psql("SELECT (SELECT count(*) FROM events_archive) || ' ' || (SELECT count(*) FROM events) "
                          f"|| ' ' || (SELECT count(*) FROM events WHERE created_at < '{CUTOFF}')", DATABASE)
    if counts != f"{old} {young} 0":
        raise SystemExit(f"After archiving, archive / table / old rows left are {counts}, not {old} {young} 0.")


def single_statement(cluster, old, young):
    fresh_copy(cluster)
    started = time.perf_counter()
    cluster.psql(SINGLE_STATEMENT, DATABASE)
    seconds = time.perf_counter() - started
    check_moved(cluster, old, young)
    return seconds


def module(cluster, env, old, young):
    fresh_copy(cluster)
    result = run_module("postgres_archive", {"table": "events", "column": "created_at", "before": CUTOFF}, env)
    check_moved(cluster, old, young)
    if result["rows_moved"] != old or not result["complete"]:
        raise SystemExit(f"postgres_archive reported {result['rows_moved']} rows, complete={result['complete']}.")
    return result


def measure(cluster, env, args):
    """Runs of the two, back to back, in alternating order; the small run's result for its memory."""
    fill_template(cluster, args.small_rows, args.young_rows // 10)
    small = module(cluster, env, args.small_rows, args.young_rows // 10)
    fill_template(cluster, args.rows, args.young_rows)
    runs = []
    for run in range(args.runs):
        if run % 2 == 0:
            raw_seconds, result = single_statement(cluster, args.rows, args.young_rows), \
                module(cluster, env, args.rows, args.young_rows)
        else:
            result = module(cluster, env, args.rows, args.young_rows)
            raw_seconds = single_statement(cluster, args.rows, args.young_rows)
        runs.append({"raw": raw_seconds, "module": result["duration"], "wall": result["wall"],
                     "ratio": raw_seconds / result["duration"], "longest_batch": result["longest_batch"],
                     "batches": result["batches"], "peak": result["peak_rss_kib"]})
    cluster.psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    return small, runs


def report(small, runs, args):
    raw, moved = statistics.median(r["raw"] for r in runs), statistics.median(r["module"] for r in runs)
    ratio = statistics.median(r["ratio"] for r in runs)
    longest = max(r["longest_batch"] for r in runs)
    big_peak = max(r["peak"] for r in runs)
    print(f"rows moved: {args.rows:,} (of {args.rows + args.young_rows:,}), runs: {args.runs}, "
          f"default batch size, {runs[0]['batches']} batches")
    print(f"\n{'run':>4} {'single statement s':>19} {'module s':>9} {'module wall s':>14} {'ratio':>6} "
          f"{'longest batch s':>16}")
    for number, run in enumerate(runs, 1):
        print(f"{number:4} {run['raw']:19.2f} {run['module']:9.2f} {run['wall']:14.2f} {run['ratio']:6.3f} "
              f"{run['longest_batch']:16.3f}")
    print(f"\nthroughput, single statement: {args.rows / raw:,.0f} rows/s (median)")
    print(f"throughput, postgres_archive: {args.rows / moved:,.0f} rows/s (median, from its reported duration)")
    print("\nPeak RSS of the module process, MiB")
    print(f"  {args.small_rows:>9,} rows: {small['peak_rss_kib'] / 1024:.1f}")
    print(f"  {args.rows:>9,} rows: {big_peak / 1024:.1f}")
    growth = big_peak / small["peak_rss_kib"]
    print("\nTargets:")
    each = ", ".join(f"{run['ratio']:.3f}" for run in runs)
    print(f"  throughput ratio (module / single statement): {ratio:.3f} (runs: {each}), target at least "
          f"{MIN_RATIO}: {verdict(ratio >= MIN_RATIO)}")
    print(f"  longest batch: {longest:.3f} s, target under {MAX_BATCH_SECONDS:g} s: "
          f"{verdict(longest < MAX_BATCH_SECONDS)}")
    print(f"  peak RSS {small['peak_rss_kib'] / 1024:.1f} -> {big_peak / 1024:.1f} MiB, {100 * (growth - 1):+.1f} % "
          f"(flat: at most {100 * (MAX_MEMORY_GROWTH - 1):+.0f} %): {verdict(growth <= MAX_MEMORY_GROWTH)}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.bench.archive", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000, help="old rows to move (default 2,000,000)")
    parser.add_argument("--young-rows", type=int, default=500_000, help="younger rows that stay (default 500,000)")
    parser.add_argument("--small-rows", type=int, default=20_000, help="old rows of the small run (default 20,000)")
    parser.add_argument("--runs", type=int, default=3, help="back-to-back pairs (default 3)")
    args = parser.parse_args(argv)
    if args.runs < 1 or not 0 < args.small_rows < args.rows or args.young_rows < 10:
        parser.error("--runs must be at least 1, --small-rows more than 0 and less than --rows, --young-rows at "
                     "least 10.")

    started = time.perf_counter()
    with quiet_cluster() as cluster:
        small, runs = measure(cluster, client_environment(cluster, DATABASE), args)
    report(small, runs, args)
    print(f"\nbenchmark wall time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
