-- POST /oauth/introspect (RFC 7662) about a valid access token, the asking
-- client authenticated with HTTP Basic. BENCH_TOKEN holds the token and
-- BENCH_AUTH the "Basic …" header value (bench/run sets both).
wrk.method = "POST"
wrk.path = "/oauth/introspect"
wrk.body = "token=" .. os.getenv("BENCH_TOKEN") .. "&token_type_hint=access_token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
