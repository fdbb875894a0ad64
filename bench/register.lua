-- Dynamic client registration (RFC 7591): one public client per request,
-- as an MCP client registers itself. bench/run sets registration = open and
-- lifts the per-address rate limit and the client cap for the run.
wrk.method = "POST"
wrk.path = "/oauth/register"
wrk.body = '{"client_name":"bench MCP client",' ..
	'"redirect_uris":["http://127.0.0.1:33418/callback"],' ..
	'"token_endpoint_auth_method":"none",' ..
	'"grant_types":["authorization_code","refresh_token"],' ..
	'"response_types":["code"]}'
wrk.headers["Content-Type"] = "application/json"
