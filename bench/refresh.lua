-- refresh_token grant: every request spends a fresh refresh token from the
-- pool bench/run minted (BENCH_POOL, one token a line), client in Basic.
local pool = {}
local next_i = 1

function init(args)
	for line in io.lines(os.getenv("BENCH_POOL")) do
		pool[#pool + 1] = line
	end
end

function request()
	local tok = pool[next_i]
	if tok == nil then
		next_i = 1	-- pool spent: reused tokens answer 400 (counted)
		tok = pool[1]
	end
	next_i = next_i + 1
	return wrk.format("POST", "/oauth/token", {
		["Content-Type"] = "application/x-www-form-urlencoded",
		["Authorization"] = os.getenv("BENCH_AUTH"),
	}, "grant_type=refresh_token&refresh_token=" .. tok)
end
