#!/usr/bin/env bash
# Installs libonnxruntime.so for linux/x86_64 from the npm package
# onnxruntime-node (Microsoft, MIT) with `npm pack`, never `npm install`: the
# package's install script would fetch GPU libraries from NuGet, which CI
# cannot reach. The version and the library's sha256 are pinned. Idempotent.
set -euo pipefail

ORT_VERSION="${ORT_VERSION:-1.24.3}"
DEST="${1:-.cache/onnxruntime}"

case "$(uname -m)" in
x86_64)
	arch=x64
	sha256=92ba8e44d31b80a34f5e805076a044122c3be1fffe0d88ed790de7267b0b2682
	;;
*)
	echo "install-onnxruntime: no pinned library for $(uname -m)" >&2
	exit 1
	;;
esac
if [[ "$ORT_VERSION" != 1.24.3 ]]; then
	echo "install-onnxruntime: only 1.24.3 has a pinned sha256" >&2
	exit 1
fi

lib="$DEST/libonnxruntime.so.$ORT_VERSION"
if [[ -f "$lib" ]] && echo "$sha256  $lib" | sha256sum -c --status; then
	ln -sf "libonnxruntime.so.$ORT_VERSION" "$DEST/libonnxruntime.so"
	touch "$lib"
	exit 0
fi

mkdir -p "$DEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" "package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
mv "$tmp/package/bin/napi-v6/linux/$arch/libonnxruntime.so.1" "$lib.partial"
if ! echo "$sha256  $lib.partial" | sha256sum -c --status; then
	echo "install-onnxruntime: sha256 mismatch for onnxruntime-node@$ORT_VERSION" >&2
	rm -f "$lib.partial"
	exit 1
fi
mv "$lib.partial" "$lib"
touch "$lib" # the tarball's 1985 mtime would make make(1) reinstall every time
ln -sf "libonnxruntime.so.$ORT_VERSION" "$DEST/libonnxruntime.so"
echo "installed $DEST/libonnxruntime.so (onnxruntime $ORT_VERSION)"
