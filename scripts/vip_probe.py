#!/usr/bin/env python3
"""Probes a URL (the VIP) with one request per new connection every --period seconds and
logs one line per request (read until its Content-Length, or the close without one):

    <t_start> <t_end> <answer | FAIL:reason | FAIL:connect_reason>

The answer is the body (spaces joined with _), or with --header NAME that response header's
value. A failure while connecting is told apart from one after the connection was
established. --timeout bounds the connect, --read-timeout (default: --timeout) the TLS
handshake and each read once connected: a short connect timeout shows a lost SYN as a
failure while a slow answer still counts. Stops by itself after --duration seconds or
--max-probes, or on SIGTERM.
Used by the VIP scenario tests and by scripts/demo.sh, inside the client's namespace.

usage: vip_probe.py URL --out FILE [--cafile PEM] [--header NAME] [--period 0.01]
                    [--timeout 1] [--read-timeout SECONDS] [--duration 60] [--max-probes 20000]
"""
import argparse, signal, socket, ssl, sys, time
from urllib.parse import urlparse

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("--out", required=True)
ap.add_argument("--cafile")
ap.add_argument("--header")
ap.add_argument("--period", type=float, default=0.01)
ap.add_argument("--timeout", type=float, default=1.0)
ap.add_argument("--read-timeout", type=float, default=None)
ap.add_argument("--duration", type=float, default=60)
ap.add_argument("--max-probes", type=int, default=20000)
a = ap.parse_args()
read_timeout = a.timeout if a.read_timeout is None else a.read_timeout

url = urlparse(a.url)
tls = url.scheme == "https"
port = url.port or (443 if tls else 80)
context = ssl.create_default_context(cafile=a.cafile) if tls else None
request = f"GET {url.path or '/'} HTTP/1.1\r\nHost: {url.hostname}\r\nConnection: close\r\n\r\n".encode()

stop = False
def _term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, _term)


def complete(data):
    """Whether the response is whole by its Content-Length. Like curl, the probe stops
    there instead of waiting for the close: after a VIP move the client's FIN goes to the
    new owner, which resets the connection, and the client already has its answer."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
    return False


def answer_of(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = lines[0].split(" ")[1] if lines[0].startswith("HTTP/1.1 ") else "?"
    if status != "200":
        return "FAIL:status_" + status
    if a.header:
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == a.header.lower():
                return value.strip().replace(" ", "_")
        return "FAIL:no_" + a.header
    return body.decode(errors="replace").strip().replace(" ", "_") or "FAIL:empty"


out = open(a.out, "w", buffering=1)
end = time.time() + a.duration
for _ in range(a.max_probes):
    if stop or time.time() >= end:
        break
    t0 = time.time()
    phase = "connect_"
    try:
        with socket.create_connection((url.hostname, port), timeout=a.timeout) as raw:
            phase = ""
            raw.settimeout(read_timeout)
            c = context.wrap_socket(raw, server_hostname=url.hostname) if tls else raw
            c.sendall(request)
            data = b""
            while not complete(data):
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
        answer = answer_of(data)
    except socket.timeout:
        answer = "FAIL:" + phase + "timeout"
    except ssl.SSLError as e:
        answer = "FAIL:tls_" + (e.reason or "error")
    except OSError as e:
        answer = "FAIL:" + phase + (e.strerror or type(e).__name__).replace(" ", "_")
    out.write(f"{t0:.6f} {time.time():.6f} {answer}\n")
    time.sleep(max(0.0, t0 + a.period - time.time()))
out.close()
