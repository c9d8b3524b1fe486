#!/usr/bin/env python3
"""Side-by-side load benchmark of Portcullis and its peers.

Every contender proxies to the same upstream (an nginx answering a fixed
200), is pinned to CPU 0 with one worker, and is driven by the same wrk
client on CPU 1 (the upstream shares CPU 1). Rounds are interleaved
(A B C ... A B C ...) and medians reported, with ratios, because absolute
numbers on a shared machine drift. Then the auth API: complete mobile OTP
logins per second on SQLite and on Redis, and the proxy's latency while a
password/validate storm runs. Writes benches/results/latest.md.
"""
import argparse, base64, hashlib, hmac, json, os, platform, re, signal, socket
import shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"benchmark-secret-0123456789abcdef-0123456789"  # HS256, 44 bytes
PROXY_CPU, CLIENT_CPU = "0", "1"
WARM_UP_SECONDS = 2


_ports_given = set()


def free_port():
    """A port nobody listens on now and never handed out before in this run
    (the kernel may offer a just-closed port again)."""
    while True:
        s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
        if p not in _ports_given:
            _ports_given.add(p)
            return p


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token():
    """A USER token exactly as Portcullis issues them (HS256, kid bench-1)."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT", "kid": "bench-1"}
    claims = {"iss": "portcullis", "aud": "api", "sub": "u-bench", "uid": "u-bench",
              "jti": "bench-jti-0001", "iat": now, "exp": now + 3 * 3600, "rol": "USER",
              "org": "DEMO", "dev": None, "idv": ["EMAIL|bench@example.com"], "fam": "bench-fam"}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    sig = hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close(); return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def pinned(cpu, argv, **kw):
    return subprocess.Popen(["taskset", "-c", cpu] + argv, stdout=subprocess.DEVNULL,
                            stderr=kw.pop("stderr", subprocess.DEVNULL), **kw)


def http_status(url, *curl_args):
    """The status code `url` answers (curl's text; "000" when nothing answers)."""
    return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *curl_args, url],
                          capture_output=True, text=True).stdout


def stop(p):
    if p and p.poll() is None:
        p.send_signal(signal.SIGINT)
        try: p.wait(5)
        except subprocess.TimeoutExpired: p.kill(); p.wait()


