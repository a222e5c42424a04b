-- One wrk script for every scenario of `make bench`, configured by bench/run through the
-- environment:
--   BENCH_METHOD  GET (default), POST, PATCH...
--   BENCH_PATHS   one path, or several separated by spaces: request n goes to path n mod count
--   BENCH_TOKEN   sent as `Authorization: Bearer <token>` when set
--   BENCH_BODY    JSON body; every `{n}` in it becomes a value unique to this request
--   BENCH_ACCEPT_LANGUAGE  sent as `Accept-Language` when set
--   BENCH_RUN_ID  makes those values unique across runs too
--   BENCH_RESULT  file that receives the summary, as one JSON object
-- With one path and a body without `{n}`, the request is built once and replayed, so that wrk
-- spends as little as possible of its thread on Lua (the ceiling scenario depends on it).

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

local varying = #paths > 1 or (body ~= nil and body:find("{n}", 1, true) ~= nil)

if varying then
  local n = 0
  function request()
    n = n + 1
    local path = paths[(n % #paths) + 1]
    local this_body = nil
    if body then
      this_body = body:gsub("{n}", run_id .. "-" .. n)
    end
    return wrk.format(method, path, nil, this_body)
  end
else
  wrk.method = method
  wrk.path = paths[1]
  wrk.body = body
end

function done(summary, latency, requests)
  local out = os.getenv("BENCH_RESULT")
  if not out then
    return
  end
  local errors = summary.errors
  local file = assert(io.open(out, "w"))
  file:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  file:close()
end
