"""``--serve``: the live view in a browser and a read-only HTTP API, from memory only.

    GET /                the page (live video, the number, FPS, stage times, changes)
    GET /stream.mjpg     the annotated video, MJPEG (multipart/x-mixed-replace)
    GET /snapshot.jpg    one annotated frame
    GET /api/reading     the latest reading (JSON)
    GET /api/changes     the recent changes of the numbers read, newest first (JSON)
    GET /api/events      readings as Server-Sent Events ("reading" and "changes" events)
    GET /api/health      status, frames, FPS, age of the last frame (503 unless "ok")
    GET /api/model       the model: file, format, labels, backend, threshold, parity

The server is the standard library's ``ThreadingHTTPServer``: no dependency to install (a
32-bit Pi needs no compiler and no wheel), and the API is a handful of read-only routes
whose slow parts (MJPEG, events) are long writes, which a thread per connection handles
plainly. What a bare ``http.server`` lacks is added here: a bound on connections, socket
timeouts, a token, no file access at all (routes are an exact-match table; anything else is
404), GET and HEAD only (405 otherwise), and no reverse DNS lookup at start-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.cookies
import ipaddress
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from camera_demo.live import LiveView
from camera_demo.mjpeg import JpegFeed
from camera_demo.resources import Closable
from camera_demo.sources import host_and_port
from camera_demo.web_page import PAGE, SCRIPT_SHA256
from runtime.errors import DigitKitError

log = logging.getLogger("camera_demo")

DEFAULT_HOST = "127.0.0.1"
MAX_CONNECTIONS = 16
# One address other than loopback may hold at most this many: a client on the network that
# opens connections as fast as they are cut can then never crowd every viewer out. (Loopback
# has no such cap: the machine's own viewers, or a reverse proxy there, all share 127.0.0.1.)
MAX_CONNECTIONS_PER_CLIENT = MAX_CONNECTIONS // 2
SOCKET_TIMEOUT_S = 10.0  # a client that neither sends nor receives for this long is dropped
# A client must have sent its request line and headers this soon after connecting: one that
# sends them a byte now and then (slowloris) would hold its connection slot for ever.
HEADER_DEADLINE_S = 5.0
KEEPALIVE_S = 15.0  # an event-stream comment this often keeps proxies from closing it
STALE_AFTER_S = 10.0
# A small send buffer for the video: a slow viewer then gets the newest frame rather than
# seconds of old ones queued in the kernel, and a stalled one blocks (and costs no encoding)
# after a few frames.
VIDEO_SEND_BUFFER = 64 * 1024
COOKIE_NAME = "digit_kit_token"
BOUNDARY = "digitkitframe"
# Tokens shorter than this are warned about (a guessable secret on the network).
SHORT_TOKEN = 16
TOKEN_ENV = "DIGIT_KIT_SERVE_TOKEN"
ALLOWED = "GET, HEAD"
COMMON_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)
# img-src data: for the page's empty icon (``href="data:,"``), which spares the browser
# a request for /favicon.ico and its 404.
PAGE_POLICY = (
    f"default-src 'none'; script-src 'sha256-{SCRIPT_SHA256}'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'"


@dataclass(frozen=True)
class ServeAddress:
    """Where the server listens (``port`` 0 picks a free port)."""

    host: str
    port: int


def _is_loopback_address(text: str) -> bool:
    """Whether ``text`` is a loopback IP address (an IPv4-mapped one included)."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


def _canonical_name(name: str) -> str:
    """A host name as DNS compares it: case-blind, without the root's trailing dot."""
    return name.lower().rstrip(".")


def _is_loopback_name(name: str) -> bool:
    """Whether a Host header's name is a loopback address or one of localhost's names."""
    if _is_loopback_address(name):
        return True
    name = _canonical_name(name)
    return name in ("localhost", "localhost.localdomain") or name.endswith(".localhost")


