"""Run the fakes standalone: ``python -m tests.fakes --seed FILE --ready-file PATH``.

The ready file is written atomically once all five servers listen, so a
waiting script never reads half a file; it is removed again on shutdown so a
stale one cannot be mistaken for the next run's.
"""
import argparse
import json
import os
import signal
import threading
from pathlib import Path

from . import SANDBOX_SEED, FakeServices


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description=__doc__)
    parser.add_argument("--seed", default=str(SANDBOX_SEED),
                        help="JSON with keys vercel, slack, health, statuspage, pagerduty")
    for name in ("vercel", "slack", "health", "statuspage", "pagerduty"):
        parser.add_argument(f"--{name}-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ready-file", help="where to write the URLs once listening")
    return parser.parse_args(argv)


def write_ready_file(path, services):
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps({**services.urls(), "pid": os.getpid()}), encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    with FakeServices(args.seed, args.vercel_port, args.slack_port, args.health_port, args.statuspage_port,
                      args.pagerduty_port) as services:
        if args.ready_file:
            write_ready_file(args.ready_file, services)
        print(json.dumps(services.urls()), flush=True)
        try:
            while not stopping.wait(0.5):  # short waits keep the main thread responsive to signals
                pass
        finally:
            if args.ready_file:
                Path(args.ready_file).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
