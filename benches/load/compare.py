#!/usr/bin/env python3
"""Two builds of Portcullis side by side, for one optimisation's before/after:
both serve the load benchmark's config (JWT route and no-auth route) to the
same upstream, pinned to the same core, and wrk drives them in interleaved
rounds (old JWT, old open, new JWT, new open, ...). Prints every round and
the medians and new/old ratios per route.

    cp target/release/portcullis /tmp/portcullis-before   # build and keep the old one
    # ... change, cargo build --release ...
    python3 benches/load/compare.py /tmp/portcullis-before target/release/portcullis
    python3 benches/load/compare.py --new-lean target/release/portcullis target/release/portcullis

With --instructions it counts instead of timing: each build runs under
valgrind's callgrind and serves two request counts per route (hey, keep-alive);
the difference of the two totals over the difference of the counts is the
instructions per request, the same from run to run whatever else the machine
does. It is blind to what costs time without instructions (cache misses,
system calls, waiting), so it complements the timed rounds, where noise
allows them, rather than replacing them.

Needs wrk, nginx and taskset (benches/load/run.sh installs them); hey and
valgrind for --instructions."""
import argparse, re, signal, statistics, subprocess, sys, time, types
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
    ap.add_argument("--new-lean", action="store_true",
                    help="run the new build with server.request_ids and server.forwarded_headers off "
                         "(with the same binary twice: what those headers cost)")
    ap.add_argument("--instructions", action="store_true",
                    help="count instructions per request under callgrind instead of timing req/s")
    ap.add_argument("--requests", default="2000,10000",
                    help="with --instructions: the two request counts per route")
    ap.add_argument("--bare-pingora", type=Path, default=None,
                    help="with --instructions: also count this bare Pingora proxy (examples/bare_pingora.rs)")
    args = ap.parse_args()
    for binary in (args.old, args.new):
        if not binary.is_file():
            sys.exit(f"no such binary: {binary}")

    b = bench.Bench(types.SimpleNamespace(duration=args.duration, connections=args.connections))
    if args.instructions:
        return count_instructions(b, args)
    auth = f"Authorization: Bearer {b.token}"
    done = False
    try:
        b.start_upstream()
        urls = {}
        for build, binary in (("old", args.old), ("new", args.new)):
            b.args.binary = binary
            port = bench.free_port()
            b.start_portcullis(port, lean=build == "new" and args.new_lean)
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
        done = True
    finally:
        b.finish(keep=not done)


def count_instructions(b, args):
    small, large = (int(n) for n in args.requests.split(","))
    auth = f"Authorization: Bearer {b.token}"
    routes = {"jwt": ("/jwt/x", auth), "open": ("/open/x", None)}

    def gateway(binary, lean):
        def start(port, prefix):
            b.args.binary = binary
            return b.start_portcullis(port, lean=lean, prefix=prefix)
        return start

    runs = [(build, route, gateway(binary, build == "new" and args.new_lean), path, header)
            for build, binary in (("old", args.old), ("new", args.new))
            for route, (path, header) in routes.items()]
    if args.bare_pingora:
        b.args.bare_pingora = args.bare_pingora
        runs.append(("bare-pingora", "open", lambda port, prefix: b.start_bare_pingora(port, prefix), "/x", None))
    per_request = {}
    try:
        b.start_upstream()
        for build, route, start, path, header in runs:
            totals = [instructions_for(b, f"{build}-{route}", start, path, header, n) for n in (small, large)]
            per_request[(build, route)] = (totals[1] - totals[0]) / (large - small)
            print(f"{build} {route}: {totals[0]:,} instructions for {small:,} requests, "
                  f"{totals[1]:,} for {large:,}: {per_request[(build, route)]:,.0f} per request", flush=True)
    finally:
        # The callgrind outputs are what one reads next (callgrind_annotate).
        b.finish(keep=True)
    print()
    for route in routes:
        old, new = per_request[("old", route)], per_request[("new", route)]
        print(f"{route}: instructions per request old {old:,.0f}, new {new:,.0f}; new/old {new / old:.3f}")
    if ("bare-pingora", "open") in per_request:
        bare = per_request[("bare-pingora", "open")]
        print(f"bare Pingora: {bare:,.0f} per request; new jwt / bare {per_request[('new', 'jwt')] / bare:.3f}, "
              f"new open / bare {per_request[('new', 'open')] / bare:.3f}")


def instructions_for(b, label, start, path, header, requests):
    """Instructions one proxy process spends on `requests` requests to
    `path` under callgrind (`start(port, prefix)` starts it)."""
    out = b.dir / f"callgrind-{label}-{requests}.out"
    # Counting starts after start-up and a first request (one-time work such
    # as the TSC clock's calibration, whose length varies from run to run).
    prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
              "--instr-atstart=no"]
    port = bench.free_port()
    p = start(port, prefix)
    time.sleep(6)  # past the allocator's start-up window (src/allocator.rs)
    url = f"http://127.0.0.1:{port}{path}"
    b.sanity(label, url, header)
    subprocess.run(["callgrind_control", "--instr=on", str(p.pid)], check=True, capture_output=True)
    cmd = ["hey", "-n", str(requests), "-c", "4"] + (["-H", header] if header else []) + [url]
    subprocess.run(cmd, check=True, capture_output=True)
    p.send_signal(signal.SIGINT)
    p.wait(120)
    b.procs.remove(p)
    summary = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
    if not summary:
        raise RuntimeError(f"no callgrind summary in {out}")
    return int(summary.group(1))


if __name__ == "__main__":
    main()