def parse_serve_address(text: str) -> ServeAddress:
    """``PORT``, ``:PORT``, ``HOST:PORT`` or ``[IPV6]:PORT``; the host defaults to 127.0.0.1."""
    value = text.strip()
    host, port_text = DEFAULT_HOST, value
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or value[end + 1 : end + 2] != ":":
            raise ValueError(f"expected [IPV6]:PORT, got {text!r}")
        host, port_text = value[1:end], value[end + 2 :]
    elif ":" in value:
        host, port_text = value.rsplit(":", 1)
        host = host or DEFAULT_HOST
        if ":" in host:
            raise ValueError(f"write an IPv6 address in brackets, [{host}]:{port_text}")
    if not (port_text.isascii() and port_text.isdigit()) or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"expected [HOST:]PORT with a port in 0..65535, got {text!r}")
    return ServeAddress(host, int(port_text))


def describe_model(classifier: Any, smoothing: int) -> dict:
    """What ``/api/model`` returns about a ``DigitClassifier`` and the reading settings."""
    metadata = classifier.metadata
    return {
        "file": Path(classifier.model_path).name if classifier.model_path else None,
        "format": metadata.format if metadata else None,
        "labels": list(metadata.labels) if metadata else [str(d) for d in range(10)],
        "backend": classifier.backend_name,
        "threshold": classifier.threshold,
        "model_threshold": classifier.model_threshold,
        "output": classifier.output_kind,
        "smoothing": smoothing,
        "parity": metadata.parity if metadata else {},
        "weights_sha256": metadata.weights_sha256 if metadata else None,
    }


def _same(given: str, expected: bytes) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected)


