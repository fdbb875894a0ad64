# Shared setup for bench/run and bench/soak: sourced (". bench/lib.sh") from
# the repository root after the caller has set $prog, the prefix of every
# message ("bench", "soak"). Each step is a function so a script runs only
# what its scenarios need:
#
#   bench_require TOOL...       exit 1 if a tool is missing
#   bench_build                 release build in build-bench, sets $BIN
#   bench_init                  temp dir $dir (removed on exit, with the
#                               server, nginx and any pid in $bench_pids
#                               killed), config, client "bench" and user
#                               "bench"; sets $conf $id $REDIRECT, exports
#                               BENCH_AUTH BENCH_CLIENT BENCH_REDIRECT_ENC
#                               BENCH_POOL ($dir/pool)
#   bench_seed_live N           N live access tokens in the database
#   bench_seed_pool N FILE      N refresh tokens, raw values in FILE
#   bench_start_nginx           the gateway upstream; exports
#                               PLUGAUTH_GATEWAY_UPSTREAM, sets $nginx_pid
#   bench_start_server          plugauth serve; sets $pid and $url
#   bench_signin                exports BENCH_COOKIE (signed-in session)
#   bench_mint_token            exports BENCH_TOKEN (client_credentials)
#   rss_of PID                  "NNN kB" from /proc/PID/status
#   median, to_ms               filters over wrk numbers
#
# env: BENCH_TMP (parent of the temp dir, /tmp), NGINX (/usr/sbin/nginx),
#      BENCH_THREADS (PLUGAUTH_SERVER_THREADS, 0 = the server's default)

bench_require() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null ||
			{ echo "$prog: $tool missing (make deps)" >&2; exit 1; }
	done
}

bench_build() {
	echo "$prog: building build-bench (release)"
	[ -f build-bench/build.ninja ] ||
		meson setup build-bench --buildtype=release -Dtests=disabled >/dev/null
	ninja -C build-bench plugauth >/dev/null
	BIN=$(pwd)/build-bench/plugauth
}

pid=""
nginx_pid=""
bench_pids=""
bench_cleanup() {
	for p in $bench_pids; do
		kill "$p" 2>/dev/null || :
	done
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null &&
		wait "$nginx_pid" 2>/dev/null
	rm -rf "$dir"
}

bench_init() {
	dir=$(mktemp -d "${BENCH_TMP:-/tmp}/plugauth-bench-XXXXXX")
	trap bench_cleanup EXIT INT TERM
	conf=$dir/plugauth.conf
	"$BIN" -c "$conf" init --issuer http://127.0.0.1:8080 \
		--db "sqlite:$dir/bench.db" --listen 127.0.0.1:0 >/dev/null
	REDIRECT=http://127.0.0.1/cb
	creds=$("$BIN" -c "$conf" client add --name bench --redirect-uri "$REDIRECT" \
		--grant authorization_code --grant refresh_token \
		--grant client_credentials --json)
	id=$(printf '%s' "$creds" | sed -n 's/.*"client_id": "\([^"]*\)".*/\1/p')
	secret=$(printf '%s' "$creds" | sed -n 's/.*"client_secret": "\([^"]*\)".*/\1/p')
	printf 'bench-password\n' | "$BIN" -c "$conf" user add bench --password-stdin >/dev/null
	BENCH_AUTH="Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)"
	BENCH_CLIENT=$id
	BENCH_REDIRECT_ENC=http%3A%2F%2F127.0.0.1%2Fcb
	BENCH_POOL=$dir/pool
	export BENCH_AUTH BENCH_CLIENT BENCH_REDIRECT_ENC BENCH_POOL
}

bench_seed_live() {
	echo "$prog: seeding $1 live tokens"
	python3 bench/seed.py "$dir/bench.db" "$id" live "$1"
}

bench_seed_pool() {
	python3 bench/seed.py "$dir/bench.db" "$id" refresh "$1" "$2"
}

# A free loopback port (the kernel's pick, released at once).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bench_start_nginx() {
	NGINX=${NGINX:-/usr/sbin/nginx}
	[ -x "$NGINX" ] || { echo "$prog: $NGINX missing (make deps)" >&2; exit 1; }
	up_port=$(free_port)
	mkdir "$dir/nginx"
	cat >"$dir/nginx/nginx.conf" <<-EOF
	$( [ "$(id -u)" -eq 0 ] && echo 'user root root;' )
	worker_processes 1;
	pid $dir/nginx/nginx.pid;
	error_log $dir/nginx/error.log warn;
	events { worker_connections 4096; }
	http {
		access_log off;
		client_body_temp_path $dir/nginx/body;
		proxy_temp_path $dir/nginx/proxy;
		fastcgi_temp_path $dir/nginx/fastcgi;
		uwsgi_temp_path $dir/nginx/uwsgi;
		scgi_temp_path $dir/nginx/scgi;
		keepalive_requests 1000000;
		server {
			listen 127.0.0.1:$up_port;
			location / { default_type text/plain; return 200 "ok\n"; }
		}
	}
	EOF
	"$NGINX" -p "$dir/nginx" -e "$dir/nginx/error.log" \
		-c "$dir/nginx/nginx.conf" -g 'daemon off;' 2>>"$dir/nginx/error.log" &
	nginx_pid=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$up_port/" && break
		sleep 0.1
	done
	curl -s -o /dev/null "http://127.0.0.1:$up_port/" ||
		{ echo "$prog: upstream nginx did not start" >&2; cat "$dir/nginx/error.log" >&2; exit 1; }
	echo "$prog: upstream nginx pid $nginx_pid at http://127.0.0.1:$up_port"
	PLUGAUTH_GATEWAY_UPSTREAM=http://127.0.0.1:$up_port
	export PLUGAUTH_GATEWAY_UPSTREAM
}

rss_of() { awk '/VmRSS/ {print $2, $3}' "/proc/$1/status"; }

bench_start_server() {
	PLUGAUTH_SERVER_LOG_LEVEL=warn PLUGAUTH_SERVER_THREADS=${BENCH_THREADS:-0} "$BIN" -c "$conf" serve >"$dir/out" 2>"$dir/log" &
	pid=$!
	for _ in $(seq 100); do
		grep -q '^listening on ' "$dir/out" 2>/dev/null && break
		sleep 0.1
	done
	url=$(sed -n 's/^listening on //p' "$dir/out")
	[ -n "$url" ] || { echo "$prog: server did not start" >&2; cat "$dir/log" >&2; exit 1; }
	echo "$prog: server pid $pid at $url, RSS $(rss_of "$pid")"
}

bench_signin() {
	BENCH_COOKIE=$(python3 bench/seed.py signin "$url" "$id" "$REDIRECT" bench bench-password)
	export BENCH_COOKIE
}

bench_mint_token() {
	BENCH_TOKEN=$(curl -s -H "Authorization: $BENCH_AUTH" \
		-d grant_type=client_credentials "$url/oauth/token" |
		sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p')
	[ -n "$BENCH_TOKEN" ] || { echo "$prog: cannot mint an access token" >&2; exit 1; }
	export BENCH_TOKEN
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# wrk prints latency with units; turn the p99 into milliseconds.
to_ms() {
	awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
	       else if (v ~ /ms$/) { sub(/ms$/, "", v) }
	       else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
	       printf "%.2f\n", v }'
}
