-- wrk script for every benchmark phase; the same script drives the plugin and the ceiling app.
-- Environment: BENCH_PHASE (lookup|get|list|post|patch|put|delete|member), BENCH_DATA (a file of
-- "id<TAB>userName" lines; for member, "group id<TAB>user id"), BENCH_TOKEN, BENCH_TAG (makes POSTed
-- userNames unique per run),
-- BENCH_THREADS (wrk's -t). Every request differs: random users for reads, a fresh userName per POST,
-- each wrk thread PATCHes/PUTs/DELETEs its own interleaved share of the ids (DELETE stops the thread
-- once its share is used up, so no id is deleted twice). member: each thread adds one user of its share to
-- the group, then removes it (Entra's "Add"/"Remove" with path members and a value list), then the next.
-- done() prints one BENCH_RESULT JSON line.

local phase = os.getenv("BENCH_PHASE") or "lookup"
local data_path = os.getenv("BENCH_DATA") or ""
local token = os.getenv("BENCH_TOKEN") or ""
local tag = os.getenv("BENCH_TAG") or "x"
local prefix = "/scim/v2"
local threads = {}
local created = 0

function setup(thread)
  created = created + 1
  thread:set("tid", created)
  table.insert(threads, thread)
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
  ids, names = {}, {}
  if data_path ~= "" then
    for line in io.lines(data_path) do
      local id, name = line:match("^([^\t]*)\t(.*)$")
      if id then
        ids[#ids + 1] = id
        names[#names + 1] = name
      end
    end
  end
  n = #ids
  own = n >= tid and (math.floor((n - tid) / nthreads) + 1) or 0
  i = 0
  non2xx = 0
  bad = ""
  math.randomseed(tid * 7919 + os.time())
  headers = {
    ["Authorization"] = "Bearer " .. token,
    ["X-Request-Origin"] = "idp.example.com",
    ["Content-Type"] = "application/scim+json",
  }
end

local PATCH_OP = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":['
local CORE = '"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]'

function request()
  i = i + 1
  if phase == "lookup" then
    local k = math.random(n)
    return wrk.format("GET", prefix .. "/Users?filter=" .. urlencode('userName eq "' .. names[k] .. '"'), headers)
  elseif phase == "get" then
    return wrk.format("GET", prefix .. "/Users/" .. ids[math.random(n)], headers)
  elseif phase == "list" then
    local s = math.random(math.max(n - 99, 1))
    return wrk.format("GET", prefix .. "/Users?startIndex=" .. s .. "&count=100", headers)
  elseif phase == "post" then
    local u = string.format("bench-post-%s-%d-%d@bench.example", tag, tid, i)
    local body = "{" .. CORE .. ',"userName":"' .. u .. '","externalId":"' .. u
      .. '","name":{"givenName":"Post' .. i .. '","familyName":"Thread' .. tid .. '"}'
      .. ',"displayName":"Post ' .. i .. '","emails":[{"value":"' .. u .. '","type":"work","primary":true}]'
      .. ',"active":true}'
    return wrk.format("POST", prefix .. "/Users", headers, body)
  end
  -- patch, put, delete, member: this thread's ids are positions tid, tid + nthreads, tid + 2 * nthreads, ...
  if own == 0 or (phase == "delete" and i > own) then
    wrk.thread:stop()
    return wrk.format("GET", prefix .. "/Users?startIndex=1&count=1", headers)
  end
  if phase == "member" then
    -- odd requests add user k to group ids[k], the next one removes it again
    local k = tid + (math.floor((i - 1) / 2) % own) * nthreads
    local op = (i % 2 == 1) and "Add" or "Remove"
    local body = PATCH_OP .. '{"op":"' .. op .. '","path":"members","value":[{"value":"' .. names[k] .. '"}]}]}'
    return wrk.format("PATCH", prefix .. "/Groups/" .. ids[k], headers, body)
  end
  local j = (i - 1) % own
  local round = math.floor((i - 1) / own)
  local k = tid + j * nthreads
  local path = prefix .. "/Users/" .. ids[k]
  if phase == "delete" then
    return wrk.format("DELETE", path, headers)
  elseif phase == "patch" then
    local body
    if k % 2 == 0 then
      -- Entra's disable (and, on the next round, enable): a string boolean, capitalised op.
      local v = (round % 2 == 0) and "False" or "True"
      body = PATCH_OP .. '{"op":"Replace","path":"active","value":"' .. v .. '"}]}'
    else
      body = PATCH_OP .. '{"op":"Replace","path":"name.givenName","value":"Patched ' .. tid .. "-" .. i
        .. '"},{"op":"Replace","path":"name.familyName","value":"Round ' .. round .. '"}]}'
    end
    return wrk.format("PATCH", path, headers, body)
  else
    local u = names[k]
    local body = "{" .. CORE .. ',"userName":"' .. u .. '","name":{"givenName":"Put ' .. tid .. "-" .. i
      .. '","familyName":"Round ' .. round .. '"},"displayName":"Put ' .. i .. '"'
      .. ',"emails":[{"value":"' .. u .. '","type":"work","primary":true}],"active":true}'
    return wrk.format("PUT", path, headers, body)
  end
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if #bad < 400 then
      bad = bad .. status .. " " .. string.sub(body or "", 1, 160):gsub("[\r\n]", " ") .. "\n"
    end
  end
end

function done(summary, latency, requests)
  local non, samples = 0, ""
  for _, t in ipairs(threads) do
    non = non + (t:get("non2xx") or 0)
    samples = samples .. (t:get("bad") or "")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d,"non2xx":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout, non,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
  for line in samples:gmatch("[^\n]+") do
    io.write("BENCH_BAD " .. line .. "\n")
  end
end
