-- upbot.lua: the OpenResty peer of ngx_http_upbot_module, for `make bench`.
--
-- The same two APIs (GetMediaInfo, ReportMediaEvent) written the way a
-- competent OpenResty user would write them: the configuration is
-- normalised once in init_by_lua, request bodies go through cjson.safe,
-- group facts are cached in a lua_shared_dict (with a per-worker lrucache
-- in front of it), NetEase Yunxin is asked through a subrequest to an
-- internal proxy location, and an event batch is appended to the event log
-- with one write.  It is meant to be idiomatic and reasonably efficient,
-- neither tuned against the module nor slowed down on purpose.
--
-- Its answers are byte for byte the module's for the requests of the
-- benchmark and for the main error cases; check.sh beside this file
-- compares the two.  Only what the benchmark configures is implemented:
-- static groups and Yunxin teams (no Tencent Cloud IM), "first" picking.
--
-- nginx.conf:
--
--   lua_shared_dict upbot_facts 10m;
--   init_by_lua_block { require("upbot").init({ ... }) }
--   init_worker_by_lua_block { require("upbot").init_worker() }
--   location = /upbot/api/GetMediaInfo {
--       set $upbot_yx_appkey ''; ...      # the subrequest's header values
--       content_by_lua_block { require("upbot").get_media_info() }
--   }
--   location = /upbot/api/ReportMediaEvent {
--       content_by_lua_block { require("upbot").report_media_event() }
--   }

local cjson_safe = require "cjson.safe"
local lrucache = require "resty.lrucache"

local ngx = ngx
local ngx_var = ngx.var
local ngx_req = ngx.req
local ngx_header = ngx.header
local ngx_print = ngx.print
local ngx_log = ngx.log
local ngx_now = ngx.now
local ngx_time = ngx.time
local ngx_sleep = ngx.sleep
local ngx_sha1_bin = ngx.sha1_bin
local re_find = ngx.re.find
local re_match = ngx.re.match
local capture_multi = ngx.location.capture_multi
local INFO, ERR = ngx.INFO, ngx.ERR

local type, next, pairs, ipairs = type, next, pairs, ipairs
local tostring, error = tostring, error
local byte, char, find, format, gsub, match =
    string.byte, string.char, string.find, string.format, string.gsub,
    string.match
local concat = table.concat
local floor, random = math.floor, math.random
local io_open = io.open


local _M = { _VERSION = "0.1" }


-- request bodies: a decoder of our own, strict about what JSON is

local json = cjson_safe.new()
json.decode_max_depth(16)              -- the top-level object is level 1
json.decode_invalid_numbers(false)     -- no NaN, Infinity, hex


local INT32_MAX = 2147483647
local INT53_MAX = 9007199254740991

-- defaults, as the module's directives
local limits = {
    max_items = 100,
    max_string_length = 256,
    max_code_length = 64,
}

local cache_conf = {
    ttl = 60,            -- facts are fresh this long
    stale = 600,         -- then usable this much longer when a fetch fails
    lock_timeout = 5,    -- one fetch per group at a time, across workers
    retry = 1,           -- a failed group is not asked again this soon
}

local MAX_ANSWER = 1048576             -- a provider answer, bytes

local tokens = {}                      -- token -> true
local codes = {}                       -- code -> pool
local event_log                        -- the event log's file handle
local event_log_path

local facts_dict                       -- ngx.shared.upbot_facts
local facts_l1 = lrucache.new(4096)    -- fresh facts, decoded, per worker


-- the error table of README.md

local ANSWERS = {
    [0]    = { 200, "" },
    [1001] = { 400, "请求参数错误，请稍后再试" },
    [1002] = { 401, "鉴权失败" },
    [1003] = { 404, "活码不存在" },
    [1004] = { 409, "群已满" },
    [1005] = { 502, "服务繁忙，请稍后再试" },
    [1006] = { 503, "服务繁忙，请稍后再试" },
    [1007] = { 405, "请求方法或类型错误" },
    [1008] = { 429, "请求过于频繁，请稍后再试" },
}

