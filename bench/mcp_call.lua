-- wrk script: tools/call "echo" on one initialized session, unique ids per request, and a check
-- of every reply: HTTP 200, a result (no error), and the echoed text matching the reply's id,
-- so a reply delivered to the wrong request counts as wrong.
-- Environment: MCP_SESSION (Mcp-Session-Id, optional), MCP_PATH (default /mcp),
-- MCP_CHECK=strict|status (status: for the fixed-body nginx floor), MCP_TOKEN (a bearer token,
-- for the nginx front).

local threads = {}
local next_thread = 0

function setup(thread)
    next_thread = next_thread + 1
    thread:set("tid", next_thread)
    table.insert(threads, thread)
end

function init(args)
    counter = 0
    ok, wrong, failed = 0, 0, 0
    check = os.getenv("MCP_CHECK") or "strict"
    wrk.method = "POST"
    wrk.path = os.getenv("MCP_PATH") or "/mcp"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Accept"] = "application/json, text/event-stream"
    local session = os.getenv("MCP_SESSION")
    if session and session ~= "" then wrk.headers["Mcp-Session-Id"] = session end
    local token = os.getenv("MCP_TOKEN")
    if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
end

function request()
    counter = counter + 1
    local id = tid * 100000000 + counter
    local body = string.format(
        '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"v%d"}}}', id, id)
    return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
    if status ~= 200 then
        failed = failed + 1
        return
    end
    if check == "strict" then
        local reply_id = body:match('"id":(%d+)')
        local echoed = body:match('"text":"v(%d+)"')
        if reply_id == nil or reply_id ~= echoed or body:find('"error"', 1, true) then
            wrong = wrong + 1
            return
        end
    end
    ok = ok + 1
end

function done(summary, latency, requests)
    local good, bad, failures = 0, 0, 0
    for _, thread in ipairs(threads) do
        good = good + thread:get("ok")
        bad = bad + thread:get("wrong")
        failures = failures + thread:get("failed")
    end
    local errors = summary.errors
    io.write(string.format(
        'RESULT {"requests":%d,"seconds":%.3f,"ok":%d,"wrong":%d,"failed":%d,"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
        summary.requests, summary.duration / 1e6, good, bad, failures,
        errors.connect + errors.read + errors.write + errors.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
