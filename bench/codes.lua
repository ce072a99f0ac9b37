-- wrk script for make bench's cold start and its million codes: as
-- post.lua, but each request asks for the next of BENCH_CODES codes in
-- turn, in place of the body's "bench-yx": BENCH_CODE_PREFIX (w) and a
-- number, BENCH_CODE_STEP (1) times 1, 2, ...  BENCH_CLOSE: each request
-- on a connection of its own.

dofile(os.getenv("BENCH_DIR") .. "/post.lua")

local n = tonumber(os.getenv("BENCH_CODES"))
local prefix = os.getenv("BENCH_CODE_PREFIX") or "w"
local step = tonumber(os.getenv("BENCH_CODE_STEP") or "1")
local i = 0
local bodies = {}

for k = 1, n do
    bodies[k] = wrk.body:gsub('"bench%-yx"', '"' .. prefix .. k * step .. '"')
end

if (os.getenv("BENCH_CLOSE") or "") ~= "" then
    wrk.headers["Connection"] = "close"
end

request = function()
    i = i % n + 1
    return wrk.format(nil, nil, nil, bodies[i])
end
