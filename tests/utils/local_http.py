"""A real HTTP server on 127.0.0.1 for download tests: serves bytes, honours ``Range``, and can cut the
connection mid-body (no internet needed, nothing mocked below the socket)."""
from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Served:
    """One file at ``/<name>`` and how the server misbehaves with it."""

    body: bytes
    cut_after: int | None = None  # close the connection after sending this many body bytes ...
    cuts_left: int = 0  # ... for this many requests (then serve normally)
    honour_range: bool = True  # False: answer every request with 200 and the whole file


@dataclass
class LocalServer:
    files: dict[str, Served] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    bytes_sent: int = 0
    port: int = 0

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


def start_server() -> tuple[LocalServer, ThreadingHTTPServer]:
    state = LocalServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet test output
            pass

        def do_GET(self):
            name = self.path.lstrip("/")
            state.requests.append((name, self.headers.get("Range")))
            served = state.files.get(name)
            if served is None:
                self.send_error(404)
                return
            body, start = served.body, 0
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if match and served.honour_range:
                start = int(match.group(1))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if served.cut_after is not None and served.cuts_left > 0:
                served.cuts_left -= 1
                payload = payload[:served.cut_after]
                self.close_connection = True
            self.wfile.write(payload)
            self.wfile.flush()
            state.bytes_sent += len(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return state, server


@contextlib.contextmanager
def serving():
    """``with serving() as server: server.files["w.pth"] = Served(data); url = server.url("w.pth")``."""
    state, server = start_server()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
