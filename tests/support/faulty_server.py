"""A token endpoint on loopback that misbehaves on purpose, one way per path."""

import gzip
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        return None

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        path = self.path
        if path == "/ok":
            echo = {
                "access_token": "token-1",
                "token_type": "Bearer",
                "expires_in": 3600,
                "seen_authorization": self.headers.get("Authorization"),
                "seen_accept": self.headers.get("Accept"),
                "seen_content_type": self.headers.get("Content-Type"),
                "seen_form": form,
            }
            self._send(200, json.dumps(echo).encode())
        elif path == "/slow-headers":
            time.sleep(3)
            self._send(200, b"{}")
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        elif path == "/error500":
            self._send(500, b"<html><body>Internal error</body></html>", "text/html")
        elif path == "/html":
            self._send(200, b"<html><body>Sign in</body></html>", "text/html")
        elif path == "/huge":
            self._send(200, b'{"access_token": "' + b"a" * 600_000 + b'"}')
        elif path == "/bad-json":
            self._send(200, b'{"access_token": ')
        elif path == "/redirect":
            self._send(302, b"", Location="/ok")
        elif path == "/gzip":
            body = gzip.compress(json.dumps({"access_token": "zipped"}).encode())
            self._send(200, body, Content_Encoding="gzip")
        elif path == "/invalid-grant":
            self._send(400, b'{"error": "invalid_grant", "error_description": "Code expired"}')
        elif path == "/error-with-200":
            self._send(200, b'{"error": "bad_verification_code"}')
        else:
            self._send(404, b"{}")


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up on the slow answers is what those tests expect."""


@contextmanager
def serve_faults() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
