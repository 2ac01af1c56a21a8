"""The screens' event streams: one watcher per process, and the streams it wakes.

A TV holds `/screens/<token>/events` open. Nothing is asked per TV while it waits: one
watcher per process (a daemon thread, started with the first stream) looks every
`SCREENS_WATCH_SECONDS` at the departments that have a stream open here, in one Redis round
trip for all of them (`store.read_states`), and when a department's state moved it takes the
current rendering by the shared logic (`service.live_from_state`: rendered at most once per
change across all processes, kept in Redis), then wakes that department's streams. Each
stream is a thread of the serving process (gunicorn's `gthread` workers, or the threaded
development server) that sleeps on its department's condition, writes an event when the
screen's ETag changed, a heartbeat when quiet, and ends after its lifetime (the page opens
a new one). No stream holds a database connection or session while it waits: the watcher
takes a session for its second's work and gives it back.

The watcher also re-checks every open stream's link each time (`service.open_screens`: the
per-process cache, dropped in every process on a revocation), so a revoked screen gets
`event: stopped` within a second and its stream ends.
"""

from __future__ import annotations

import logging
import os
import random
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import redis
from flask import Flask, current_app
from sqlalchemy.orm import Session

from app import clock, db, metrics
from app.errors import ServiceUnavailable
from app.extensions import get_redis
from app.screens import rules, service, store
from app.screens.service import LiveScreen, ScreenFacts

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Channel:
    """One department's open streams in this process, and its screen as last seen."""

    key: tuple[str, str]  # (organisation, department)
    screen: ScreenFacts  # one of its screens' facts: a rendering is the same for them all
    condition: threading.Condition
    live: LiveScreen | None = None
    streams: set[Stream] = field(default_factory=set)
    rendered_without_redis: float = 0.0  # monotonic; while Redis is down


@dataclass(eq=False)
class Stream:
    """One open stream: its link, its department's channel, the ETag it last sent, and the
    connection to the TV when the server gives it (to notice a TV gone without writing)."""

    token_hash: str
    channel: _Channel
    sent: str | None
    peer: socket.socket | None = None
    stopped: bool = False  # the link was revoked: say so, then end
    gone: bool = False  # the TV closed the connection: end without a word


