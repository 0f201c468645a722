#!/usr/bin/env bash
# Dredd 14.1.0 smoke check of the reference server (`make dredd`).
#
#   scripts/dredd.sh OUT_DIR
#
# Builds cmd/sdapi-server, starts it on a free loopback port with a fresh data
# dir (it emits the tiny random-weight test model) and without --api-auth or
# --api-server-stop, runs Dredd over every transaction of openapi/sdapi.yaml
# with scripts/dredd-hooks.js, and writes OUT_DIR/dredd.log, report.md,
# xunit.xml and skips.txt (why each skipped transaction is skipped).
#
# Dredd's OpenAPI 3 support is "experimental": it parses the 3.0.3 spec with
# warnings (it ignores format, minimum/maximum, requestBody `required`, anyOf)
# and builds no JSON Schema for response bodies; see the hooks file for how
# the bodies are still judged against the spec.
set -euo pipefail

out=${1:?usage: scripts/dredd.sh OUT_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=lib/serve.sh
source scripts/lib/serve.sh
mkdir -p "$out"
out=$(cd "$out" && pwd)
dredd=node_modules/.bin/dredd
[[ -x $dredd ]] || { echo "dredd: $dredd missing: run make deps" >&2; exit 1; }

# Dredd only warns when a hook file fails to load and then runs every
# transaction unhooked (destructive ones included): check the hooks first.
node --check scripts/dredd-hooks.js
node -e 'require("./scripts/dredd-schema.js")'

serve_start dredd "$out/server.log"
url=$serve_url
echo "dredd: reference server at $url"

rm -f "$out/skips.txt"
rc=0
DREDD_SKIPS_FILE="$out/skips.txt" "$dredd" openapi/sdapi.yaml "$url" \
	--hookfiles=scripts/dredd-hooks.js --color=false --loglevel=warning \
	--reporter=markdown --output="$out/report.md" \
	--reporter=xunit --output="$out/xunit.xml" \
	>"$out/dredd.log" 2>&1 || rc=$?
# Parser warnings are many and known (see above): show the rest.
grep -v -e 'API description parser warning' -e "padLevels" -e 'trace-warnings' "$out/dredd.log" \
	| grep -v '^skip: ' || true
if [[ ! -s $out/skips.txt ]]; then
	echo "dredd: FAIL: the hooks did not run (no $out/skips.txt)" >&2
	exit 1
fi
summary=$(grep '^complete: .* total' "$out/dredd.log" | tail -n 1)
[[ -n $summary ]] || { echo "dredd: FAIL: no summary line" >&2; exit 1; }
if ! grep -q '^complete: [1-9][0-9]* passing' <<<"$summary"; then
	echo "dredd: FAIL: nothing passed" >&2
	exit 1
fi
echo "dredd: logs and reports in $out"
exit "$rc"
