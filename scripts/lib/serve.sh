# shellcheck shell=bash
# Starting and stopping the reference server for the scripts that test it
# from outside (scripts/dredd.sh, scripts/browser-test.sh). Source it from a
# bash script that runs in the repository root under set -euo pipefail.
#
#   serve_start NAME LOG
#
# builds cmd/sdapi-server into a temporary work dir, starts it on a free
# loopback port (--port 0) with a fresh data dir and its stderr in LOG, and
# waits up to 30 s for slog's `msg=serving url=...` line; then serve_url is
# that URL. When the server exits first or does not serve in time, it prints
# LOG and exits the script (NAME prefixes its message). An EXIT trap stops the
# server (SIGINT, up to 10 s, then SIGKILL) and removes the work dir.
# ONNXRUNTIME_SHARED_LIBRARY_PATH defaults to the install path of
# `make onnxruntime`, for when the script runs without the Makefile.

serve_work=
serve_pid=
serve_url=

serve_stop() {
	if [[ -n $serve_pid ]]; then
		kill -INT "$serve_pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$serve_pid" 2>/dev/null || true
		serve_pid=
	fi
	if [[ -n $serve_work ]]; then
		rm -rf "$serve_work"
		serve_work=
	fi
}

serve_start() {
	local name=${1:?serve_start NAME LOG} log=${2:?serve_start NAME LOG}
	if [[ -z ${ONNXRUNTIME_SHARED_LIBRARY_PATH:-} && -e .cache/onnxruntime/libonnxruntime.so ]]; then
		export ONNXRUNTIME_SHARED_LIBRARY_PATH=$PWD/.cache/onnxruntime/libonnxruntime.so
	fi
	serve_work=$(mktemp -d)
	trap serve_stop EXIT
	go build -o "$serve_work/sdapi-server" ./cmd/sdapi-server
	"$serve_work/sdapi-server" --port 0 --data-dir "$serve_work/data" 2>"$log" &
	serve_pid=$!
	serve_url=
	# Polling the log is the only readiness signal a backgrounded process
	# gives a shell; the loop is bounded (300 × 0.1 s).
	for _ in $(seq 300); do
		# sed quits at the first match itself: a head in the pipe could
		# SIGPIPE sed and fail the assignment under pipefail.
		serve_url=$(sed -n 's/.*msg=serving url=\([^ ]*\).*/\1/p;T;q' "$log")
		[[ -n $serve_url ]] && return 0
		kill -0 "$serve_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
		sleep 0.1
	done
	echo "$name: the server did not start within 30s" >&2
	cat "$log" >&2
	exit 1
}
