-- bench/soak's wrapper around one scenario script: loads bench/$SOAK_SCENARIO.lua
-- unchanged, then counts responses by status and rewrites $SOAK_COUNTS (at
-- most every 100 ms, by rename so a reader never sees half a file) with one
-- line "TOTAL NON2XX STATUS=N ...": bench/soak samples it every few seconds
-- for the throughput table. At the end, done() writes the final counts and
-- prints them ("statuses: 200=N ...") after wrk's summary. Run with -t1.
--
-- refresh chains: each 200 carries a new refresh token, which the next
-- request spends; the pool (BENCH_POOL) only starts the chains (one per
-- connection) and restarts one after a failed response, so a small pool
-- lasts any duration.
local sc = os.getenv("SOAK_SCENARIO")
local out = os.getenv("SOAK_COUNTS")
dofile((os.getenv("SOAK_BENCH_DIR") or "bench") .. "/" .. sc .. ".lua")

local now = os.time
local ok, ffi = pcall(require, "ffi")
if ok then
	ffi.cdef [[
		struct soak_timespec { long tv_sec; long tv_nsec; };
		int clock_gettime(int, struct soak_timespec *);
	]]
	local ts = ffi.new("struct soak_timespec")
	now = function()
		ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
		return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
	end
end

counts = {}	-- status -> responses (global: done() reads it with thread:get)
local last = 0

local function line(c)
	local t, b, keys = 0, 0, {}
	for s, n in pairs(c) do
		t = t + n
		if s < 200 or s > 299 then b = b + n end
		keys[#keys + 1] = s
	end
	table.sort(keys)
	local parts = {}
	for _, s in ipairs(keys) do parts[#parts + 1] = s .. "=" .. c[s] end
	return t .. " " .. b .. " " .. table.concat(parts, " ")
end

local function write(c)
	local f = io.open(out .. ".tmp", "w")
	f:write(line(c), "\n")
	f:close()
	os.rename(out .. ".tmp", out)
end

local chain = nil
if sc == "refresh" then
	local fresh = {}
	local from_pool = request
	request = function()
		local tok = table.remove(fresh)
		if tok == nil then
			return from_pool()
		end
		return wrk.format("POST", "/oauth/token", {
			["Content-Type"] = "application/x-www-form-urlencoded",
			["Authorization"] = os.getenv("BENCH_AUTH"),
		}, "grant_type=refresh_token&refresh_token=" .. tok)
	end
	chain = function(status, body)
		if status == 200 then
			local tok = body:match('"refresh_token"%s*:%s*"([^"]+)"')
			if tok then fresh[#fresh + 1] = tok end
		end
	end
end

local scenario_response = response
function response(status, headers, body)
	counts[status] = (counts[status] or 0) + 1
	if chain then chain(status, body) end
	if scenario_response then scenario_response(status, headers, body) end
	local t = now()
	if t - last >= 0.1 then
		last = t
		write(counts)
	end
end

local threads = {}
function setup(thread)
	threads[#threads + 1] = thread
end

function done(summary, latency, requests)
	local c = {}
	for _, t in ipairs(threads) do
		for s, n in pairs(t:get("counts") or {}) do
			c[s] = (c[s] or 0) + n
		end
	end
	write(c)
	io.write("statuses: ", line(c):match("^%d+ %d+ ?(.*)$"), "\n")
end
