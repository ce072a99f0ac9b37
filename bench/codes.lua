-- wrk script for make bench's cold start: as post.lua, but each request
-- asks for the next of BENCH_CODES codes "w1", "w2", ... in turn, in place
-- of the body's "bench-yx".

dofile(os.getenv("BENCH_DIR") .. "/post.lua")

local n = tonumber(os.getenv("BENCH_CODES"))
local i = 0
local bodies = {}

for k = 1, n do
    bodies[k] = wrk.body:gsub('"bench%-yx"', '"w' .. k .. '"')
end

request = function()
    i = i % n + 1
    return wrk.format(nil, nil, nil, bodies[i])
end
