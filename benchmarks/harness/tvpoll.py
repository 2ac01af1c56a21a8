"""The TVs of `benchmarks/screens.py`: many screens polling their live data, in a process of
their own, as cheaply as Python allows, so that what they cost the machine is small, measured
(their own CPU time) and apart from the benchmark's.

    python -m benchmarks.harness.tvpoll HOST PORT POLL_SECONDS PATHS_FILE   (a path a line)

Each TV polls `<path>/live` every POLL_SECONDS with the ETag it last got in If-None-Match,
on a new connection each time (gunicorn's sync workers close after every answer, as a TV's
browser would find), and keeps its own phase. No asyncio streams or tasks: a non-blocking
socket per poll, driven by the event loop's reader/writer callbacks, and one timer per TV.

It reads commands on stdin, one a line, and answers each on stdout with one JSON line:
`on` (start polling), `off` (stop starting polls; answers once those under way are done),
`stats` (what happened since the last `stats`: statuses, errors, latencies, own CPU
seconds), `quit`.
"""

from __future__ import annotations

import asyncio
import errno
import json
import random
import resource
import socket
import sys
import time
from collections import Counter
from pathlib import Path


class Pollers:
    def __init__(self, host: str, port: int, paths: list[str], poll: float) -> None:
        self.address = (host, port)
        self.poll = poll
        self.requests = [
            f"GET {path}/live HTTP/1.1\r\nHost: {host}:{port}\r\n"
            # What Chromium sends: a TV's 200s are compressed (flask-compress) as in a store.
            "Accept: application/json\r\nAccept-Encoding: gzip, deflate\r\n"
            "Connection: close\r\n"
            for path in paths
        ]
        self.etags: list[bytes | None] = [None] * len(paths)
        self.on = False
        self.in_flight = 0
        self.loop = asyncio.get_event_loop()
        self.reset()

    def reset(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.latencies: list[float] = []

    def start(self) -> None:
        rng = random.Random(5)
        now = self.loop.time()
        for n in range(len(self.requests)):
            # TVs switched on through the day: spread over one poll interval, and each keeps
            # its phase while the pollers are off (no 500 polls in one instant on resuming).
            self.loop.call_at(now + rng.uniform(0, self.poll), self._tick, n)

    def _tick(self, n: int) -> None:
        self.loop.call_at(self.loop.time() + self.poll, self._tick, n)
        if self.on:
            self._open(n)

    def _open(self, n: int) -> None:
        started = time.monotonic()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        self.in_flight += 1
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            self._fail(n, sock, errno.errorcode.get(code, str(code)), registered=False)
            return
        self.loop.add_writer(sock.fileno(), self._send, n, sock, started)

    def _send(self, n: int, sock: socket.socket, started: float) -> None:
        self.loop.remove_writer(sock.fileno())
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._fail(n, sock, errno.errorcode.get(code, str(code)), registered=False)
            return
        etag = self.etags[n]
        request = self.requests[n].encode()
        if etag is not None:
            request += b"If-None-Match: " + etag + b"\r\n"
        try:
            sock.send(request + b"\r\n")  # a few hundred bytes: one send on a fresh socket
        except OSError as error:
            self._fail(n, sock, type(error).__name__, registered=False)
            return
        chunks: list[bytes] = []
        self.loop.add_reader(sock.fileno(), self._receive, n, sock, started, chunks)

    def _receive(self, n: int, sock: socket.socket, started: float, chunks: list[bytes]) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as error:
            self._fail(n, sock, type(error).__name__, registered=True)
            return
        if data:
            chunks.append(data)
            return
        self.loop.remove_reader(sock.fileno())
        sock.close()
        self.in_flight -= 1
        raw = b"".join(chunks)
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        try:
            status = int(head[0].split()[1])
        except (IndexError, ValueError):
            self.errors["bad answer"] += 1
            return
        for line in head[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"etag":
                self.etags[n] = value.strip()
        self.statuses[status] += 1
        self.latencies.append((time.monotonic() - started) * 1000)

    def _fail(self, n: int, sock: socket.socket, why: str, *, registered: bool) -> None:
        if registered:
            self.loop.remove_reader(sock.fileno())
        sock.close()
        self.in_flight -= 1
        self.errors[why] += 1

    def stats(self) -> dict[str, object]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        latencies = sorted(self.latencies)
        answer = {
            "statuses": dict(self.statuses),
            "errors": dict(self.errors),
            "latencies_ms": latencies,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "in_flight": self.in_flight,
        }
        self.reset()
        return answer


async def _serve(pollers: Pollers) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    pollers.start()
    while True:
        line = (await reader.readline()).decode().strip()
        if line in ("", "quit"):
            return
        if line == "on":
            pollers.on = True
            answer: dict[str, object] = {"on": True}
        elif line == "off":
            pollers.on = False
            deadline = time.monotonic() + 60
            while pollers.in_flight and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            answer = {"on": False}
        elif line == "stats":
            answer = pollers.stats()
        else:
            answer = {"error": f"unknown command {line!r}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def main() -> int:
    host, port, poll = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    paths = [line.strip() for line in Path(sys.argv[4]).read_text().splitlines() if line.strip()]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pollers = Pollers(host, port, paths, poll)
    loop.run_until_complete(_serve(pollers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
