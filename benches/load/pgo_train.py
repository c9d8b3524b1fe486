#!/usr/bin/env python3
"""The training run of a profile-guided (PGO) build (scripts/build-pgo.sh):
drives an instrumented Portcullis through the work a gateway does in front
of an API, so that the compiler learns which paths are hot. Each process of
the instrumented binary writes its profile when it exits.

    pgo_train.py --binary target/pgo/instrumented/release/portcullis

The mix, a few seconds each, on a config with more routes than the load
benchmark's: bearer JWTs on a required route, the same token on an optional
route, open routes with and without a token, refusals (no token, a forged
token, unknown path, wrong method), request bodies, the auth API's mobile
OTP logins and password logins on SQLite, OTP logins on Redis, and idle
keep-alive connections. Every step checks its answers first, so a drifted
config fails here instead of profiling a stream of errors.

Needs wrk, nginx (the upstream), redis-server and taskset, as the load
benchmark does."""
import argparse, subprocess, sys, time, types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
from bench import CLIENT_CPU, free_port, http_status, stop  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


class Training(bench.Bench):
    def start_gateway(self, port, store, hook):
        """A gateway with the auth API on and a handful of routes."""
        return self.start_gateway_config("train", port, store, self.auth_config(hook), """\
  - {name: orders, path: /api/orders/, upstream: up, auth: required,
     forward_claims: {X-Auth-User-Id: uid, X-Auth-Brand: org}}
  - {name: profile, path: /api/profile, upstream: up, auth: required, methods: [GET, PUT]}
  - {name: catalog, path: /api/catalog/, upstream: up, auth: optional}
  - {name: static, path: /static/, upstream: up, auth: none}
  - {name: docs, path: /docs/, host: docs.example.com, upstream: up, auth: none}
  - {name: health, path: /health, upstream: up, auth: none, methods: [GET, HEAD]}
""")

    def expect(self, url, code, *curl_args):
        got = http_status(url, *curl_args)
        if got != str(code):
            raise RuntimeError(f"training: {url} {' '.join(curl_args)} answered {got}, expected {code}")

    def drive(self, url, seconds, *wrk_args):
        """wrk for `seconds`; refusals are part of the mix, so no status check here."""
        subprocess.run(["taskset", "-c", CLIENT_CPU, "wrk", "-t1", "-c32", f"-d{seconds}s",
                        *wrk_args, url], capture_output=True, check=True)

    def proxy_mix(self, port):
        base = f"http://127.0.0.1:{port}"
        auth = f"Authorization: Bearer {self.token}"
        forged = "Authorization: Bearer " + self.token[:-4] + ("AAAA" if not self.token.endswith("AAAA") else "BBBB")
        post = self.dir / "post.lua"
        post.write_text('wrk.method = "POST"\nwrk.body = string.rep("{\\"item\\":42,\\"note\\":\\"x\\"}", 40)\n'
                        'wrk.headers["Content-Type"] = "application/json"\n')
        checks = [(f"{base}/api/orders/17", 200, ["-H", auth]),
                  (f"{base}/api/orders/17", 401, []),
                  (f"{base}/api/orders/17", 401, ["-H", forged]),
                  (f"{base}/api/profile", 200, ["-H", auth]),
                  (f"{base}/api/profile", 405, ["-X", "DELETE", "-H", auth]),
                  (f"{base}/api/catalog/shoes?page=2", 200, []),
                  (f"{base}/api/catalog/shoes", 200, ["-H", auth]),
                  (f"{base}/static/app.js", 200, []),
                  (f"{base}/docs/intro", 200, ["-H", "Host: docs.example.com"]),
                  (f"{base}/nowhere", 404, [])]
        for url, code, extra in checks:
            self.expect(url, code, *extra)
        for url, seconds, extra in [
                (f"{base}/api/orders/17?expand=items", 4, ["-H", auth]),
                (f"{base}/api/orders/17", 2, ["-H", auth, "-s", str(post)]),
                (f"{base}/api/profile", 2, ["-H", auth]),
                (f"{base}/api/catalog/shoes?page=2", 2, []),
                (f"{base}/api/catalog/shoes", 2, ["-H", auth]),
                (f"{base}/static/app.js", 3, []),
                (f"{base}/static/app.js", 1, ["-H", auth]),
                (f"{base}/docs/intro", 1, ["-H", "Host: docs.example.com"]),
                (f"{base}/api/orders/17", 1, []),
                (f"{base}/api/orders/17", 1, ["-H", forged]),
                (f"{base}/nowhere", 1, [])]:
            self.drive(url, seconds, *extra)

    def auth_mix(self, gw, port, hook):
        res = self.auth_result(self.auth_load("logins", port, gw.pid, self.args.duration,
                                              ["--webhook-port", str(hook), "--concurrency", "8"]),
                               "training logins")
        email, password = "train@example.com", "correct horse battery"
        self.add_password_user(gw, email, password)
        storm = self.auth_result(self.auth_load("storm", port, gw.pid, 2,
                                                ["--concurrency", "4", "--email", email, "--password", password]),
                                 "training password logins")
        return res["completed"], storm["completed"]

    def idle_connections(self, port, n):
        holder = subprocess.Popen([sys.executable, str(ROOT / "benches/load/hold_connections.py"),
                                   str(port), str(n), "/static/x"], stdout=subprocess.PIPE, text=True)
        line = holder.stdout.readline().strip()
        time.sleep(1)
        holder.terminate()
        holder.wait()
        if not line.startswith("held"):
            raise RuntimeError(f"training: holding idle connections failed: {line!r}")

    def run(self):
        self.start_upstream()
        port, hook = free_port(), free_port()
        gw = self.start_gateway(port, f"{{path: {self.dir}/train.db}}", hook)
        self.proxy_mix(port)
        logins, passwords = self.auth_mix(gw, port, hook)
        self.idle_connections(port, 1000)
        stop(gw)
        print(f"trained on SQLite: proxy mix, {logins} OTP logins, {passwords} password logins", flush=True)
        _, redis_port = self.start_redis()
        port, hook = free_port(), free_port()
        store = f'{{kind: redis, url: "redis://127.0.0.1:{redis_port}", key_prefix: "train:"}}'
        gw = self.start_gateway(port, store, hook)
        self.proxy_mix(port)
        logins, _ = self.auth_mix(gw, port, hook)
        stop(gw)
        print(f"trained on Redis: proxy mix, {logins} OTP logins", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, required=True, help="the instrumented build")
    ap.add_argument("--duration", type=int, default=4, help="seconds of OTP logins per store")
    args = ap.parse_args()
    if not args.binary.is_file():
        sys.exit(f"no such binary: {args.binary}")
    t = Training(types.SimpleNamespace(binary=args.binary, duration=args.duration, connections=32))
    try:
        t.run()
    finally:
        for p in t.procs:
            stop(p)


if __name__ == "__main__":
    main()