class Watcher:
    """The streams of one process and the thread that wakes them (see the module's text)."""

    def __init__(
        self,
        app: Flask,
        *,
        max_streams: int,
        interval: float,
        heartbeat: float,
        lifetime: float,
    ) -> None:
        self.app = app
        self.max_streams = max_streams
        self.interval = interval  # 0: no thread; the caller ticks (the tests)
        self.heartbeat = heartbeat
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._channels: dict[tuple[str, str], _Channel] = {}
        self._open = 0
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._redis_down = False

    # --- the streams' side ------------------------------------------------------------------

    def open(
        self,
        screen: ScreenFacts,
        token_hash: str,
        live: LiveScreen,
        peer: socket.socket | None = None,
    ) -> Stream:
        """A stream of `screen`, whose current rendering is `live` (which the stream starts
        with, or the browser has already), to the TV on `peer`. Refused beyond the process's
        cap."""
        key = (screen.organization.id, screen.department_id)
        with self._lock:
            if self._open >= self.max_streams:
                metrics.SCREEN_STREAMS_REFUSED.inc()
                raise ServiceUnavailable(
                    "This server holds as many screen streams as it may; ask /live meanwhile.",
                    headers={"Retry-After": str(rules.STREAM_REFUSED_RETRY_AFTER_SECONDS)},
                )
            channel = self._channels.get(key)
            if channel is None:
                channel = _Channel(key, screen, threading.Condition(self._lock))
                self._channels[key] = channel
            if peer is not None:
                _bound_unacknowledged(peer, seconds=2 * self.heartbeat)
            stream = Stream(token_hash, channel, live.etag, peer)
            channel.streams.add(stream)
            self._open += 1
            metrics.SCREEN_STREAMS.inc()
            # Read from Redis just now: the department's current screen for every stream.
            self._publish(channel, live)
        self._ensure_thread()
        return stream

    def close(self, stream: Stream) -> None:
        with self._lock:
            channel = stream.channel
            if stream in channel.streams:
                channel.streams.discard(stream)
                self._open -= 1
                metrics.SCREEN_STREAMS.dec()
            if not channel.streams and self._channels.get(channel.key) is channel:
                del self._channels[channel.key]

    def open_streams(self) -> int:
        with self._lock:
            return self._open

    def events(self, stream: Stream, first: bytes) -> Iterator[bytes]:
        """What the stream sends: `first`, then an event whenever its department's screen
        changed, a heartbeat after `heartbeat` seconds of quiet, `stopped` when the link was
        revoked; it ends after its lifetime (with up to a tenth less, so that TVs connected
        together do not all come back together)."""
        started = time.monotonic()
        ends = started + self.lifetime * (1 - random.random() / 10)
        channel = stream.channel
        try:
            yield first
            quiet_since = time.monotonic()
            while True:
                with self._lock:
                    now = time.monotonic()
                    wait = min(quiet_since + self.heartbeat, ends) - now
                    if wait > 0:
                        channel.condition.wait_for(lambda: self._due(stream), timeout=wait)
                    if stream.gone:
                        return
                    stopped = stream.stopped
                    live = channel.live if self._due(stream) else None
                    if live is not None:
                        stream.sent = live.etag
                now = time.monotonic()
                if stopped:
                    yield rules.event_frame("{}", event="stopped")
                    return
                if live is not None:
                    yield rules.event_frame(live.body, event="screen", event_id=live.etag)
                    quiet_since = now
                elif now >= ends:
                    return
                elif now >= quiet_since + self.heartbeat:
                    yield rules.heartbeat_frame()
                    quiet_since = now
        finally:
            self.close(stream)

    @staticmethod
    def _due(stream: Stream) -> bool:
        """Whether the stream has something to send (under the lock)."""
        live = stream.channel.live
        return stream.stopped or stream.gone or (live is not None and live.etag != stream.sent)

    # --- the watcher's side -----------------------------------------------------------------

    def tick(self, session: Session, now: datetime) -> None:
        """One look at every department with a stream open here: stop the streams of revoked
        links, and wake those whose department's screen changed."""
        with self._lock:
            channels = list(self._channels.values())
            streams = [s for c in channels for s in c.streams]
        if not channels:
            return
        still_open = service.open_screens(session, {s.token_hash for s in streams})
        gone = _closed_by_peer(streams)
        with self._lock:
            for stream in streams:
                if stream.token_hash not in still_open:
                    stream.stopped = True
                    stream.channel.condition.notify_all()
                if stream in gone:
                    stream.gone = True
                    stream.channel.condition.notify_all()
        for channel, live in self._current_screens(session, now, channels):
            with self._lock:  # each department's streams as soon as its screen is known
                self._publish(channel, live)

    def _current_screens(
        self, session: Session, now: datetime, channels: list[_Channel]
    ) -> Iterator[tuple[_Channel, LiveScreen]]:
        client = get_redis()
        try:
            states = store.read_states(
                client,
                [(*c.key, service.screen_period(c.screen, now)) for c in channels],
            )
        except redis.RedisError as error:
            if not self._redis_down:
                log.warning("screen streams: Redis unreachable (%s); rendering without it", error)
            self._redis_down = True
            yield from self._without_redis(session, now, channels)
            return
        if self._redis_down:
            log.info("screen streams: Redis is back")
            self._redis_down = False
        for channel, state in zip(channels, states, strict=True):
            try:
                live = service.live_from_state(session, screen=channel.screen, now=now, state=state)
            except Exception:
                log.exception("screen of department %s not rendered", channel.key[1])
                session.rollback()
                continue
            yield channel, live

    def _without_redis(
        self, session: Session, now: datetime, channels: list[_Channel]
    ) -> Iterator[tuple[_Channel, LiveScreen]]:
        """Redis down: each department rendered from the database, as often as a polling TV
        would have it rendered (`rules.POLL_SECONDS`), not every second."""
        moment = time.monotonic()
        for channel in channels:
            if moment - channel.rendered_without_redis < rules.POLL_SECONDS:
                continue
            channel.rendered_without_redis = moment
            try:
                live = service.render_without_redis(session, screen=channel.screen, now=now)
            except Exception:
                log.exception("screen of department %s not rendered", channel.key[1])
                session.rollback()
                continue
            yield channel, live

    def _publish(self, channel: _Channel, live: LiveScreen) -> None:
        """The department's screen is `live` now: wake its streams if it changed (under the
        lock)."""
        if channel.live is None or channel.live.etag != live.etag:
            channel.live = live
            channel.condition.notify_all()

    def _ensure_thread(self) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            # A forked process inherits the object, not the thread.
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name="screen-stream-watcher", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                with self.app.app_context():
                    try:
                        self.tick(db.session(), clock.now())
                    finally:
                        db.session.remove()  # no connection held between ticks
            except Exception:
                log.exception("screen stream watcher: a tick failed")
            time.sleep(max(0.05, self.interval - (time.monotonic() - started)))


