-- GET /oauth/verify with a valid bearer token: the subrequest nginx's
-- auth_request sends for every API call. BENCH_TOKEN holds an access token
-- (bench/run mints one with client_credentials).
wrk.method = "GET"
wrk.path = "/oauth/verify"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
