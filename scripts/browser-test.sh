#!/usr/bin/env bash
# /docs in headless Chromium (`make browser-test`).
#
#   scripts/browser-test.sh OUT_DIR
#
# Builds cmd/sdapi-server, starts it on a free loopback port with a fresh data
# dir (the emitted tiny random-weight test model), and runs
# scripts/browser-test.mjs: Swagger UI → POST /sdapi/v1/txt2img → Try it out →
# a 64×64, 2-step body → Execute → 200 with "images" in the rendered body,
# screenshot in OUT_DIR/docs-txt2img.png.
#
# Chromium is Debian's package (/usr/bin/chromium, or $CHROMIUM). When it is
# missing and we run as root with apt-get, it is installed
# (apt-get install -y chromium). Otherwise the test is skipped with a message,
# except under CI=true, where a missing browser fails the run.
set -euo pipefail

out=${1:?usage: scripts/browser-test.sh OUT_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mkdir -p "$out"
out=$(cd "$out" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}

if [[ ! -x $chromium ]]; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "browser-test: $chromium missing: apt-get install -y chromium"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq chromium >/dev/null
	fi
fi
if [[ ! -x $chromium ]]; then
	msg="browser-test: $chromium not found and not installable here (needs root and apt-get: apt-get install -y chromium)"
	if [[ ${CI:-} == true ]]; then
		echo "$msg" >&2
		exit 1
	fi
	echo "$msg: SKIPPED" >&2
	exit 0
fi
[[ -e node_modules/playwright-core/package.json ]] || { echo "browser-test: playwright-core missing: run make deps" >&2; exit 1; }
if [[ -z ${ONNXRUNTIME_SHARED_LIBRARY_PATH:-} && -e .cache/onnxruntime/libonnxruntime.so ]]; then
	export ONNXRUNTIME_SHARED_LIBRARY_PATH=$root/.cache/onnxruntime/libonnxruntime.so
fi

work=$(mktemp -d)
pid=
cleanup() {
	if [[ -n $pid ]]; then
		kill -INT "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/sdapi-server" ./cmd/sdapi-server
"$work/sdapi-server" --port 0 --data-dir "$work/data" 2>"$out/server.log" &
pid=$!
url=
for _ in $(seq 300); do
	url=$(sed -n 's/.*msg=serving url=\([^ ]*\).*/\1/p' "$out/server.log" | head -n 1)
	[[ -n $url ]] && break
	kill -0 "$pid" 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }
	sleep 0.1
done
[[ -n $url ]] || { echo "browser-test: the server did not start within 30s" >&2; cat "$out/server.log" >&2; exit 1; }

echo "browser-test: $("$chromium" --version 2>/dev/null | head -n 1), playwright-core $(node -p 'require("playwright-core/package.json").version')"
SDAPI_URL=$url CHROMIUM=$chromium timeout 300 node scripts/browser-test.mjs "$out"
