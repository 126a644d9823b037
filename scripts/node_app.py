#!/usr/bin/env python3
"""A stand-in for one HipChat node: answers every GET with its node name, the client
address it saw and the X-Forwarded-For it received, so a demo shows who answered whom.

usage: node_app.py NAME HOST PORT
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME, HOST, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])


class Node(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = (f"HipChat {NAME} answered {self.command} {self.path} "
                f"(X-Forwarded-For: {self.headers.get('X-Forwarded-For', '-')}, "
                f"X-Forwarded-Proto: {self.headers.get('X-Forwarded-Proto', '-')})\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET


ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer((HOST, PORT), Node).serve_forever()