def _bound_unacknowledged(peer: socket.socket, *, seconds: float) -> None:
    """Have the kernel end the connection to a TV that acknowledges nothing for `seconds`
    (`TCP_USER_TIMEOUT`, Linux). A TV whose network vanished without a word (power cut, Wi-Fi
    gone) sends no FIN or RST: the heartbeats written to it are buffered and retransmitted,
    no write fails, and by default the kernel gives up only after about 15 minutes. With two
    heartbeats' worth, the connection breaks within that, `_closed_by_peer` sees it at the
    next look, and the stream's place under the cap is free again."""
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if option is None or peer.family not in (socket.AF_INET, socket.AF_INET6):
        return  # not Linux, or not TCP (a test's socket pair)
    try:
        peer.setsockopt(socket.IPPROTO_TCP, option, max(1, int(seconds * 1000)))
    except OSError as error:
        log.debug("screen stream: TCP_USER_TIMEOUT not set (%s)", error)


def _closed_by_peer(streams: list[Stream]) -> set[Stream]:
    """The streams whose TV has closed its connection. A TV sends nothing after its request,
    so a connection that turns readable has ended (or broke). Without this a TV that went
    away was noticed only when the second write after it failed, up to two heartbeats
    later, and its stream counted against the process's cap meanwhile: after a load
    balancer restart every TV comes back at once, and would have found the cap full."""
    poller = select.poll()
    watched: dict[int, Stream] = {}
    for stream in streams:
        if stream.peer is None:
            continue
        try:
            fd = stream.peer.fileno()
        except OSError:
            continue
        if fd >= 0:
            poller.register(fd, select.POLLIN | select.POLLPRI)
            watched[fd] = stream
    gone: set[Stream] = set()
    for fd, events in poller.poll(0):
        stream = watched[fd]
        if events & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
            gone.add(stream)
            continue
        try:
            if stream.peer is not None and not stream.peer.recv(
                1, socket.MSG_PEEK | socket.MSG_DONTWAIT
            ):
                gone.add(stream)  # an orderly close
        except BlockingIOError:
            pass  # readable a moment ago, not now: alive
        except OSError:
            gone.add(stream)
    return gone


def watcher() -> Watcher:
    """This app's watcher (one per process), made with the first stream."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found: Watcher | None = app.extensions.get("screen_streams")
    if found is None:
        with _making:
            found = app.extensions.get("screen_streams")
            if found is None:
                config = app.config
                found = Watcher(
                    app,
                    max_streams=int(config["SCREEN_STREAMS_MAX"]),
                    interval=float(config["SCREENS_WATCH_SECONDS"]),
                    heartbeat=float(config["SCREEN_STREAM_HEARTBEAT_SECONDS"]),
                    lifetime=float(config["SCREEN_STREAM_LIFETIME_SECONDS"]),
                )
                app.extensions["screen_streams"] = found
    return found


_making = threading.Lock()
