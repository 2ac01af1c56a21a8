-- Replays a file of precomputed requests (written by benchmarks/harness/loadgen.py).
--
--   wrk -t T -c C -d D -s replay.lua URL -- <requests file> <once|cycle> <T>
--
-- Each line of the file is "METHOD\tPATH\tHEADERS\tBODY", HEADERS being "Name: value" pairs
-- joined by \31 (ASCII unit separator). Thread i takes every T-th line starting at i, so no
-- two threads share a request. In "once" mode a line is never sent twice (each answer must be
-- a fresh one); when a thread runs out it sends GET /__bench_exhausted__ and counts it, so an
-- undersized workload shows up as failures instead of silently repeating requests.
-- done() writes a JSON summary to the file named by $BENCH_WRK_OUT.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

local requests = {}
local total = 0
local position = 0
local cycle = false
local spare = nil

-- Read back by done() through thread:get().
counts = {}
exhausted = 0
body_min = -1
body_max = 0

function init(args)
   local path, mode, nthreads = args[1], args[2], tonumber(args[3])
   cycle = (mode == "cycle")
   local index = 0
   for line in io.lines(path) do
      if index % nthreads == thread_index then
         local method, target, header_text, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
         local headers = {}
         for pair in header_text:gmatch("[^\31]+") do
            local name, value = pair:match("^([^:]+):%s*(.*)$")
            headers[name] = value
         end
         if body == "" then
            body = nil
         end
         total = total + 1
         requests[total] = wrk.format(method, target, headers, body)
      end
      index = index + 1
   end
   spare = wrk.format("GET", "/__bench_exhausted__", {}, nil)
end

function request()
   if position >= total then
      if cycle and total > 0 then
         position = 0
      else
         exhausted = exhausted + 1
         return spare
      end
   end
   position = position + 1
   return requests[position]
end

function response(status, headers, body)
   counts[status] = (counts[status] or 0) + 1
   local size = body and #body or 0
   if body_min < 0 or size < body_min then
      body_min = size
   end
   if size > body_max then
      body_max = size
   end
end

function done(summary, latency, requests_stats)
   local statuses = {}
   local exhausted_total = 0
   local bmin, bmax = -1, 0
   for _, thread in ipairs(threads) do
      for code, n in pairs(thread:get("counts") or {}) do
         statuses[code] = (statuses[code] or 0) + n
      end
      exhausted_total = exhausted_total + (thread:get("exhausted") or 0)
      local tmin, tmax = thread:get("body_min"), thread:get("body_max")
      if tmin and tmin >= 0 and (bmin < 0 or tmin < bmin) then
         bmin = tmin
      end
      if tmax and tmax > bmax then
         bmax = tmax
      end
   end
   local parts = {}
   for code, n in pairs(statuses) do
      table.insert(parts, string.format('"%d": %d', code, n))
   end
   local e = summary.errors
   local out = assert(io.open(os.getenv("BENCH_WRK_OUT"), "w"))
   out:write(string.format(
      '{"duration_us": %d, "requests": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d}, ' ..
      '"statuses": {%s}, "exhausted": %d, "body_min": %d, "body_max": %d}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9),
      table.concat(parts, ", "), exhausted_total, bmin, bmax))
   out:close()
end