class _HttpServer(ThreadingHTTPServer):
    """A threading HTTP server with a bound on open connections, which it can cut at close."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, app: LiveServer, address: ServeAddress) -> None:
        self.app = app
        self.address_family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
        self._slots = threading.BoundedSemaphore(app.max_connections)
        self._open: dict[socket.socket, str] = {}  # each open connection's client address
        self._lock = threading.Lock()
        super().__init__((address.host, address.port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall without DNS.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._admit(request, client_address[0]):
            with contextlib.suppress(OSError):
                request.settimeout(1.0)
                request.sendall(
                    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                    b"Retry-After: 5\r\nConnection: close\r\n\r\ntoo many connections\n"
                )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._forget(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints a whole traceback to stderr for each failed request; a client
        # that resets or drops its connection is routine, not worth one in the journal.
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            log.debug("web %s: connection ended: %s", client_address[0], error)
        else:
            log.warning("web %s: request failed: %r", client_address[0], error)

    def _admit(self, request: socket.socket, client: str) -> bool:
        """Take a slot for ``request``, unless none is free or ``client`` holds its share."""
        with self._lock:
            if not _is_loopback_address(client):
                held = sum(1 for address in self._open.values() if address == client)
                if held >= self.app.max_connections_per_client:
                    return False
            if not self._slots.acquire(blocking=False):
                return False
            self._open[request] = client
            return True

    def _forget(self, request: socket.socket) -> None:
        with self._lock:
            if self._open.pop(request, None) is not None:
                self._slots.release()

    def cut_connections(self) -> None:
        """Shut every open connection down, which ends writes blocked on stalled clients."""
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    server_version = "digit-kit"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version  # the standard one appends " " + sys_version

    protocol_version = "HTTP/1.0"  # one request per connection: streams end by closing

    def setup(self) -> None:
        self.timeout = self.server.app.socket_timeout_s  # reads and writes alike
        super().setup()
        self._header_deadline = threading.Timer(
            self.server.app.header_deadline_s, self._cut_slow_client
        )
        self._header_deadline.daemon = True
        self._header_deadline.start()

    def _cut_slow_client(self) -> None:
        log.debug("web %s: no whole request in time; connection cut", self.client_address[0])
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def parse_request(self) -> bool:
        try:
            return super().parse_request()  # the request line is read; this reads the headers
        finally:
            self._header_deadline.cancel()

    def finish(self) -> None:
        self._header_deadline.cancel()
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("web %s: %s", self.address_string(), format % args)

    # ------------------------------------------------------------ dispatch

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def _refuse_method(self) -> None:
        self._set_cookie = False
        if self._authorized(urlsplit(self.path).query):
            self._send_json(405, {"error": f"read-only: {ALLOWED} only"}, (("Allow", ALLOWED),))
        else:
            self._unauthorized()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse_method

    def _dispatch(self, head: bool) -> None:
        self._set_cookie = False
        self._head = head
        url = urlsplit(self.path)
        if not self._host_allowed():
            self._send_json(
                403, {"error": "a view on the loopback address answers only to localhost names"}
            )
            return
        if not self._authorized(url.query):
            self._unauthorized()
            return
        route = ROUTES.get(url.path)
        if route is None:
            self._send_json(404, {"error": "not found", "endpoints": sorted(ROUTES)})
            return
        if url.path == "/" and "token" in parse_qs(url.query):
            # Drop the token from the address bar and history; the cookie carries it from now on.
            self._start(303, "text/plain", 0, (("Location", "./"),))
            return
        route(self)

    # ------------------------------------------------------------ access

    def _host_allowed(self) -> bool:
        """A loopback view answers only requests addressed to a loopback name or address.

        Otherwise any web page open in a browser on this machine could point a name of its own
        at 127.0.0.1 (DNS rebinding) and read the camera as a same-origin page.
        """
        if not self.server.app.loopback_only:
            return True
        host = self.headers.get("Host")
        if host is None:
            return True  # HTTP/1.0 clients send none; a browser always does
        try:
            name = urlsplit(f"//{host}").hostname or ""
        except ValueError:  # "[" or "[zz]:1": no host at all
            return False
        # The name given to --serve is this machine's by the user's own choice: a page can
        # rebind a name of its own, not that one.
        return _is_loopback_name(name) or _canonical_name(name) == self.server.app.served_name

    def _authorized(self, query: str) -> bool:
        app = self.server.app
        if app.token is None:
            return True
        header = self.headers.get("Authorization", "")
        if header[:7].lower() == "bearer " and _same(header[7:].strip(), app.token):
            return True
        cookie = http.cookies.SimpleCookie()
        with contextlib.suppress(http.cookies.CookieError):
            cookie.load(self.headers.get("Cookie", ""))
        if COOKIE_NAME in cookie and _same(cookie[COOKIE_NAME].value, app.cookie_value):
            return True
        given = parse_qs(query).get("token", [])
        if given and _same(given[0], app.token):
            self._set_cookie = True
            return True
        return False

    def _unauthorized(self) -> None:
        body = (
            b"This digit-kit live view needs its access token: open /?token=TOKEN once in a "
            b"browser, or send the header 'Authorization: Bearer TOKEN'.\n"
        )
        self._start(
            401,
            "text/plain; charset=utf-8",
            len(body),
            (("WWW-Authenticate", 'Bearer realm="digit-kit"'),),
        )
        self._write_body(body)

    # ------------------------------------------------------------ responses

    def _start(
        self,
        status: int,
        content_type: str,
        length: int | None,
        extra: tuple[tuple[str, str], ...] = (),
        policy: str = API_POLICY,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (*COMMON_HEADERS, ("Content-Security-Policy", policy), *extra):
            self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        if getattr(self, "_set_cookie", False):
            self.send_header(
                "Set-Cookie",
                f"{COOKIE_NAME}={self.server.app.cookie_value.decode()}; Path=/; HttpOnly; "
                "SameSite=Strict",
            )
        self.end_headers()

    def _write_body(self, body: bytes) -> None:
        if not getattr(self, "_head", False):
            with contextlib.suppress(OSError):
                self.wfile.write(body)

    def _send_json(
        self, status: int, document: Any, extra: tuple[tuple[str, str], ...] = ()
    ) -> None:
        body = (json.dumps(document, separators=(",", ":")) + "\n").encode()
        self._start(status, "application/json", len(body), extra)
        self._write_body(body)

    # ------------------------------------------------------------ routes

    def page(self) -> None:
        body = PAGE.encode()
        self._start(200, "text/html; charset=utf-8", len(body), policy=PAGE_POLICY)
        self._write_body(body)

    def reading(self) -> None:
        latest = self.server.app.live.latest
        if latest is None:
            self._send_json(503, {"error": "no frame read yet"}, (("Retry-After", "1"),))
            return
        self._send_json(200, latest.record())

    def changes(self) -> None:
        self._send_json(200, self.server.app.live.changes())

    def health(self) -> None:
        document = self.server.app.health()
        self._send_json(200 if document["status"] == "ok" else 503, document)

    def model(self) -> None:
        self._send_json(200, self.server.app.model_info)

    def snapshot(self) -> None:
        item = self.server.app.feed.next_after(0, timeout=2.0, closing=self.server.app.closing)
        if item is None:
            self._send_json(503, {"error": "no frame read yet"}, (("Retry-After", "1"),))
            return
        self._start(200, "image/jpeg", len(item[1]))
        self._write_body(item[1])

    def video(self) -> None:
        app = self.server.app
        self._start(200, f"multipart/x-mixed-replace; boundary={BOUNDARY}", None)
        if self._head:
            return
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, VIDEO_SEND_BUFFER)
        app.count_viewer(+1)
        seq = 0
        try:
            while not app.closing.is_set():
                item = app.feed.next_after(seq, timeout=0.5, closing=app.closing)
                if item is None:
                    continue
                seq, data = item
                header = (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                ).encode()
                self.wfile.write(header + data + b"\r\n")
                app.count_video_frame()
        except OSError:
            pass  # the viewer left, or stalled past the socket timeout
        finally:
            app.count_viewer(-1)

    def events(self) -> None:
        app = self.server.app
        self._start(200, "text/event-stream; charset=utf-8", None)
        if self._head:
            return
        sent_seq, sent_changes = 0, -1
        last_write = time.monotonic()
        try:
            self.wfile.write(b"retry: 2000\n\n")
            while not app.closing.is_set():
                latest = app.live.latest
                parts = []
                if app.live.changes_seen != sent_changes:
                    sent_changes = app.live.changes_seen
                    parts.append(_event("changes", app.live.changes()))
                if latest is not None and latest.seq != sent_seq:
                    sent_seq = latest.seq
                    parts.append(_event("reading", latest.record()))
                if not parts and time.monotonic() - last_write > KEEPALIVE_S:
                    parts.append(b": keep-alive\n\n")
                if parts:
                    self.wfile.write(b"".join(parts))
                    last_write = time.monotonic()
                app.closing.wait(app.interval)
        except OSError:
            pass


def _event(name: str, document: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(document, separators=(',', ':'))}\n\n".encode()


ROUTES: dict[str, Callable[[_Handler], None]] = {
    "/": _Handler.page,
    "/stream.mjpg": _Handler.video,
    "/snapshot.jpg": _Handler.snapshot,
    "/api/reading": _Handler.reading,
    "/api/changes": _Handler.changes,
    "/api/events": _Handler.events,
    "/api/health": _Handler.health,
    "/api/model": _Handler.model,
}


class LiveServer(Closable):
    """The HTTP server of the live view, serving in daemon threads until ``close()``.

    ``live`` is fed by the reading loop; ``fps`` caps both the video and the event stream;
    ``token`` (when not ``None``) is required on every request; ``status`` adds fields (MQTT
    state, for one) to ``/api/health``.
    """

    def __init__(
        self,
        address: ServeAddress,
        live: LiveView,
        model_info: dict,
        source: str,
        token: str | None = None,
        fps: float = 10.0,
        max_connections: int = MAX_CONNECTIONS,
        max_connections_per_client: int = MAX_CONNECTIONS_PER_CLIENT,
        stale_after_s: float = STALE_AFTER_S,
        status: Callable[[], dict] | None = None,
        socket_timeout_s: float = SOCKET_TIMEOUT_S,
        header_deadline_s: float = HEADER_DEADLINE_S,
        without_token: bool = False,
    ) -> None:
        self.address = address
        self.served_name = _canonical_name(address.host)
        self.without_token = without_token  # open to the network without a token: as told
        self.live = live
        self.model_info = model_info
        self.source = source
        self.token = token.encode("utf-8", "surrogateescape") if token else None
        # The cookie holds a value derived from the token, not the token itself.
        self.cookie_value = (
            hmac.new(self.token, b"digit-kit cookie", hashlib.sha256).hexdigest().encode()
            if self.token
            else b""
        )
        self.interval = 1.0 / fps
        self.feed = JpegFeed(live, fps)
        self.max_connections = max_connections
        self.max_connections_per_client = max_connections_per_client
        self.stale_after_s = stale_after_s
        self.socket_timeout_s = socket_timeout_s
        self.header_deadline_s = header_deadline_s
        self.status = status
        self.closing = threading.Event()
        self.viewers = 0
        self.video_frames_sent = 0
        self._counts = threading.Lock()
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self.address.port

    @property
    def loopback_only(self) -> bool:
        """Whether the view listens on a loopback address only, judged by the address it bound
        (a host name given to ``--serve`` that resolves to 127.0.x.x is loopback too)."""
        bound = self._server.server_address[0] if self._server else self.address.host
        return _is_loopback_address(bound)  # a name, before binding, is not

    def url(self, host: str | None = None, reveal_token: bool = False) -> str:
        """The page's URL, for ``host`` or the bound one; with a token set, ``?token=`` and the
        token itself when ``reveal_token``, else ``TOKEN`` (logs are no place for a secret)."""
        query = ""
        if self.token:
            token = self.token.decode("utf-8", "surrogateescape")
            query = f"?token={quote(token) if reveal_token else 'TOKEN'}"
        return f"http://{host_and_port(host or self.address.host, self.port)}/{query}"

    def start(self) -> LiveServer:
        """Listen and serve; raises ``DigitKitError`` when the address cannot be used."""
        given = host_and_port(self.address.host, self.address.port)
        try:
            self._server = _HttpServer(self, self.address)
        except OSError as exc:
            raise DigitKitError(f"--serve cannot listen on {given}: {exc.strerror or exc}") from exc
        if not self.loopback_only and self.token is None and not self.without_token:
            self._server.server_close()
            self._server = None
            raise DigitKitError(
                f"--serve {given} shows the camera to the "
                f"network: set a token (${TOKEN_ENV}, or --serve-token), or pass "
                "--serve-without-token to let anyone who can reach the port see it"
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="web",
            daemon=True,
        )
        self._thread.start()
        self._announce()
        return self

    def _announce(self) -> None:
        if self.loopback_only:
            log.info(
                "live view on %s (this machine only; --serve 0.0.0.0:%d opens it to the network)",
                self.url(),
                self.port,
            )
            return
        if self.address.host in ("0.0.0.0", "::"):
            where = f"all network interfaces, port {self.port}"
            host = socket.gethostname()
        else:
            where, host = f"{self.address.host} port {self.port}", self.address.host
        log.info("live view listening on %s: open %s from another machine", where, self.url(host))
        length = len(self.token.decode("utf-8", "surrogateescape")) if self.token else 0
        if self.token is not None and length < SHORT_TOKEN:
            log.warning(
                "the --serve token has only %d character%s: one that short can be guessed; use "
                "a long random one (python3 -c 'import secrets; print(secrets.token_urlsafe())')",
                length,
                "" if length == 1 else "s",
            )
        if self.token is None:
            log.warning(
                "--serve-without-token: anyone who can reach port %d sees the camera", self.port
            )

    def count_viewer(self, step: int) -> None:
        with self._counts:
            self.viewers += step

    def count_video_frame(self) -> None:
        with self._counts:
            self.video_frames_sent += 1

    def health(self) -> dict:
        """The ``/api/health`` document; ``status`` is "starting", "ok" or "stalled"."""
        latest = self.live.latest
        now = time.monotonic()
        age = None if latest is None else now - latest.monotonic
        if latest is None:
            status = "starting"
        else:
            status = "ok" if age is not None and age < self.stale_after_s else "stalled"
        document = {
            "status": status,
            "source": self.source,
            "frames": 0 if latest is None else latest.seq,
            "fps": 0.0 if latest is None else round(latest.fps, 1),
            "last_frame_age_s": None if age is None else round(age, 3),
            "uptime_s": round(now - self.live.started, 1),
            "viewers": self.viewers,
            "video_frames_sent": self.video_frames_sent,
            "jpeg_encoded": self.feed.encoded,
        }
        if self.status is not None:
            document.update(self.status())
        return document

    def close(self) -> None:
        """Stop serving, end the streams and cut every connection (well under a second)."""
        self.closing.set()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.cut_connections()
