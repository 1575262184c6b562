"""HTTPS on loopback: a threading HTTP/1.1 server, TLS handshakes in the worker threads (internal)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ._app import Emulator
from ._http import Headers, Request, Response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lab-entra-emulator"
    timeout = 60          # idle keep-alive connections are closed after this

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        self.tls_ok = True
        self.reset_requested = False
        self.request.settimeout(30)
        # Headers and body go out in separate writes; without this, Nagle and delayed ACKs add 40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.request = self.server.tls_context.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.tls_ok = False   # the socket is gone with the failed handshake
            self.log_message("TLS handshake failed: %s", exc)
            return
        super().setup()

    def handle(self) -> None:
        if self.tls_ok:
            with contextlib.suppress(ConnectionError, TimeoutError, ssl.SSLError):
                super().handle()

    def finish(self) -> None:
        if not self.tls_ok:
            return
        with contextlib.suppress(OSError):
            super().finish()
        with contextlib.suppress(OSError):
            self.request.close()   # with SO_LINGER 0 after a reset fault, this sends the RST

    def _serve(self) -> None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request.from_target(self.command, self.path, Headers(list(self.headers.items())), body,
                                      f"https://{host}", client_ip=self.client_address[0])
        try:
            response = self.server.app.dispatch(request)
        except Exception:   # a bug in the emulator: say so as Graph would, keep serving
            traceback.print_exc(file=sys.stderr)
            response = Response.json(500, {"error": {"code": "InternalServerError",
                                                     "message": "The lab emulator failed; see its log."}})
        if response.reset_connection:
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.log_message('"%s" reset (lab fault)', self.requestline)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):   # trailers
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: Emulator, tls_context: ssl.SSLContext):
        self.app = app
        self.tls_context = tls_context
        super().__init__(address, _Handler)


def tls_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_path), str(key_path))
    return context


def serve(lab_dir: Path, host: str, port: int, cert_path: Path, key_path: Path, token_lifetime: int,
          pid_file: Path | None = None) -> None:
    """Serve until SIGTERM or SIGINT."""
    app = Emulator(lab_dir, token_lifetime)
    server = EmulatorServer((host, port), app, tls_context(cert_path, key_path))

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if pid_file:
        pid_file.write_text(f"{os.getpid()}\n")
    print(f"Entra emulator for tenant {app.credentials.tenant_id} on https://{host}:{port}", file=sys.stderr,
          flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if pid_file and pid_file.exists():
            pid_file.unlink()
