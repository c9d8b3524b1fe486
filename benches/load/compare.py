#!/usr/bin/env python3
"""Two builds of Portcullis side by side, for one optimisation's before/after:
both serve the load benchmark's config (JWT route and no-auth route) to the
same upstream, pinned to the same core, and wrk drives them in interleaved
rounds (old JWT, old open, new JWT, new open, ...). Prints every round and
the medians and new/old ratios per route.

    cp target/release/portcullis /tmp/portcullis-before   # build and keep the old one
    # ... change, cargo build --release ...
    python3 benches/load/compare.py /tmp/portcullis-before target/release/portcullis

Needs wrk, nginx and taskset (benches/load/run.sh installs them)."""
import argparse, statistics, sys, time, types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old", type=Path, help="the build before the change")
    ap.add_argument("new", type=Path, help="the build after the change")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=50)
    args = ap.parse_args()
    for binary in (args.old, args.new):
        if not binary.is_file():
            sys.exit(f"no such binary: {binary}")

    b = bench.Bench(types.SimpleNamespace(duration=args.duration, connections=args.connections))
    auth = f"Authorization: Bearer {b.token}"
    try:
        b.start_upstream()
        urls = {}
        for build, binary in (("old", args.old), ("new", args.new)):
            b.args.binary = binary
            port = bench.free_port()
            b.start_portcullis(port)
            urls[build] = {"jwt": (f"http://127.0.0.1:{port}/jwt/x", auth),
                           "open": (f"http://127.0.0.1:{port}/open/x", None)}
        time.sleep(6)  # past the allocator's start-up window (src/allocator.rs)
        for build in urls:
            for route, (url, header) in urls[build].items():
                b.sanity(f"{build} {route}", url, header)

        rps = {(build, route): [] for build in urls for route in ("jwt", "open")}
        for r in range(args.rounds):
            for build in urls:
                for route, (url, header) in urls[build].items():
                    value, errors = b.wrk(url, header)
                    rps[(build, route)].append(value)
                    print(f"round {r + 1} {build} {route}: {value:,.0f} req/s {errors}".rstrip(), flush=True)
        print()
        for route in ("jwt", "open"):
            old, new = rps[("old", route)], rps[("new", route)]
            per_round = [n / o for o, n in zip(old, new)]
            print(f"{route}: old {statistics.median(old):,.0f}, new {statistics.median(new):,.0f} req/s; "
                  f"new/old median {statistics.median(per_round):.3f} "
                  f"(rounds {', '.join(f'{x:.3f}' for x in per_round)})")
    finally:
        for p in b.procs:
            bench.stop(p)


if __name__ == "__main__":
    main()
