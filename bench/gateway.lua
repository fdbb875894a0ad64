-- GET /api/x through the gateway: bearer check, then proxied to the upstream
-- (an nginx answering 200 with a tiny body, started by bench/run).
-- BENCH_TOKEN holds an access token (bench/run mints one).
wrk.method = "GET"
wrk.path = "/api/x"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
