-- One wrk script for every scenario of `make bench`, configured by bench/run through the
-- environment:
--   BENCH_METHOD  GET (default), POST, PATCH...
--   BENCH_PATHS   one path, or several separated by spaces: request n goes to path n mod count
--   BENCH_TOKEN   sent as `Authorization: Bearer <token>` when set
--   BENCH_BODY    JSON body; every `{n}` in it becomes a value unique to this request
--   BENCH_ACCEPT_LANGUAGE  sent as `Accept-Language` when set
--   BENCH_IDEMPOTENCY_KEY  when `1`, each request carries an `Idempotency-Key` of its own
--   BENCH_RUN_ID  makes those values unique across runs too
--   BENCH_RESULT  file that receives the summary, as one JSON object
--   BENCH_REFRESH_TOKENS  refresh mode, below: the file of the sessions' refresh tokens
--   BENCH_REFRESH_PER_THREAD  in refresh mode, how many of them each wrk thread gets
-- With one path and a body without `{n}`, the request is built once and replayed, so that wrk
-- spends as little as possible of its thread on Lua (the ceiling scenario depends on it).
--
-- Refresh mode: each request is `POST <path> {"refresh_token": …}` with a live refresh token,
-- and each answer brings the token that replaces it (rotation), so a token can be sent once.
-- The file holds one session a line, `<user id> <refresh token>`, one session per account so
-- that an answer's `user.id` says which session it continues. Each thread gets as many sessions
-- as it has connections and keeps them in a queue: `request()` takes the oldest, `response()`
-- queues it again with its new token. `done()` writes back, in the same file, the newest token
-- of every session, queued or still in flight when wrk stopped (the server may have spent the
-- latter, but the next run sends them within the grace window and gets their successors).
-- Any answer but a 2xx loses its session, and is counted as `non_2xx`.

local method = os.getenv("BENCH_METHOD") or "GET"
local token = os.getenv("BENCH_TOKEN")
local body = os.getenv("BENCH_BODY")
local run_id = os.getenv("BENCH_RUN_ID") or "0"

local paths = {}
for path in string.gmatch(os.getenv("BENCH_PATHS") or "/", "%S+") do
  paths[#paths + 1] = path
end

if token then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local accept_language = os.getenv("BENCH_ACCEPT_LANGUAGE")
if accept_language then
  wrk.headers["Accept-Language"] = accept_language
end
if body then
  wrk.headers["Content-Type"] = "application/json"
end

local keyed = os.getenv("BENCH_IDEMPOTENCY_KEY") == "1"
local varying = keyed or #paths > 1 or (body ~= nil and body:find("{n}", 1, true) ~= nil)
local refresh_tokens = os.getenv("BENCH_REFRESH_TOKENS")

if refresh_tokens then
  wrk.headers["Content-Type"] = "application/json"
  local per_thread = tonumber(os.getenv("BENCH_REFRESH_PER_THREAD"))
  local sessions = {}
  for line in io.lines(refresh_tokens) do
    local id, token = line:match("^(%d+) (%S+)$")
    sessions[#sessions + 1] = { id = id, token = token }
  end
  local threads = {}

  -- In wrk's own Lua state: hands each thread its share of the sessions. Only strings, numbers
  -- and booleans cross between states: wrk's copy of a table unbalances the Lua stack.
  function setup(thread)
    local first = #threads * per_thread
    local ids = {}
    for i = first + 1, first + per_thread do
      local session = assert(sessions[i], "fewer refresh tokens than connections")
      ids[#ids + 1] = session.id
      thread:set("session" .. session.id, session.token)
    end
    thread:set("ids", table.concat(ids, " "))
    -- wrk calls request() once on its first thread before the run, to check what it returns;
    -- that request is never sent, so it must not take a session.
    thread:set("probe", #threads == 0)
    threads[#threads + 1] = thread
  end

  -- The rest runs in each thread's own state. The global `session<id>` is that session's
  -- newest token: queued, or in flight. The queue of ids runs from `head` to `tail - 1`.
  local queue, head, tail = {}, 1, 1
  non_2xx = 0

  function init()
    for id in ids:gmatch("%d+") do
      queue[tail] = id
      tail = tail + 1
    end
  end

  local function refresh(token)
    return wrk.format("POST", paths[1], nil, '{"refresh_token":"' .. token .. '"}')
  end

  function request()
    if probe then
      probe = false
      return refresh(_G["session" .. queue[head]])
    end
    local id = queue[head]
    if not id then
      -- Sessions were lost (non-2xx answers), so there are fewer than connections: a request
      -- that must fail, and be counted.
      return refresh("lost")
    end
    queue[head] = nil
    head = head + 1
    return refresh(_G["session" .. id])
  end

  function response(status, headers, answer)
    answer = answer or ""
    local id = answer:match('"user":{"id":(%d+)')
    local token = answer:match('"refresh_token":"([^"]+)"')
    if status < 200 or status > 299 or not id or not token then
      non_2xx = non_2xx + 1
      return
    end
    _G["session" .. id] = token
    queue[tail] = id
    tail = tail + 1
  end

  -- Back in wrk's own state, once the threads are done: how many answers were not 2xx.
  function save_sessions()
    local count = 0
    local file = assert(io.open(refresh_tokens, "w"))
    for n, thread in ipairs(threads) do
      count = count + thread:get("non_2xx")
      for i = (n - 1) * per_thread + 1, n * per_thread do
        local id = sessions[i].id
        file:write(id, " ", thread:get("session" .. id), "\n")
      end
    end
    file:close()
    return count
  end
elseif varying then
  local n = 0
  function request()
    n = n + 1
    local path = paths[(n % #paths) + 1]
    local this_body = nil
    if body then
      this_body = body:gsub("{n}", run_id .. "-" .. n)
    end
    local headers = nil
    if keyed then
      -- Headers given to wrk.format replace wrk.headers: a copy, with the key added.
      headers = {}
      for name, value in pairs(wrk.headers) do
        headers[name] = value
      end
      headers["Idempotency-Key"] = "bench-" .. run_id .. "-" .. n
    end
    return wrk.format(method, path, headers, this_body)
  end
else
  wrk.method = method
  wrk.path = paths[1]
  wrk.body = body
end

function done(summary, latency, requests)
  local out = os.getenv("BENCH_RESULT")
  local errors = summary.errors
  -- In refresh mode the tokens are saved even without a result file (the warm-up).
  local non_2xx = save_sessions and string.format('"non_2xx": %d, ', save_sessions()) or ""
  if not out then
    return
  end
  local file = assert(io.open(out, "w"))
  file:write(string.format(
    '{' .. non_2xx .. '"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  file:close()
end