-- answers without "data" never change
for ret, a in pairs(ANSWERS) do
    a[3] = format('{"ret":%d,"msg":"%s"}', ret, a[2])
end


-- JSON strings as yajl_gen writes them: '/' and bytes >= 0x7f as they
-- are, control characters as \uXXXX (upper-case hex) unless they have a
-- short escape

local ESCAPES = {
    ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
    ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

for b = 0, 31 do
    local c = char(b)
    if not ESCAPES[c] then
        ESCAPES[c] = format("\\u%04X", b)
    end
end

local function json_string(s)
    if re_find(s, [=[[\x00-\x1f"\\]]=], "jo") then
        s = gsub(s, '[%z\1-\31"\\]', ESCAPES)
    end

    return '"' .. s .. '"'
end


-- client-supplied text in a log line: no control characters, no quotes

local function printable(s)
    if type(s) ~= "string" then
        return ""
    end

    return (gsub(s, '[%z\1-\31\127"]', "?"))
end


local function hex_byte(c)
    return format("%02x", byte(c))
end

local function hex(s)
    return (gsub(s, ".", hex_byte))
end


-- answers

local function send(ret, status, body)
    local a = ANSWERS[ret]

    status = status or a[1]

    ngx.status = status
    ngx_header["Content-Type"] = "application/json"

    if status == 405 then
        ngx_header["Allow"] = "POST"

    elseif status == 401 then
        ngx_header["WWW-Authenticate"] = "Bearer"
    end

    body = body or a[3]
    ngx_header["Content-Length"] = #body

    ngx_print(body)
end


-- the client gets the table's short msg, the error log the reason

local function fail(api, ret, reason, trace_id, status)
    ngx_log(INFO, "upbot ", api, ": ", printable(reason), " (ret ", ret,
            "), trace_id: \"", printable(trace_id), "\"")

    return send(ret, status)
end


local function media_info_body(url, name, background)
    return concat({
        '{"ret":0,"msg":"","data":{"url":', json_string(url),
        ',"name":', json_string(name),
        ',"background":', json_string(background), '}}'
    })
end


-- method, content type and token come before the body

local function is_json(content_type)
    return content_type ~= nil
           and re_find(content_type,
                       [[^[ \t]*application/json[ \t]*(?:;|$)]], "ijo")
               ~= nil
end


local function check_token(h)
    if h == nil then
        return "no Authorization header"
    end

    if tokens[h] then                  -- the usual case: the bare token
        return nil
    end

    local m = re_match(h, [[^[ \t]*(?:bearer[ \t]+)?(.*?)[ \t]*$]], "ijo")
    local token = m and m[1] or ""

    if token == "" then
        return "empty Authorization header"
    end

    if not tokens[token] then
        return "unknown token"
    end

    return nil
end


local function read_body()
    ngx_req.read_body()

    local body = ngx_req.get_body_data()
    if body then
        return body
    end

    local path = ngx_req.get_body_file()
    if path == nil then
        return ""                      -- no body at all
    end

    local f, err = io_open(path, "rb")
    if not f then
        return nil, err
    end

    body = f:read("*a")
    f:close()

    return body
end


-- the front half both APIs share: the request body, or nil once answered

local function front(api)
    local reason, ret, status

    if ngx_req.get_method() ~= "POST" then
        ret, status, reason = 1007, 405, "method not allowed"

    elseif not is_json(ngx_var.http_content_type) then
        ret, status, reason = 1007, 415,
                              "Content-Type is not application/json"

    else
        reason = check_token(ngx_var.http_authorization)
        ret = 1002
    end

    if reason then
        ngx_req.discard_body()
        return fail(api, ret, reason, nil, status)
    end

    local body, err = read_body()
    if body == nil then
        ngx_log(ERR, "upbot ", api, ": cannot read the request body: ", err)
        return ngx.exit(500)
    end

    return body
end


-- validation: each check returns nil, or why the value is refused,
-- named by its key; callers add the path of the enclosing object

local function is_object(v)
    return type(v) == "table" and v[1] == nil
end


local function check_integer(v, key, min, max, required)
    if v == nil then
        return required and key .. ": missing" or nil
    end

    if type(v) ~= "number" or v % 1 ~= 0 then
        return key .. ": must be an integer"
    end

    if v < min or v > max then
        return format("%s: %.17g is out of range %d..%d", key, v, min, max)
    end
end


local function check_string(v, key, required, not_empty)
    if v == nil then
        return required and key .. ": missing" or nil
    end

    if type(v) ~= "string" then
        return key .. ": must be a string"
    end

    if #v > limits.max_string_length then
        return format("%s: longer than %d bytes", key,
                      limits.max_string_length)
    end

    if not_empty and v == "" then
        return key .. ": must not be empty"
    end
end


-- a code: ASCII white space around it is not part of it; returns the
-- trimmed code or nil, and the reason when it is refused

local function check_code(v, key, required)
    local err = check_string(v, key, required, false)
    if err or v == nil then
        return nil, err
    end

    local code = match(v, "^%s*(.-)%s*$")

    if #code > limits.max_code_length then
        return nil, format("%s: longer than %d bytes", key,
                           limits.max_code_length)
    end

    if code == "" then
        return nil, key .. ": must not be empty"
    end

    return code
end


local function check_account(a)
    if not is_object(a) then
        return ": must be an object"
    end

    local err = check_integer(a.account_type, "account_type", 1, 3, true)
                or check_string(a.appid, "appid", true, true)
                or check_string(a.openid, "openid", true, true)

    return err and "." .. err
end


local function check_media_info(req)
    if not is_object(req) then
        return "the body must be a JSON object"
    end

    local a = req.account_info
    if a == nil then
        return "account_info: missing"
    end

    local err = check_account(a)
    if err then
        return "account_info" .. err
    end

    err = check_integer(req.media_type, "media_type", 1, INT32_MAX, true)
    if err then
        return err
    end

    req.code, err = check_code(req.code, "code", true)
    if err then
        return err
    end

    return check_string(req.trace_id, "trace_id", true, true)
end


local function check_item(it)
    if not is_object(it) then
        return ": must hold objects only"
    end

    local err
    local id = it.event_id

    if type(id) == "number" then
        err = check_integer(id, "event_id", 0, INT53_MAX)
        if not err then
            it.event_id = format("%d", id)    -- kept as text
        end

    elseif id ~= nil and type(id) ~= "string" then
        err = "event_id: must be a string or an integer"

    else
        err = check_string(id, "event_id", false, true)
    end

    err = err
          or check_integer(it.event_time, "event_time", 0, INT53_MAX)
          or check_integer(it.media_type, "media_type", 1, INT32_MAX)
          or check_string(it.trace_id, "trace_id")
          or check_integer(it.duration, "duration", 0, INT32_MAX)

    if err then
        return "." .. err
    end

    it.code, err = check_code(it.code, "code")

    return err and "." .. err
end


-- returns the items (trimmed codes, event ids as text), or nil and why

local function check_media_event(req)
    if not is_object(req) then
        return nil, "the body must be a JSON object"
    end

    local head = req.head
    if head == nil then
        return nil, "head: missing"
    end

    if not is_object(head) then
        return nil, "head: must be an object"
    end

    if head.account_info == nil then
        return nil, "head.account_info: missing"
    end

    local err = check_account(head.account_info)
    if err then
        return nil, "head.account_info" .. err
    end

    local dev = head.device_info
    if dev ~= nil then
        if not is_object(dev) then
            return nil, "head.device_info: must be an object"
        end

        err = check_integer(dev.device_type, "device_type", 1, 2)
              or check_string(dev.uuid, "uuid")
        if err then
            return nil, "head.device_info." .. err
        end
    end

    -- seed 001's table says "item", its example "items": either, not both
    local items, name = req.items, "items"

    if req.item ~= nil then
        if items ~= nil then
            return nil, "item: given twice"
        end

        items, name = req.item, "item"
    end

    if items == nil then
        return nil, "items: missing"
    end

    if type(items) ~= "table" or (items[1] == nil and next(items) ~= nil)
    then
        return nil, name .. ": must be a list of objects"
    end

    local n = #items

    if n == 0 then
        return nil, name .. ": must not be empty"
    end

    if n > limits.max_items then
        return nil, format("%s: more than %d items", name, limits.max_items)
    end

    for i = 1, n do
        err = check_item(items[i])
        if err then
            return nil, format("%s[%d]%s", name, i - 1, err)
        end
    end

    return items
end


-- group facts: what a pick needs to know of a group
--
--   { members = N, max_members = N, name = S, icon = S, url = S,
--     gone = true|nil, fetched = T }
--
-- Static groups carry theirs; live ones are cached in the shared dict,
-- fresh for ttl, kept ttl + stale, decoded once per worker into the l1.

local function usable(g, f)
    if g.down or f == nil or f.gone then
        return false
    end

    local cap = g.threshold or f.max_members

    return cap == 0 or f.members < cap
end


local function cached_facts(g, now)
    local f = facts_l1:get(g.key)
    if f then
        return f, true
    end

    local v = facts_dict:get(g.key)
    if v == nil then
        return nil
    end

    f = json.decode(v)
    if f == nil then
        return nil
    end

    local left = f.fetched + cache_conf.ttl - now
    if left > 0 then
        facts_l1:set(g.key, f, left)
        return f, true
    end

    return f, false
end


local function store_facts(g, f)
    f.fetched = ngx_now()

    local ok, err = facts_dict:set(g.key, json.encode(f),
                                   cache_conf.ttl + cache_conf.stale)
    if not ok then
        ngx_log(ERR, "upbot: cannot cache the facts of ", g.key, ": ", err)
    end

    facts_l1:set(g.key, f, cache_conf.ttl)
end


-- NetEase Yunxin: GET {location}{team_id}?team_type=N, the headers made
-- fresh for each call and handed to the location in variables

local function yunxin_call(g, trace_id)
    local app = g.app
    local nonce = format("%08x%08x%08x%08x", random(0, 0xffffffff),
                         random(0, 0xffffffff), random(0, 0xffffffff),
                         random(0, 0xffffffff))
    local curtime = tostring(ngx_time())

    return {
        g.uri,
        {
            args = g.args,
            vars = {
                upbot_yx_appkey = app.appkey,
                upbot_yx_nonce = nonce,
                upbot_yx_curtime = curtime,
                upbot_yx_checksum = hex(ngx_sha1_bin(app.secret .. nonce
                                                     .. curtime)),
                upbot_yx_trace = trace_id,
            },
        },
    }
end


local function is_count(v)
    return type(v) == "number" and v % 1 == 0 and v >= 0 and v <= INT32_MAX
end


-- the answer of one call: facts, or nil, the status for the client
-- (502, 504) and what went wrong

local NOT_UNDERSTOOD = "the answer is not understood: "

local function yunxin_facts(res)
    if res.status ~= 200 then
        return nil, res.status == 504 and 504 or 502,
               "the call failed: HTTP " .. res.status
    end

    if res.truncated then
        return nil, 502, "the call failed: the answer is cut short"
    end

    if #res.body > MAX_ANSWER then
        return nil, 502, "the call failed: the answer is larger than 1 MB"
    end

    local doc = json.decode(res.body)
    if not is_object(doc) then
        return nil, 502, NOT_UNDERSTOOD .. "not a JSON object"
    end

    local code = doc.code
    if not is_count(code) then
        return nil, 502, NOT_UNDERSTOOD .. 'no "code"'
    end

    if code ~= 200 then
        -- the team is gone, or not an advanced team: skip it
        if code == 108404 or code == 108302 then
            return { gone = true, members = 0, max_members = 0 }
        end

        return nil, 502, format('the provider refused the call: provider '
                                .. 'error %d "%s"', code,
                                printable(type(doc.msg) == "string"
                                          and doc.msg or ""))
    end

    local data = doc.data
    if not is_object(data) then
        return nil, 502, NOT_UNDERSTOOD .. 'no "data"'
    end

    -- the seed's table nests the team under team_info, its example not
    local team = is_object(data.team_info) and data.team_info or data

    local limit, count = team.members_limit, team.member_count

    if (limit ~= nil and limit ~= cjson_safe.null and not is_count(limit))
       or (count ~= nil and count ~= cjson_safe.null and not is_count(count))
    then
        return nil, 502, NOT_UNDERSTOOD .. "a member count is not a count"
    end

    local name = team.name

    if type(name) ~= "string" and not is_count(limit) then
        return nil, 502, NOT_UNDERSTOOD .. 'no team in "data"'
    end

    -- the join link may be a field of server_extension, itself JSON
    local url = ""
    local ext = team.server_extension

    if type(ext) == "string" and ext ~= "" then
        ext = json.decode(ext)

        if is_object(ext) and type(ext.url) == "string" then
            url = ext.url
        end
    end

    return {
        name = type(name) == "string" and name or "",
        icon = type(team.icon) == "string" and team.icon or "",
        url = url,
        members = is_count(count) and count or 0,
        max_members = is_count(limit) and limit or 0,
    }
end


-- the groups of "fetch" in parallel; results in state.got / state.failed

local function fetch_groups(pool, fetch, state, trace_id)
    local calls = {}

    for k, i in ipairs(fetch) do
        calls[k] = yunxin_call(pool.groups[i], trace_id)
    end

    local res = { capture_multi(calls) }

    for k, i in ipairs(fetch) do
        local g = pool.groups[i]
        local f, status, what = yunxin_facts(res[k])

        if f then
            store_facts(g, f)
            state.got[i] = f

        else
            ngx_log(ERR, "upbot: ", g.app.name, ": ", what,
                    " (groups: 1), trace id \"", trace_id, "\"")

            facts_dict:set(g.fail_key, status, cache_conf.retry)
            state.failed[i] = status
        end

        facts_dict:delete(g.lock_key)
    end
end


-- What is known of the pool: its facts, the groups this request is to
-- fetch (when it may claim them), whether it must wait for another's
-- fetch, and the status of a failure.  As in "first" mode the walk stops
-- at the first usable group with fresh facts.

local function look(pool, state, claim)
    local groups = pool.groups
    local facts = {}
    local now = ngx_now()
    local fetch, blocked, failed

    for i = 1, #groups do
        local g = groups[i]
        local f, fresh

        if g.facts then
            f, fresh = g.facts, true

        elseif state.got[i] then
            f, fresh = state.got[i], true

        else
            f, fresh = cached_facts(g, now)

            if not fresh then
                local status = state.failed[i] or facts_dict:get(g.fail_key)

                if status then
                    if f == nil and failed ~= 504 then
                        failed = status
                    end

                elseif claim and facts_dict:add(g.lock_key, true,
                                                cache_conf.lock_timeout)
                then
                    fetch = fetch or {}
                    fetch[#fetch + 1] = i

                elseif f == nil then
                    blocked = true       -- someone else fetches it
                end
            end
        end

        facts[i] = f

        if fresh and usable(g, f) then
            break
        end
    end

    return facts, fetch, blocked, failed
end


local function live_facts(pool, trace_id)
    local state = { got = {}, failed = {} }
    local claim = true

    while true do
        local facts, fetch, blocked, failed = look(pool, state, claim)

        if fetch then
            fetch_groups(pool, fetch, state, trace_id)
            claim = false

        elseif blocked then
            ngx_sleep(0.01)
            claim = true

        else
            return facts, failed
        end
    end
end


function _M.get_media_info()
    local api = "GetMediaInfo"

    local body = front(api)
    if body == nil then
        return
    end

    local req = json.decode(body)

    local err = check_media_info(req)
    if err then
        return fail(api, 1001, err, is_object(req) and req.trace_id)
    end

    local code, trace_id = req.code, req.trace_id

    local pool = codes[code]
    if pool == nil then
        return fail(api, 1003, 'unknown code "' .. code .. '"', trace_id)
    end

    if pool.media_type ~= req.media_type then
        return fail(api, 1003, format('code "%s" is of media_type %d, not %d',
                                      code, pool.media_type, req.media_type),
                    trace_id)
    end

    if pool.static then                -- its answer is known at start
        if pool.answer then
            return send(0, nil, pool.answer)
        end

        return fail(api, 1004, format('no usable group in the pool of code '
                                      .. '"%s" (%d groups: full, gone or '
                                      .. 'down)', code, #pool.groups),
                    trace_id)
    end

    -- the trace id goes to the provider in a header: printable only
    local facts, failed = live_facts(pool, printable(trace_id))
    local groups = pool.groups

    for i = 1, #groups do
        local g, f = groups[i], facts[i]

        if usable(g, f) then
            return send(0, nil, media_info_body(g.url or f.url,
                                                g.name or f.name,
                                                g.background or f.icon))
        end
    end

    if failed then
        return fail(api, 1005, format('no usable group in the pool of code '
                                      .. '"%s": the provider failed and no '
                                      .. 'facts are at hand', code),
                    trace_id, failed)
    end

    return fail(api, 1004, format('no usable group in the pool of code "%s" '
                                  .. '(%d groups: full, gone or down)',
                                  code, #groups),
                trace_id)
end


-- the event log: one JSON line per item, the batch in one write

local function event_lines(head, items)
    local a, dev = head.account_info, head.device_info
    local buf = {
        '{"received_ms":', format("%d", floor(ngx_now() * 1000 + 0.5)),
        ',"request_id":', json_string(ngx_var.request_id),
        ',"client_addr":', json_string(ngx_var.remote_addr),
        ',"account_type":', format("%d", a.account_type),
        ',"appid":', json_string(a.appid),
        ',"openid":', json_string(a.openid),
    }

    if dev then
        if dev.device_type then
            buf[#buf + 1] = ',"device_type":'
            buf[#buf + 1] = format("%d", dev.device_type)
        end

        if dev.uuid then
            buf[#buf + 1] = ',"uuid":'
            buf[#buf + 1] = json_string(dev.uuid)
        end
    end

    local prefix = concat(buf)
    local lines = {}
    local n = 0

    for i = 1, #items do
        local it = items[i]

        n = n + 1
        lines[n] = prefix

        if it.event_id then
            lines[n + 1] = ',"event_id":'
            lines[n + 2] = json_string(it.event_id)
            n = n + 2
        end

        if it.event_time then
            lines[n + 1] = ',"event_time":'
            lines[n + 2] = format("%d", it.event_time)
            n = n + 2
        end

        if it.media_type then
            lines[n + 1] = ',"media_type":'
            lines[n + 2] = format("%d", it.media_type)
            n = n + 2
        end

        if it.code then
            lines[n + 1] = ',"code":'
            lines[n + 2] = json_string(it.code)
            n = n + 2
        end

        if it.trace_id then
            lines[n + 1] = ',"trace_id":'
            lines[n + 2] = json_string(it.trace_id)
            n = n + 2
        end

        if it.duration then
            lines[n + 1] = ',"duration":'
            lines[n + 2] = format("%d", it.duration)
            n = n + 2
        end

        n = n + 1
        lines[n] = "}\n"
    end

    return concat(lines, "", 1, n)
end


local function store_events(head, items)
    if event_log == nil then
        return nil, "the event log is not open"
    end

    local ok, err = event_log:write(event_lines(head, items))
    if ok then
        ok, err = event_log:flush()
    end

    return ok, err
end


function _M.report_media_event()
    local api = "ReportMediaEvent"

    local body = front(api)
    if body == nil then
        return
    end

    local req = json.decode(body)

    local items, err = check_media_event(req)
    if items == nil then
        return fail(api, 1001, err)
    end

    -- a batch is logged by its first item's trace id
    local trace_id = items[1].trace_id

    local ok
    ok, err = store_events(req.head, items)
    if not ok then
        ngx_log(ERR, "upbot: write to \"", event_log_path, "\" failed: ", err)

        return fail(api, 1006, format("%d events not stored: the event log "
                                      .. "could not be written", #items),
                    trace_id)
    end

    return send(0)
end


-- configuration
--
-- conf = {
--   tokens = { "bench-token", ... },
--   event_log = "/path/events.jsonl",
--   cache = { ttl = 60, stale = 600, lock_timeout = 5, retry = 1 },
--   limits = { max_items = 100, max_string_length = 256,
--              max_code_length = 64 },         -- (these are the defaults)
--   shared_dict = "upbot_facts",
--   yunxin = { NAME = { appkey = "...", secret = "...",
--                       location = "/_yunxin/" } },
--   codes = {
--     CODE = {                 -- the pool, in order
--       { source = "static", id = "g1", url = "...", name = "...",
--         background = "...", members = N, max_members = N },
--       { source = "yunxin:NAME", id = "TEAM_ID/TEAM_TYPE", url = ...,
--         name = ..., background = ..., threshold = N, down = true },
--     },
--   },
-- }
--
-- A row may say media_type = N (default 2); the first row's is the code's.

local function group_of(code, row, conf)
    local g = {
        id = row.id,
        url = row.url,
        name = row.name,
        background = row.background,
        threshold = row.threshold,
        down = row.down,
    }

    if row.source == "static" then
        if not row.url then
            error("static group " .. row.id .. " of code " .. code
                  .. " has no url")
        end

        g.facts = {
            members = row.members or 0,
            max_members = row.max_members or 0,
            name = "", icon = "", url = "",
        }

        return g
    end

    local app_name = match(row.source or "", "^yunxin:(.+)$")
    local app = app_name and conf.yunxin and conf.yunxin[app_name]
    if not app then
        error("unknown group source \"" .. tostring(row.source)
              .. "\" of code " .. code)
    end

    local team, team_type = match(row.id, "^(.+)/([12])$")
    if not team then
        error("invalid team \"" .. row.id .. "\" of code " .. code
              .. ", expected TEAM_ID/1 or TEAM_ID/2")
    end

    g.app = { name = "yunxin:" .. app_name, appkey = app.appkey,
              secret = app.secret }
    g.uri = (find(app.location, "/$") and app.location
             or app.location .. "/") .. team
    g.args = "team_type=" .. team_type
    g.key = "yunxin:" .. app_name .. ":" .. row.id
    g.lock_key = g.key .. ":lock"
    g.fail_key = g.key .. ":fail"

    return g
end


function _M.init(conf)
    for _, t in ipairs(conf.tokens) do
        tokens[t] = true
    end

    for k, v in pairs(conf.cache or {}) do
        cache_conf[k] = v
    end

    for k, v in pairs(conf.limits or {}) do
        limits[k] = v
    end

    for code, rows in pairs(conf.codes) do
        local pool = { groups = {}, media_type = rows[1].media_type or 2 }
        local live = false

        for i, row in ipairs(rows) do
            local g = group_of(code, row, conf)
            pool.groups[i] = g
            live = live or g.facts == nil
        end

        -- a pool of static groups always answers the same (nil: 1004)
        if not live then
            pool.static = true

            for _, g in ipairs(pool.groups) do
                if usable(g, g.facts) then
                    pool.answer = media_info_body(g.url, g.name or "",
                                                  g.background or "")
                    break
                end
            end
        end

        codes[code] = pool
    end

    facts_dict = ngx.shared[conf.shared_dict or "upbot_facts"]
    if facts_dict == nil then
        error("lua_shared_dict " .. (conf.shared_dict or "upbot_facts")
              .. " is not declared")
    end

    -- opened here, in the master, as nginx opens its own logs: workers
    -- that run as an unprivileged user inherit an append-only handle
    event_log_path = conf.event_log

    local f, err = io_open(event_log_path, "a")
    if not f then
        error("cannot open the event log: " .. err)
    end

    f:setvbuf("no")          -- each batch goes out in a single write()
    event_log = f
end


function _M.init_worker()
    math.randomseed(floor(ngx_now() * 1000) + ngx.worker.pid())
end


return _M
