#!/usr/bin/env python3
"""Load on Portcullis' auth API, for benches/load/bench.py. Standard library
only: asyncio with raw keep-alive HTTP/1.1 connections.

  auth_load.py logins PORT --webhook-port W [--duration S] [--concurrency C]
      Complete mobile OTP logins: token/generate, otp/generate, then
      otp/validate with the code the gateway POSTed to the webhook receiver
      this script runs on W (the gateway's `otp_delivery: {kind: webhook}`).
      Each worker logs in its own identifiers in turn; one untimed pass first
      registers every identifier, so the timed logins are of existing users.

  auth_load.py storm PORT --email E --password P [--duration S] [--concurrency C]
      A password storm: token/generate then password/validate with the right
      password (an argon2id verification each), in a loop.

Prints one JSON line: completed, seconds, per_second, errors, this client's
CPU use and, with --gateway-pid, the gateway's (percent of one core) in the
timed part: whichever is near 100% was the limit.
"""
import argparse, asyncio, json, os, sys, time
from collections import Counter

BRAND_OTP, BRAND_PASSWORD = "DEMO", "PWD"


class Conn:
    """One keep-alive HTTP/1.1 connection to the gateway."""

    def __init__(self, port):
        self.port, self.r, self.w = port, None, None

    async def post(self, path, obj):
        if self.w is None:
            self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
        body = json.dumps(obj).encode()
        self.w.write(b"POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
        head = await self.r.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, close, chunked = 0, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length": length = int(value)
            elif name == b"connection": close = value == b"close"
            elif name == b"transfer-encoding": chunked = b"chunked" in value
        if chunked:
            data = b""
            while True:
                size = int((await self.r.readuntil(b"\r\n")).split(b";")[0], 16)
                data += (await self.r.readexactly(size + 2))[:size]
                if size == 0: break
        else:
            data = await self.r.readexactly(length)
        if close:
            self.w.close(); self.r = self.w = None
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, None


class Codes:
    """The webhook receiver: the latest code per identifier value."""

    def __init__(self):
        self.latest = {}

    async def serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length": length = int(value)
                msg = json.loads(await reader.readexactly(length))
                self.latest[str(msg["identifierValue"]).lstrip("+")] = str(msg["otp"])
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # the gateway hung up, or the run is over


def cpu_seconds(pid):
    if not pid: return 0.0
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def login(conn, codes, mobile, device, errors):
    """One complete mobile OTP login; True when it ended with a USER token."""
    who = {"identifierType": "MOBILE", "identifierValue": mobile, "brand": BRAND_OTP, "deviceId": device}
    status, opened = await conn.post("/auth/v1/token/generate", who)
    if status != 200:
        errors[f"token/generate {status}"] += 1; return False
    who["sessionId"] = opened["user"]["sessionId"]
    status, _ = await conn.post("/auth/v1/otp/generate", who)
    code = codes.latest.pop(mobile, None)
    if status != 200 or code is None:
        errors[f"otp/generate {status}{'' if code else ' no code delivered'}"] += 1; return False
    status, done = await conn.post("/auth/v1/otp/validate", dict(who, otp=code))
    if status != 200 or not (done or {}).get("auth", {}).get("token"):
        errors[f"otp/validate {status}"] += 1; return False
    return True


async def password_login(conn, email, password, device, errors):
    who = {"identifierType": "EMAIL", "identifierValue": email, "brand": BRAND_PASSWORD, "deviceId": device}
    status, opened = await conn.post("/auth/v1/token/generate", who)
    if status != 200:
        errors[f"token/generate {status}"] += 1; return False
    status, _ = await conn.post("/auth/v1/password/validate",
                                dict(who, sessionId=opened["user"]["sessionId"], password=password))
    if status != 200:
        errors[f"password/validate {status}"] += 1; return False
    return True


async def main(a):
    errors, codes = Counter(), Codes()
    if a.mode == "logins":
        await asyncio.start_server(codes.serve, "127.0.0.1", a.webhook_port)
        per_worker = a.identifiers_per_worker
        mobiles = [[f"49151{w:04d}{i:04d}" for i in range(per_worker)] for w in range(a.concurrency)]

        async def warm(w):
            conn = Conn(a.port)
            for m in mobiles[w]: await login(conn, codes, m, f"bench-device-{w}", errors)

        await asyncio.gather(*(warm(w) for w in range(a.concurrency)))
        errors.clear()
        step = lambda w, conn, i: login(conn, codes, mobiles[w][i % per_worker], f"bench-device-{w}", errors)
    else:
        step = lambda w, conn, i: password_login(conn, a.email, a.password, f"bench-device-{w}", errors)

    done = 0
    cpu0, own0, t0 = cpu_seconds(a.gateway_pid), time.process_time(), time.monotonic()
    deadline = t0 + a.duration

    async def worker(w):
        nonlocal done
        conn, i = Conn(a.port), 0
        while time.monotonic() < deadline:
            if await step(w, conn, i): done += 1
            i += 1

    await asyncio.gather(*(worker(w) for w in range(a.concurrency)))
    seconds = time.monotonic() - t0
    cpu = (cpu_seconds(a.gateway_pid) - cpu0) / seconds * 100 if a.gateway_pid else None
    own = (time.process_time() - own0) / seconds * 100
    print(json.dumps({"mode": a.mode, "completed": done, "seconds": round(seconds, 2),
                      "per_second": done / seconds, "gateway_cpu_percent": cpu,
                      "client_cpu_percent": own,
                      "errors": dict(errors)}), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["logins", "storm"])
    ap.add_argument("port", type=int)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--webhook-port", type=int)
    ap.add_argument("--identifiers-per-worker", type=int, default=32)
    ap.add_argument("--email", default="storm@example.com")
    ap.add_argument("--password", default="correct horse battery")
    ap.add_argument("--gateway-pid", type=int)
    args = ap.parse_args()
    if args.mode == "logins" and not args.webhook_port:
        sys.exit("logins needs --webhook-port")
    asyncio.run(main(args))
