#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one request on
each, reads the answer, prints "held N" and keeps them open until killed."""
import asyncio, resource, sys


async def one(port, path):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await r.readexactly(length)
    return r, w


async def main(port, n, path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 256)), hard))
    held = []
    for start in range(0, n, 500):
        batch = await asyncio.gather(*(one(port, path) for _ in range(start, min(n, start + 500))),
                                     return_exceptions=True)
        held += [c for c in batch if not isinstance(c, BaseException)]
    print(f"held {len(held)}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
