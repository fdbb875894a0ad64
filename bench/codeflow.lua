-- The whole code flow for a signed-in, consented user: GET /oauth/authorize
-- with the session cookie answers 302 with a code; the next request
-- exchanges a code at the token endpoint. Half the requests are each.
local codes = {}
local q = "/oauth/authorize?response_type=code&client_id=" ..
	os.getenv("BENCH_CLIENT") .. "&redirect_uri=" ..
	os.getenv("BENCH_REDIRECT_ENC") .. "&state=bench"

function request()
	local code = table.remove(codes)
	if code ~= nil then
		return wrk.format("POST", "/oauth/token", {
			["Content-Type"] = "application/x-www-form-urlencoded",
			["Authorization"] = os.getenv("BENCH_AUTH"),
		}, "grant_type=authorization_code&redirect_uri=" ..
			os.getenv("BENCH_REDIRECT_ENC") .. "&code=" .. code)
	end
	return wrk.format("GET", q, { ["Cookie"] = os.getenv("BENCH_COOKIE") })
end

function response(status, headers, body)
	if status == 302 then
		local loc = headers["Location"]
		local code = loc and loc:match("[?&]code=([^&]+)")
		if code then
			codes[#codes + 1] = code
		end
	end
end
