"""The TVs of `benchmarks/screens.py --transport sse`: many screens holding their event
streams open, in a process of their own, as cheaply as Python allows, so that what they
cost the machine is small, measured (their own CPU time) and apart from the benchmark's.

    python -m benchmarks.harness.tvstream HOST PORT PATHS_FILE   (a screen's path a line)

Each TV opens `<path>/events` (HTTP/1.0, so the stream comes without chunked framing) and
reads it for as long as it is on: a non-blocking socket per TV on the event loop's reader
callbacks, no asyncio streams or tasks. It counts the screens' events, heartbeats and bytes,
and for every event after a connection's first (the first is the screen as it was) the
delay from the screen's rendering (`changed_at`, a change's time on the server's clock,
the same machine's) to its arrival, and the time between a TV's events. A stream the server
ends is opened again at once with its Last-Event-ID, as the page does after asking `/live`.

Commands on stdin, one a line, each answered on stdout with one JSON line: `on` (open every
stream, spread over a second; answers once each has its answer's head), `off` (close them
all), `stats` (what happened since the last `stats`), `quit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import random
import resource
import socket
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import orjson


class _Conn:
    __slots__ = ("events", "head", "last_event_at", "n", "pending", "sock")

    def __init__(self, n: int, sock: socket.socket) -> None:
        self.n = n
        self.sock = sock
        self.head: bytes | None = b""  # None once the answer's head was read
        self.pending = b""
        self.events = 0
        self.last_event_at = 0.0


class Streams:
    def __init__(self, host: str, port: int, paths: list[str]) -> None:
        self.address = (host, port)
        self.requests = [
            f"GET {path}/events HTTP/1.0\r\nHost: {host}:{port}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
            for path in paths
        ]
        self.last_ids: list[bytes | None] = [None] * len(paths)
        self.conns: dict[int, _Conn] = {}
        self.on = False
        self.heads = 0  # answers' heads read since `on`
        self.loop = asyncio.get_event_loop()
        self.reset()

    def reset(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.bytes = 0
        self.ended_by_server = 0
        self.delays_ms: list[float] = []
        self.gaps_s: list[float] = []

    def start(self) -> None:
        self.on = True
        self.heads = 0
        rng = random.Random(5)
        now = self.loop.time()
        for n in range(len(self.requests)):
            self.loop.call_at(now + rng.uniform(0, 1.0), self._open, n)

    def stop(self) -> None:
        self.on = False
        for conn in list(self.conns.values()):
            self._drop(conn)

    def _open(self, n: int) -> None:
        if not self.on or n in self.conns:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        conn = _Conn(n, sock)
        self.conns[n] = conn
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            self._fail(conn, errno.errorcode.get(code, str(code)))
            return
        self.loop.add_writer(sock.fileno(), self._send, conn)

    def _send(self, conn: _Conn) -> None:
        sock = conn.sock
        self.loop.remove_writer(sock.fileno())
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._fail(conn, errno.errorcode.get(code, str(code)))
            return
        request = self.requests[conn.n].encode()
        last = self.last_ids[conn.n]
        if last is not None:
            request += b"Last-Event-ID: " + last + b"\r\n"
        try:
            sock.send(request + b"\r\n")
        except OSError as error:
            self._fail(conn, type(error).__name__)
            return
        self.loop.add_reader(sock.fileno(), self._receive, conn)

    def _receive(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as error:
            self._fail(conn, type(error).__name__)
            return
        if not data:
            self._ended(conn)
            return
        self.bytes += len(data)
        if conn.head is not None:
            conn.head += data
            if b"\r\n\r\n" not in conn.head:
                return
            head, _, data = conn.head.partition(b"\r\n\r\n")
            conn.head = None
            self.heads += 1
            try:
                status = int(head.split(b"\r\n", 1)[0].split()[1])
            except (IndexError, ValueError):
                status = 0
            self.statuses[status] += 1
            if status != 200:  # refused (503 beyond the cap), or gone (404)
                self._drop(conn)
                return
        conn.pending += data
        *blocks, conn.pending = conn.pending.split(b"\n\n")
        for block in blocks:
            self._event(conn, block)

    def _event(self, conn: _Conn, block: bytes) -> None:
        kind, event_id, data = b"message", None, b""
        for line in block.split(b"\n"):
            name, _, value = line.partition(b": ")
            if name == b"event":
                kind = value
            elif name == b"id":
                event_id = value
            elif name == b"data":
                data = value
        if block.startswith(b"retry:"):
            kind = b"retry"
        self.kinds[kind.decode()] += 1
        if kind != b"screen":
            return
        arrived = time.time()
        self.last_ids[conn.n] = event_id
        if conn.events:  # not a connection's first: a change while connected
            changed = orjson.loads(data).get("changed_at")
            if changed:
                delay = arrived - datetime.fromisoformat(changed).timestamp()
                self.delays_ms.append(1000 * delay)
            self.gaps_s.append(arrived - conn.last_event_at)
        conn.events += 1
        conn.last_event_at = arrived

    def _ended(self, conn: _Conn) -> None:
        self.ended_by_server += conn.head is None
        self._drop(conn)
        if self.on:  # its lifetime is over (or the server restarts): open it again
            self.loop.call_soon(self._open, conn.n)

    def _fail(self, conn: _Conn, why: str) -> None:
        self.errors[why] += 1
        self._drop(conn)

    def _drop(self, conn: _Conn) -> None:
        if self.conns.get(conn.n) is conn:
            del self.conns[conn.n]
        # Whichever callback it has (a reader, or a writer while connecting).
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(conn.sock.fileno())
            self.loop.remove_writer(conn.sock.fileno())
        conn.sock.close()

    def stats(self) -> dict[str, object]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        answer = {
            "statuses": dict(self.statuses),
            "errors": dict(self.errors),
            "kinds": dict(self.kinds),
            "bytes": self.bytes,
            "ended_by_server": self.ended_by_server,
            "delays_ms": sorted(self.delays_ms),
            "gaps_s": sorted(self.gaps_s),
            "open": len(self.conns),
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
        }
        self.reset()
        return answer


async def _serve(streams: Streams) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if line in ("", "quit"):
            streams.stop()
            return
        if line == "on":
            streams.start()
            deadline = time.monotonic() + 60
            while streams.heads < len(streams.requests) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            answer: dict[str, object] = {"on": True, "heads": streams.heads}
        elif line == "off":
            streams.stop()
            answer = {"on": False}
        elif line == "stats":
            answer = streams.stats()
        else:
            answer = {"error": f"unknown command {line!r}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def main() -> int:
    # A socket per TV: as many open files as the hard limit allows.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    host, port = sys.argv[1], int(sys.argv[2])
    paths = [line.strip() for line in Path(sys.argv[3]).read_text().splitlines() if line.strip()]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    streams = Streams(host, port, paths)
    loop.run_until_complete(_serve(streams))
    return 0


if __name__ == "__main__":
    sys.exit(main())