class Bench:
    def __init__(self, args):
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="portcullis-bench-"))
        self.token = mint_token()
        self.procs = []
        self.upstream_port = free_port()

    # --- servers -----------------------------------------------------------
    def finish(self, keep):
        """Stops every process; removes the scratch folder (configs, logs,
        stores) unless `keep`, and then says where it is."""
        for p in self.procs: stop(p)
        if keep:
            print(f"configs and logs kept in {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def start_upstream(self):
        conf = self.dir / "upstream.conf"
        conf.write_text(f"""daemon off; worker_processes 1; pid {self.dir}/upstream.pid;
error_log {self.dir}/upstream-error.log crit;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{self.upstream_port} reuseport backlog=4096;
    location / {{ default_type application/json; return 200 '{{"ok":true}}'; }} }} }}
""")
        self.procs.append(pinned(CLIENT_CPU, ["nginx", "-c", str(conf), "-p", str(self.dir)]))
        wait_port(self.upstream_port)

    def start_portcullis(self, port, store=None, auth="", binary=None, lean=False, prefix=()):
        """`auth`: extra config for the auth API measurements (brands, code
        delivery, rate limits); empty for the proxy contenders. `binary`:
        another build than --binary (the PGO build). `lean`: request ids and
        X-Forwarded-* off, so a proxied request gets only the identity
        headers, as from the plain HAProxy contender. `prefix`: a command
        the gateway runs under (valgrind)."""
        store = store or f"{{path: {self.dir}/portcullis-{port}.db}}"
        limits = "" if auth else "limits: {rate: {proxy_per_subject: null}}"
        server = ", request_ids: false, forwarded_headers: false" if lean else ""
        return self.start_gateway_config("portcullis", port, store, limits + auth, """\
  - {name: jwt, path: /jwt/, upstream: up, auth: required,
     forward_claims: {X-Auth-User-Id: uid, X-Auth-Brand: org}}
  - {name: open, path: /open/, upstream: up, auth: none}
""", binary, server, prefix)

    def start_gateway_config(self, name, port, store, extra, routes, binary=None, server="", prefix=()):
        """A gateway pinned to the proxy CPU with one worker, the bench's
        signing key, `extra` top-level config, one upstream `up` and `routes`
        (YAML list items), `server`: more server keys (", key: value");
        its config and log are `{name}-{port}.*`."""
        secret = self.dir / "bench.secret"; secret.write_bytes(SECRET)
        conf = self.dir / f"{name}-{port}.yaml"
        conf.write_text(f"""server: {{threads: 1, access_log: false, log_level: warn,
  pid_file: {self.dir}/{name}-{port}.pid, upgrade_sock: {self.dir}/{name}-{port}.sock{server}}}
listen: [{{address: 127.0.0.1:{port}}}]
admin: {{address: 127.0.0.1:{free_port()}}}
store: {store}
tokens:
  signing: [{{kid: bench-1, alg: HS256, secret_file: {secret}}}]
{extra}
upstreams:
  up: {{backends: [127.0.0.1:{self.upstream_port}]}}
routes:
{routes}""")
        p = pinned(PROXY_CPU, [*prefix, str(binary or self.args.binary), "run", "-c", str(conf)],
                   stderr=open(self.dir / f"{name}-{port}.log", "w"))
        p.config = conf
        self.procs.append(p); wait_port(port, timeout=120 if prefix else 20); return p

    def start_bare_pingora(self, port, prefix=()):
        """examples/bare_pingora.rs: Pingora alone, no auth, one worker;
        `prefix`: a command it runs under (valgrind)."""
        p = pinned(PROXY_CPU, [*prefix, str(self.args.bare_pingora), f"127.0.0.1:{port}",
                               f"127.0.0.1:{self.upstream_port}"],
                   stderr=open(self.dir / "bare-pingora.log", "w"))
        self.procs.append(p); wait_port(port, timeout=120 if prefix else 20); return p

    def start_redis(self):
        port = free_port()
        p = pinned(CLIENT_CPU, ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no"])
        self.procs.append(p); wait_port(port); return p, port

    def start_haproxy(self, port, same_headers=False):
        """`same_headers`: also the headers Portcullis sets by default on every
        proxied request (X-Forwarded-For, X-Forwarded-Proto, a UUID v4
        X-Request-Id on the request and the response), for a comparison at
        equal work; without it, only the check and the two identity headers."""
        conf = self.dir / f"haproxy-{port}.cfg"
        extra = ("  option forwardfor\n"
                 "  unique-id-format %[uuid(4)]\n"
                 "  unique-id-header X-Request-Id\n"
                 "  http-request set-header X-Forwarded-Proto http\n"
                 "  http-response set-header X-Request-Id %[unique-id]\n") if same_headers else ""
        conf.write_text(f"""global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:{port}
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.now) date
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
  http-request deny deny_status 401 unless {{ var(txn.bearer),jwt_header_query('$.alg') -m str HS256 }}
  http-request deny deny_status 401 unless {{ var(txn.bearer),jwt_verify("HS256","{SECRET.decode()}") -m int 1 }}
  http-request deny deny_status 401 unless {{ var(txn.bearer),jwt_payload_query('$.iss') -m str portcullis }}
  http-request deny deny_status 401 if {{ var(txn.exp),sub(txn.now) -m int lt 0 }}
  http-request del-header X-Auth-User-Id
  http-request del-header X-Auth-Brand
  http-request set-header X-Auth-User-Id %[var(txn.bearer),jwt_payload_query('$.uid')]
  http-request set-header X-Auth-Brand %[var(txn.bearer),jwt_payload_query('$.org')]
{extra}  default_backend be
backend be
  server up 127.0.0.1:{self.upstream_port}
""")
        p = pinned(PROXY_CPU, ["haproxy", "-db", "-f", str(conf)])
        self.procs.append(p); wait_port(port); return p

    def start_nginx_proxy(self, port):
        conf = self.dir / "nginx-proxy.conf"
        conf.write_text(f"""daemon off; worker_processes 1; pid {self.dir}/nginx-proxy.pid;
error_log {self.dir}/nginx-proxy-error.log crit;
events {{ worker_connections 8192; }}
http {{ access_log off; keepalive_requests 1000000;
  upstream up {{ server 127.0.0.1:{self.upstream_port}; keepalive 64; }}
  server {{ listen 127.0.0.1:{port} backlog=4096;
    location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }} }} }}
""")
        p = pinned(PROXY_CPU, ["nginx", "-c", str(conf), "-p", str(self.dir)])
        self.procs.append(p); wait_port(port); return p

    # --- measurement -------------------------------------------------------
    def contenders(self):
        auth = f"Authorization: Bearer {self.token}"
        pj, pl, po, bp, hp, hs, nx = (free_port() for _ in range(7))
        self.portcullis_pid = self.start_portcullis(pj).pid
        self.start_portcullis(pl, lean=True)
        self.start_portcullis(po)
        self.start_bare_pingora(bp)
        self.start_haproxy(hp)
        self.start_haproxy(hs, same_headers=True)
        self.start_nginx_proxy(nx)
        pgo = []
        if getattr(self.args, "pgo_binary", None):
            gj, gl, go = free_port(), free_port(), free_port()
            self.start_portcullis(gj, binary=self.args.pgo_binary)
            self.start_portcullis(gl, binary=self.args.pgo_binary, lean=True)
            self.start_portcullis(go, binary=self.args.pgo_binary)
            pgo = [("portcullis-jwt-pgo", f"http://127.0.0.1:{gj}/jwt/x", auth),
                   ("portcullis-jwt-lean-pgo", f"http://127.0.0.1:{gl}/jwt/x", auth),
                   ("portcullis-none-pgo", f"http://127.0.0.1:{go}/open/x", None)]
        return [
            ("portcullis-jwt", f"http://127.0.0.1:{pj}/jwt/x", auth),
            # server.request_ids and server.forwarded_headers off: only the
            # identity headers are added, the plain HAProxy contender's work.
            ("portcullis-jwt-lean", f"http://127.0.0.1:{pl}/jwt/x", auth),
            ("portcullis-none", f"http://127.0.0.1:{po}/open/x", None),
            # The same request as portcullis-jwt (the token is sent, not
            # checked): what verifying costs, apart from carrying the token.
            ("portcullis-none-token", f"http://127.0.0.1:{po}/open/x", auth),
        ] + pgo + [
            ("bare-pingora", f"http://127.0.0.1:{bp}/x", None),
            ("haproxy-jwt", f"http://127.0.0.1:{hp}/jwt/x", auth),
            # The same check, plus the headers Portcullis adds by default.
            ("haproxy-jwt-same-headers", f"http://127.0.0.1:{hs}/jwt/x", auth),
            ("nginx-proxy", f"http://127.0.0.1:{nx}/x", None),
            ("upstream-direct", f"http://127.0.0.1:{self.upstream_port}/x", None),
        ]

    def sanity(self, name, url, header):
        code = http_status(url, *(["-H", header] if header else []))
        if code != "200":
            raise RuntimeError(f"{name}: {url} answered {code}, not 200; not benchmarking a failing contender")

    def wrk(self, url, header, duration=None):
        cmd = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{self.args.connections}",
               f"-d{duration or self.args.duration}s", "--latency", url]
        if header: cmd[5:5] = ["-H", header]
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        errors = re.search(r"Socket errors:.*", out)
        if bad: raise RuntimeError(f"{url}: {bad.group(1)} non-2xx answers under load")
        return rps, (errors.group(0) if errors else "")

    def hey(self, url, header):
        rate = self.args.latency_rps
        conns = 10
        cmd = ["taskset", "-c", CLIENT_CPU, "hey", "-z", f"{self.args.duration}s", "-c", str(conns),
               "-q", str(max(1, rate // conns))]
        if header: cmd += ["-H", header]
        out = subprocess.run(cmd + [url], capture_output=True, text=True).stdout
        def pct(p):
            m = re.search(rf"\s{p}%+ in ([\d.]+) secs", out)
            return float(m.group(1)) * 1000 if m else float("nan")
        return pct(50), pct(99)

    # --- auth API ----------------------------------------------------------
    def auth_config(self, webhook_port):
        """The auth API as the login measurements need it: the auth rate
        limits off (they would cap one client IP at 20 logins/s), codes sent
        without a per-identifier cap, delivered by webhook to auth_load.py."""
        return f"""limits: {{rate: {{proxy_per_subject: null, auth_per_ip: null, auth_per_identifier: null}}}}
brands:
  DEMO: {{otp: {{max_sends: 1000000000, send_window: 1h}}}}
  PWD: {{password_enabled: true}}
otp_delivery: {{kind: webhook, url: "http://127.0.0.1:{webhook_port}/otp", timeout: 5s}}"""

    def auth_load(self, mode, port, pid, duration, extra):
        cmd = ["taskset", "-c", CLIENT_CPU, sys.executable, str(ROOT / "benches/load/auth_load.py"),
               mode, str(port), "--duration", str(duration), "--gateway-pid", str(pid)] + extra
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)

    @staticmethod
    def auth_result(proc, what):
        out, _ = proc.communicate()
        lines = [l for l in out.splitlines() if l.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"{what}: auth_load.py failed (exit {proc.returncode}): {out[-500:]}")
        res = json.loads(lines[-1])
        if res["completed"] == 0:
            raise RuntimeError(f"{what}: nothing completed; errors {res['errors']}")
        return res

    def logins(self, store):
        """Complete mobile OTP logins per second against a fresh gateway on
        `store` (sqlite or redis). Returns the gateway (still running), its
        port and the result."""
        port, hook = free_port(), free_port()
        store_conf = None
        if store == "redis":
            _, redis_port = self.start_redis()
            store_conf = f'{{kind: redis, url: "redis://127.0.0.1:{redis_port}", key_prefix: "bench:"}}'
        gw = self.start_portcullis(port, store_conf, self.auth_config(hook))
        time.sleep(6)  # past start-up (src/allocator.rs)
        res = self.auth_result(self.auth_load("logins", port, gw.pid, self.args.duration,
                                              ["--webhook-port", str(hook),
                                               "--concurrency", str(self.args.login_concurrency)]),
                               f"logins on {store}")
        print(f"OTP logins on {store}: {res['per_second']:,.0f}/s, CPU gateway "
              f"{res['gateway_cpu_percent']:.0f}% client {res['client_cpu_percent']:.0f}%, "
              f"errors {res['errors'] or 'none'}", flush=True)
        return gw, port, res

    def add_password_user(self, gw, email, password):
        """An account of brand PWD with a password, added with the CLI to the
        store of the (running) gateway `gw`."""
        add = subprocess.run([str(self.args.binary), "user", "add", "-c", str(gw.config), "--brand", "PWD",
                              "--email", email, "--password-stdin"], input=password + "\n",
                             capture_output=True, text=True)
        if add.returncode != 0:
            raise RuntimeError(f"portcullis user add: {add.stdout}{add.stderr}")

    def storm_latency(self, gw, port):
        """p50/p99 of /jwt/ at the fixed rate on `gw`, first alone, then while
        a storm of password/validate (argon2id) runs against the same gateway."""
        email, password = "storm@example.com", "correct horse battery"
        self.add_password_user(gw, email, password)
        url, header = f"http://127.0.0.1:{port}/jwt/x", f"Authorization: Bearer {self.token}"
        self.sanity("storm gateway", url, header)
        calm = self.hey(url, header)
        storm = self.auth_load("storm", port, gw.pid, self.args.duration + 2,
                               ["--concurrency", str(self.args.storm_concurrency),
                                "--email", email, "--password", password])
        time.sleep(1)
        stormy = self.hey(url, header)
        res = self.auth_result(storm, "password storm")
        print(f"p50/p99 ms without storm {calm[0]:.2f}/{calm[1]:.2f}, during storm "
              f"{stormy[0]:.2f}/{stormy[1]:.2f} ({res['per_second']:,.1f} password logins/s)", flush=True)
        return calm, stormy, res

    def auth(self):
        gw, port, sqlite = self.logins("sqlite")
        storm = self.storm_latency(gw, port)
        stop(gw)
        gw, _, redis = self.logins("redis")
        for p in self.procs[1:]: stop(p)
        return {"sqlite": sqlite, "redis": redis, "storm": storm}

    def rss_kib(self, pid):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"): return int(line.split()[1])
        return 0

    def connection_memory(self, n):
        """RSS of a fresh Portcullis idle, then holding n idle keep-alive connections."""
        port = free_port()
        p = self.start_portcullis(port)
        time.sleep(6)  # past start-up (src/allocator.rs)
        idle = self.rss_kib(p.pid)
        holder = subprocess.Popen([sys.executable, str(ROOT / "benches/load/hold_connections.py"),
                                   str(port), str(n), "/open/x"], stdout=subprocess.PIPE, text=True)
        line = holder.stdout.readline().strip()  # "held N" once all are open
        time.sleep(2)
        loaded = self.rss_kib(p.pid)
        holder.terminate(); holder.wait()
        stop(p)
        held = int(line.split()[1]) if line.startswith("held") else 0
        return idle, loaded, held

    def run(self):
        self.start_upstream()
        cs = self.contenders()
        # Measure the steady state: Portcullis returns freed memory at once
        # for its first 5 s only (src/allocator.rs).
        time.sleep(6)
        for name, url, header in cs: self.sanity(name, url, header)
        # A run that starts right after a build read its first round low
        # (gigabytes of build output still being written back): flush that
        # first, then give every contender one unrecorded warm-up round.
        os.sync()
        for name, url, header in cs: self.wrk(url, header, duration=WARM_UP_SECONDS)
        results = {name: [] for name, _, _ in cs}
        notes = []
        for r in range(self.args.rounds):
            for name, url, header in cs:
                rps, errs = self.wrk(url, header)
                results[name].append(rps)
                if errs: notes.append(f"{name} round {r+1}: {errs}")
                print(f"round {r+1} {name}: {rps:,.0f} req/s", flush=True)
        latency = {name: self.hey(url, header) for name, url, header in cs}
        for p in self.procs[1:]: stop(p)
        auth = self.auth()
        # As many fresh gateways as rounds, median reported: a gateway does
        # not always return what the connections' first requests used.
        memory = [self.connection_memory(self.args.idle_connections) for _ in range(self.args.rounds)]
        self.report(cs, results, latency, auth, memory, notes)
        for p in self.procs: stop(p)

    def report(self, cs, results, latency, auth, memory, notes):
        med = {k: statistics.median(v) for k, v in results.items()}
        def ratio(a, b): return med[a] / med[b] if med[b] else float("nan")
        cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                    if l.startswith("model name")), platform.processor())
        ver = lambda cmd: subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip() or \
            subprocess.run(cmd, capture_output=True, text=True, shell=True).stderr.strip()
        per_conns = [(loaded - idle) * 1024 / held if held else float("nan")
                     for idle, loaded, held in memory]
        # The gateway whose figure is the median (the lower middle one of an
        # even count) gives the memory lines.
        middle = sorted(range(len(per_conns)), key=lambda k: per_conns[k])[(len(per_conns) - 1) // 2]
        idle, loaded, held = memory[middle]
        per_conn = per_conns[middle]
        targets = [
            ("Portcullis JWT / HAProxy jwt_verify", ratio("portcullis-jwt", "haproxy-jwt"), ">= 1.0 (stretch 1.2)"),
            ("Portcullis JWT / HAProxy jwt_verify setting the same forwarding headers (X-Forwarded-For, "
             "X-Forwarded-Proto, X-Request-Id both ways)", ratio("portcullis-jwt", "haproxy-jwt-same-headers"),
             "(equal work)"),
            ("Portcullis JWT with request ids and X-Forwarded-* off (server.request_ids, "
             "server.forwarded_headers: the identity headers only) / HAProxy jwt_verify",
             ratio("portcullis-jwt-lean", "haproxy-jwt"), "(equal work)"),
            ("Portcullis JWT / Portcullis no auth, same request (token sent, not checked)",
             ratio("portcullis-jwt", "portcullis-none-token"), ">= 0.95"),
            ("Portcullis JWT / Portcullis no auth, no token sent (also the cost of a 440-byte header)",
             ratio("portcullis-jwt", "portcullis-none"), ">= 0.95"),
            ("Portcullis JWT / nginx proxy_pass", ratio("portcullis-jwt", "nginx-proxy"), ">= 0.7"),
            ("Portcullis JWT / bare Pingora (what Portcullis adds)", ratio("portcullis-jwt", "bare-pingora"),
             "(measuring stick)"),
            ("bare Pingora / HAProxy jwt_verify (Pingora's share of the gap)", ratio("bare-pingora", "haproxy-jwt"),
             "(measuring stick)"),
        ]
        if "portcullis-jwt-pgo" in med:
            targets[:0] = [
                ("Portcullis JWT, PGO build / HAProxy jwt_verify", ratio("portcullis-jwt-pgo", "haproxy-jwt"),
                 ">= 1.0 (stretch 1.2)"),
                ("Portcullis JWT, PGO build / HAProxy jwt_verify setting the same forwarding headers",
                 ratio("portcullis-jwt-pgo", "haproxy-jwt-same-headers"), "(equal work)"),
                ("Portcullis JWT, PGO build, request ids and X-Forwarded-* off / HAProxy jwt_verify",
                 ratio("portcullis-jwt-lean-pgo", "haproxy-jwt"), "(equal work)"),
                ("Portcullis JWT, PGO build / nginx proxy_pass", ratio("portcullis-jwt-pgo", "nginx-proxy"), ">= 0.7"),
                ("Portcullis JWT, PGO build / Portcullis JWT, plain release build",
                 ratio("portcullis-jwt-pgo", "portcullis-jwt"), "(what PGO gives)"),
                ("Portcullis no auth, PGO build / plain release build",
                 ratio("portcullis-none-pgo", "portcullis-none"), "(what PGO gives)"),
            ]
        lines = ["# Load benchmark: latest results", "",
                 f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `benches/load/run.sh"
                 f"{' --pgo' if 'portcullis-jwt-pgo' in med else ''}"
                 f" --rounds {self.args.rounds} --duration {self.args.duration}`.", "",
                 "## Machine", "",
                 f"- CPU: {cpu}, {os.cpu_count()} logical CPUs; kernel {platform.release()}",
                 f"- Proxies pinned to CPU {PROXY_CPU} with one worker; wrk and the upstream (nginx, fixed 200) on CPU {CLIENT_CPU}",
                 f"- wrk: 1 thread, {self.args.connections} keep-alive connections, {self.args.duration}s per run, "
                 f"{self.args.rounds} interleaved rounds after an unrecorded {WARM_UP_SECONDS} s warm-up of each; "
                 f"latency with hey at {self.args.latency_rps} req/s",
                 *([f"- PGO build: {self.args.pgo_binary} from `scripts/build-pgo.sh` (trained by "
                     "benches/load/pgo_train.py on its own config and traffic mix); the other Portcullis "
                     "rows and the auth API use the plain release build"] if "portcullis-jwt-pgo" in med else []),
                 f"- {ver('haproxy -v | head -1')}; {ver('nginx -v 2>&1')}; portcullis {ver(str(self.args.binary) + ' --version')}",
                 "", "## Throughput (median requests/s)", "",
                 "| contender | median req/s | rounds | p50 ms @ fixed rate | p99 ms @ fixed rate |", "|---|---:|---|---:|---:|"]
        for name, _, _ in cs:
            p50, p99 = latency[name]
            lines.append(f"| {name} | {med[name]:,.0f} | {', '.join(f'{x:,.0f}' for x in results[name])} | {p50:.2f} | {p99:.2f} |")
        lines += ["", "## Ratios against the targets", "", "| ratio | measured | target |", "|---|---:|---|"]
        lines += [f"| {n} | {v:.2f} | {t} |" for n, v, t in targets]
        sq, rd = auth["sqlite"], auth["redis"]
        calm, stormy, storm = auth["storm"]
        errs = lambda r: ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "none"
        lines += ["", "## Auth API", "",
                  f"Complete mobile OTP logins (token/generate, otp/generate, otp/validate with the code), "
                  f"{self.args.login_concurrency} concurrent clients for {self.args.duration}s against one gateway "
                  f"(one worker, CPU {PROXY_CPU}); codes delivered by webhook to a receiver in the client (CPU {CLIENT_CPU}); "
                  f"existing users (one untimed pass registers them first). Redis runs on CPU {CLIENT_CPU}. "
                  "The bench config turns the auth rate limits off (`auth_per_ip: null, auth_per_identifier: null`; "
                  "the defaults allow 20/s per client IP) and raises `otp.max_sends`. "
                  "CPU is % of one core in the timed part: the side near 100% was the limit; when neither is, "
                  "the gateway waited (on the store, the disk or the webhook).", "",
                  "| measure | SQLite | Redis |", "|---|---:|---:|",
                  f"| complete OTP logins/s | {sq['per_second']:,.0f} | {rd['per_second']:,.0f} |",
                  f"| gateway CPU, % of one core | {sq['gateway_cpu_percent']:.0f} | {rd['gateway_cpu_percent']:.0f} |",
                  f"| client CPU (Python, with the webhook receiver), % of one core | "
                  f"{sq['client_cpu_percent']:.0f} | {rd['client_cpu_percent']:.0f} |",
                  f"| failed logins | {errs(sq)} | {errs(rd)} |",
                  "", "## Proxy latency during a password storm", "",
                  f"`/jwt/` on the SQLite gateway above at {self.args.latency_rps} req/s (hey), alone, then while "
                  f"{self.args.storm_concurrency} clients loop token/generate + password/validate with the right "
                  f"password (argon2id, 19 MiB, 2 passes) against the same gateway.", "",
                  "| proxy path | p50 ms | p99 ms |", "|---|---:|---:|",
                  f"| no storm | {calm[0]:.2f} | {calm[1]:.2f} |",
                  f"| during the storm ({storm['per_second']:,.1f} password logins/s, gateway CPU "
                  f"{storm['gateway_cpu_percent']:.0f}%) | {stormy[0]:.2f} | {stormy[1]:.2f} |"]
        lines += ["", "## Memory", "",
                  f"- Idle RSS: {idle / 1024:.1f} MiB (target < 30 MiB)",
                  f"- With {held:,} idle keep-alive connections: {loaded / 1024:.1f} MiB, "
                  f"{per_conn:,.0f} bytes per connection (target < 2048)"
                  + (f"; median of {len(per_conns)} fresh gateways: "
                     + ", ".join(f"{b:,.0f}" for b in per_conns) if len(per_conns) > 1 else "")]
        if notes: lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
        out = self.args.output
        out.write_text("\n".join(lines) + "\n")
        print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", type=Path, default=ROOT / "target/release/portcullis")
    ap.add_argument("--pgo-binary", type=Path, default=None,
                    help="also measure this build (scripts/build-pgo.sh) on the JWT and no-auth routes")
    ap.add_argument("--bare-pingora", type=Path, default=ROOT / "target/release/examples/bare_pingora")
    ap.add_argument("--output", type=Path, default=ROOT / "benches/results/latest.md",
                    help="where the table goes (a scratch file for trial runs)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--latency-rps", type=int, default=2000)
    ap.add_argument("--idle-connections", type=int, default=10000)
    ap.add_argument("--login-concurrency", type=int, default=16, help="OTP login clients")
    ap.add_argument("--storm-concurrency", type=int, default=8, help="password/validate storm clients")
    ap.add_argument("--quick", action="store_true", help="1 round of 3 s, 1,000 idle connections")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.duration, args.idle_connections = 1, 3, 1000
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    except (ValueError, OSError):
        pass
    b = Bench(args)
    done = False
    try:
        b.run()
        done = True
    finally:
        b.finish(keep=not done)


if __name__ == "__main__":
    main()
