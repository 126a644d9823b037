#!/usr/bin/env python3
"""WebSocket figures for scripts/bench-tunnels.sh: round trips through a proxy, and the memory
an idle tunnel costs it. Prints one line of JSON. Loopback only; bounded in time.

  bench_ws.py rtt URL CONNS SECONDS      CONNS tunnels each send 64 bytes and wait for the
                                         echo, for SECONDS: round trips/s, p50/p99 in ms
  bench_ws.py idle URL CONNS PID         opens CONNS tunnels, reads PID's VmRSS before and
                                         after (KiB), closes them
"""
import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def rtt(url, conns, seconds):
    latencies = []
    deadline = time.monotonic() + seconds
    payload = "x" * 64

    async def one():
        async with connect(url, compression=None, open_timeout=20) as ws:
            while time.monotonic() < deadline:
                start = time.perf_counter()
                await ws.send(payload)
                await ws.recv()
                latencies.append(time.perf_counter() - start)

    began = time.monotonic()
    await asyncio.gather(*(one() for _ in range(conns)))
    elapsed = time.monotonic() - began
    latencies.sort()
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 3)
    return {"round_trips_per_s": round(len(latencies) / elapsed), "p50_ms": pick(0.5), "p99_ms": pick(0.99)}


async def idle(url, conns, pid):
    before = rss_kib(pid)
    sockets = []
    for start in range(0, conns, 100):
        sockets += await asyncio.gather(*(connect(url, compression=None, open_timeout=20) for _ in range(min(100, conns - start))))
    await asyncio.sleep(1)
    after = rss_kib(pid)
    await asyncio.gather(*(ws.close() for ws in sockets))
    return {"tunnels": conns, "rss_before_kib": before, "rss_after_kib": after,
            "kib_per_tunnel": round((after - before) / conns, 2)}


mode, url = sys.argv[1], sys.argv[2]
if mode == "rtt":
    result = asyncio.run(asyncio.wait_for(rtt(url, int(sys.argv[3]), float(sys.argv[4])), 120))
elif mode == "idle":
    result = asyncio.run(asyncio.wait_for(idle(url, int(sys.argv[3]), int(sys.argv[4])), 120))
else:
    sys.exit(__doc__)
print(json.dumps(result))
