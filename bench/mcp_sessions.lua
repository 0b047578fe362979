-- wrk script: session churn. Each wrk thread drives one connection through whole sessions:
-- initialize → notifications/initialized → tools/call "echo" (checked) → DELETE, then the next.
-- Run with -tN -cN (one connection per thread, so the thread's state is that connection's).
-- wrk's own time limit bounds the run; a session counts once its DELETE is answered.
-- Environment: MCP_PATH (default /mcp), MCP_TOKEN (bearer token, optional), MCP_SESSIONS (stop
-- issuing new sessions after this many per thread; 0 = no limit).

local threads = {}
local next_thread = 0

function setup(thread)
    next_thread = next_thread + 1
    thread:set("tid", next_thread)
    table.insert(threads, thread)
end

function init(args)
    step, session, sessions, wrong, failed = 1, nil, 0, 0, 0
    limit = tonumber(os.getenv("MCP_SESSIONS") or "0")
    path = os.getenv("MCP_PATH") or "/mcp"
    base = { ["Content-Type"] = "application/json", ["Accept"] = "application/json, text/event-stream" }
    local token = os.getenv("MCP_TOKEN")
    if token and token ~= "" then base["Authorization"] = "Bearer " .. token end
end

local function with_session()
    local headers = {}
    for k, v in pairs(base) do headers[k] = v end
    headers["Mcp-Session-Id"] = session
    return headers
end

function request()
    if step == 1 then
        return wrk.format("POST", path, base,
            '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}')
    elseif step == 2 then
        return wrk.format("POST", path, with_session(), '{"jsonrpc":"2.0","method":"notifications/initialized"}')
    elseif step == 3 then
        return wrk.format("POST", path, with_session(), string.format(
            '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"t%ds%d"}}}', tid, sessions))
    else
        return wrk.format("DELETE", path, with_session())
    end
end

function response(status, headers, body)
    if step == 1 then
        session = headers["Mcp-Session-Id"] or headers["mcp-session-id"]
        if status ~= 200 or session == nil then failed = failed + 1; return end
        step = 2
    elseif step == 2 then
        if status ~= 202 then failed = failed + 1; step = 1; return end
        step = 3
    elseif step == 3 then
        if status ~= 200 or not body:find(string.format('"t%ds%d"', tid, sessions), 1, true) then wrong = wrong + 1 end
        step = 4
    else
        if status ~= 200 and status ~= 204 then failed = failed + 1 end
        sessions = sessions + 1
        step = 1
        if limit > 0 and sessions >= limit then wrk.thread:stop() end
    end
end

function done(summary, latency, requests)
    local total, bad, failures = 0, 0, 0
    for _, thread in ipairs(threads) do
        total = total + thread:get("sessions")
        bad = bad + thread:get("wrong")
        failures = failures + thread:get("failed")
    end
    io.write(string.format('RESULT {"sessions":%d,"seconds":%.3f,"wrong":%d,"failed":%d,"socket_errors":%d}\n',
        total, summary.duration / 1e6, bad, failures,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
