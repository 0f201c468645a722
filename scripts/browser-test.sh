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
# shellcheck source=lib/serve.sh
source scripts/lib/serve.sh
mkdir -p "$out"
out=$(cd "$out" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}

if [[ ! -x $chromium ]] && command -v apt-get >/dev/null; then
	# Root installs directly; otherwise passwordless sudo, as CI images often have.
	as_root=()
	if [[ $(id -u) != 0 ]] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		as_root=(sudo -n)
	fi
	if [[ $(id -u) == 0 || ${#as_root[@]} -gt 0 ]]; then
		echo "browser-test: $chromium missing: apt-get install -y chromium"
		"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
		"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	fi
fi
if [[ ! -x $chromium ]]; then
	msg="browser-test: $chromium not found and not installable here (needs apt-get as root or with passwordless sudo: apt-get install -y chromium)"
	if [[ ${CI:-} == true ]]; then
		echo "$msg" >&2
		exit 1
	fi
	echo "$msg: SKIPPED" >&2
	exit 0
fi
[[ -e node_modules/playwright-core/package.json ]] || { echo "browser-test: playwright-core missing: run make deps" >&2; exit 1; }

serve_start browser-test "$out/server.log"
url=$serve_url

echo "browser-test: $("$chromium" --version 2>/dev/null | sed -n 1p), playwright-core $(node -p 'require("playwright-core/package.json").version')"
SDAPI_URL=$url CHROMIUM=$chromium timeout 300 node scripts/browser-test.mjs "$out"
