-- wrk script for make bench: POSTs the file named by BENCH_BODY as JSON
-- with the token in BENCH_TOKEN, and ends with one machine-readable line.

local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))

wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("BENCH_TOKEN")

f:close()

function done(summary, latency, requests)
    local e = summary.errors

    io.write(string.format(
        "BENCH requests=%d duration_us=%d non2xx=%d errors=%d "
        .. "p50_us=%d p99_us=%d\n",
        summary.requests, summary.duration, e.status,
        e.connect + e.read + e.write + e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
