-- client_credentials token issuance: one POST per request, Basic auth.
-- BENCH_AUTH holds the "Basic …" header value (bench/run sets it).
wrk.method = "POST"
wrk.path = "/oauth/token"
wrk.body = "grant_type=client_credentials&scope=todo.read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
