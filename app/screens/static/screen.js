// The store screen: holds a Server-Sent Events stream open (`/screens/<secret>/events`) and
// redraws what changed, without a reload. The stream sends the screen when it changes and a
// heartbeat when quiet; silence for a few heartbeats means the server froze or the network
// swallows packets. When a stream ends or fails, the page asks `/live` once (ETag and
// If-None-Match: the usual answer is an empty 304) to learn what happened: the server is
// there (open a new stream, or poll `/live` every few seconds while the server refuses
// streams), the link was revoked (404: the board is cleared), or the server is away (the
// screen says it is reconnecting and when it last heard from the server, and tries again
// after a growing pause, with jitter so that a store's TVs do not return together). It
// never reloads itself (a reload would fail just the same and lose the board). Everything is
// written with textContent: nothing is parsed as HTML.
(function () {
  "use strict";

  var root = document.getElementById("screen");
  if (!root) { return; }
  var liveUrl = root.dataset.live;
  var etag = root.dataset.etag || null;
  var pollMs = Math.max(1, Number(root.dataset.pollSeconds) || 5) * 1000;
  var maxPauseMs = 30 * 1000;
  var failures = 0;
  var lastContact = new Date();  // the page itself came from the server just now
  var status = document.getElementById("status");
  var timeFormat = new Intl.DateTimeFormat(root.dataset.lang === "en" ? "en-GB" : "nb-NO", {
    hour: "2-digit", minute: "2-digit", timeZone: root.dataset.timezone
  });

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  function text(id, value) {
    var node = document.getElementById(id);
    if (node.textContent !== value) { node.textContent = value; }
  }

  function cell(row, value, className) {
    var td = document.createElement("td");
    td.className = className;
    td.textContent = String(value);
    row.appendChild(td);
  }

  function drawBoard(entries) {
    var body = document.getElementById("board-rows");
    var rows = document.createDocumentFragment();
    entries.forEach(function (entry) {
      var tr = document.createElement("tr");
      cell(tr, entry.rank, "rank");
      cell(tr, entry.name, "name");
      cell(tr, entry.points, "num points");
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
    document.getElementById("board").hidden = entries.length === 0;
    document.getElementById("board-empty").hidden = entries.length !== 0;
  }

  function drawPath(path) {
    var node = document.getElementById("path");
    var meter = document.getElementById("path-meter");
    if (path) {
      text("path", fill(root.dataset.textPathDone, path));
      meter.style.width = (path.of ? Math.round(100 * path.done / path.of) : 0) + "%";
    } else {
      text("path", node.dataset.empty);
      meter.style.width = "0%";
    }
  }

  function drawCompetition(competition, department) {
    var node = document.getElementById("competition");
    var leaders = document.getElementById("competition-leaders");
    var items = document.createDocumentFragment();
    if (competition) {
      text("competition-name", competition.title);
      text("competition", fill(root.dataset.textCompetitionPlace, {
        department: department, rank: competition.rank, of: competition.of
      }));
      competition.leaders.forEach(function (leader) {
        var li = document.createElement("li");
        if (leader.ours) { li.className = "ours"; }
        [[leader.rank + ".", "rank"], [leader.department, "name"], [leader.score, "num"]]
          .forEach(function (part, index) {
            var span = document.createElement("span");
            span.className = part[1];
            span.textContent = String(part[0]);
            if (index) { li.appendChild(document.createTextNode(" ")); }
            li.appendChild(span);
          });
        items.appendChild(li);
      });
    } else {
      text("competition-name", "");
      text("competition", node.dataset.empty);
    }
    leaders.replaceChildren(items);
  }

  function drawChanged(iso) {
    var node = document.getElementById("changed");
    node.dataset.changedAt = iso;
    text("changed", fill(root.dataset.textChanged, { time: timeFormat.format(new Date(iso)) }));
  }

  function draw(data) {
    text("department", data.department);
    text("week", fill(root.dataset.textWeek, { week: data.week }));
    drawBoard(data.board);
    drawPath(data.path);
    drawCompetition(data.competition, data.department);
    drawChanged(data.changed_at);
    if (data.poll_seconds) { pollMs = Math.max(1, data.poll_seconds) * 1000; }
    root.dataset.etag = etag || "";
  }

  function showStatus(kind) {
    if (!kind) {
      status.hidden = true;
      root.classList.remove("offline", "stopped");
      return;
    }
    var message = status.dataset[kind];
    if (kind === "offline") {
      message += " " + fill(status.dataset.lastContact, { time: timeFormat.format(lastContact) });
    }
    text("status", message);
    status.hidden = false;
    root.classList.remove(kind === "offline" ? "stopped" : "offline");
    root.classList.add(kind);
  }

  // One timer for whatever comes next (a poll, a new stream), so that two never run at once.
  var timer = null;

  function later(next, ms) {
    window.clearTimeout(timer);
    // A little jitter, so that TVs that lost the server together do not return together.
    timer = window.setTimeout(next, ms + Math.floor(Math.random() * 1000));
  }

  function heard() {
    failures = 0;
    lastContact = new Date();
    showStatus(null);
  }

  function failed() {
    refused = false;  // the server is away, not refusing
    // 1, 2, 4, 8 … poll intervals, at most maxPauseMs: a short drop is over within seconds,
    // a long outage costs the server a request per TV every half minute.
    failures += 1;
    showStatus("offline");
    later(check, Math.min(maxPauseMs, pollMs * Math.pow(2, Math.min(failures - 1, 5))));
  }

  function stopped() {
    // The link was revoked: show nothing of the store any more. Ask again now and then, in
    // case the 404 came from something in front of the app.
    etag = null;
    failures = 0;
    refused = false;
    drawBoard([]);
    drawPath(null);
    drawCompetition(null, "");
    showStatus("stopped");
    later(check, maxPauseMs * 10);
  }

  // --- the stream -------------------------------------------------------------------------

  var eventsUrl = root.dataset.events;
  var canStream = typeof window.EventSource === "function" && !!eventsUrl;
  // Silence for this long (two heartbeats and then some) means the stream is lost.
  var silenceMs = (2 * Math.max(1, Number(root.dataset.heartbeatSeconds) || 15) + 5) * 1000;
  var refusedPauseMs = 60 * 1000;  // a server that refused a stream is asked again after this
  var source = null;
  var silence = null;
  var streamOpened = false;  // whether the stream of the moment got as far as its first answer
  var streamRefusedUntil = 0;
  var refused = false;  // a stream failed before it opened: refused, if /live then answers

  function openStream() {
    closeStream();
    root.dataset.transport = "stream";
    streamOpened = false;
    var url = eventsUrl + (etag ? "?last_event_id=" + encodeURIComponent(etag) : "");
    source = new window.EventSource(url);
    source.addEventListener("open", function () {
      streamOpened = true;
      alive();
    });
    source.addEventListener("screen", function (event) {
      etag = event.lastEventId || etag;
      draw(JSON.parse(event.data));
      alive();
    });
    source.addEventListener("ping", alive);
    source.addEventListener("stopped", function () {
      closeStream();
      stopped();
    });
    source.addEventListener("error", function () {
      // Ended (its lifetime, a restart) or never opened (refused, unreachable): the browser
      // would retry blindly; ask /live what happened instead.
      refused = !streamOpened;
      closeStream();
      check();
    });
    watchSilence();
  }

  function alive() {
    heard();
    watchSilence();
  }

  function watchSilence() {
    window.clearTimeout(silence);
    silence = window.setTimeout(function () {
      // A frozen server or a network that swallows packets: no heartbeat, no error.
      closeStream();
      showStatus("offline");
      check();
    }, silenceMs);
  }

  function closeStream() {
    window.clearTimeout(silence);
    if (source) {
      source.close();
      source = null;
    }
  }

  // --- asking /live -----------------------------------------------------------------------

  function onward() {
    // The server answered: back to the stream, or the next poll while it refuses streams
    // (a 503 beyond its cap, or a server that holds none: EventSource shows no status, but
    // a stream that failed before it opened while /live answers was refused).
    if (refused) {
      refused = false;
      streamRefusedUntil = Date.now() + refusedPauseMs;
    }
    if (canStream && Date.now() >= streamRefusedUntil) {
      later(openStream, 0);
    } else {
      root.dataset.transport = "polling";
      later(check, pollMs);
    }
  }

  function check() {
    var headers = { "Accept": "application/json" };
    if (etag) { headers["If-None-Match"] = etag; }
    // A dropped network may swallow the request without an answer or an error: give up on
    // it after a few poll intervals rather than wait for the browser's own timeout.
    var abort = typeof AbortController === "function" ? new AbortController() : null;
    var abortTimer = abort ? window.setTimeout(function () { abort.abort(); }, timeoutMs()) : null;
    fetch(liveUrl, {
      headers: headers, cache: "no-store", credentials: "omit", signal: abort && abort.signal
    })
      .then(function (response) {
        if (abortTimer) { window.clearTimeout(abortTimer); }
        if (response.status === 304) {
          heard();
          onward();
          return null;
        }
        if (response.status === 404) {
          stopped();
          return null;
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json().then(function (data) {
          etag = response.headers.get("ETag");
          draw(data);
          heard();
          onward();
        });
      })
      .catch(function () {
        if (abortTimer) { window.clearTimeout(abortTimer); }
        failed();
      });
  }

  function timeoutMs() {
    return Math.max(10 * 1000, 3 * pollMs);
  }

  var meter = document.getElementById("path-meter");
  var of = Number(meter.dataset.of);
  meter.style.width = (of ? Math.round(100 * Number(meter.dataset.done) / of) : 0) + "%";
  if (canStream) {
    openStream();
  } else {
    root.dataset.transport = "polling";
    later(check, pollMs);
  }
})();
