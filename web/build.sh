#!/usr/bin/env bash
# Builds the biome web page into web/site/ (or DIR): morphogen compiled to WebAssembly,
# its JavaScript glue, and the page. The folder is static: serve it with any web server,
# e.g. `python3 -m http.server -d web/site 8000`, and open http://127.0.0.1:8000/ in a
# browser with WebGPU.
#
#   web/build.sh [DIR]
#
# Installs what it needs when missing: the wasm32-unknown-unknown target (rustup) and
# wasm-bindgen-cli at exactly the version of the wasm-bindgen crate (cargo install).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-web/site}
# Must equal the wasm-bindgen version pinned in web/Cargo.toml.
WASM_BINDGEN=0.2.130

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN\$"; then
    echo "== installing wasm-bindgen-cli $WASM_BINDGEN (about a minute, once)"
    # A debug build: it installs in a third of the time, and its output is the same (the
    # tool runs for under a second here). --force replaces another version.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN" --debug --force
fi

echo "== building the WebAssembly module"
cargo build -p morphogen-web --target wasm32-unknown-unknown --release

# The site is assembled beside its destination and moved into place whole.
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$OUT.tmp/pkg" \
    target/wasm32-unknown-unknown/release/morphogen_web.wasm
cp web/static/index.html web/static/main.js web/static/train.html web/static/train.js \
  web/static/page.js web/static/page.css "$OUT.tmp/"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "== site in $OUT ($(du -sh "$OUT" | cut -f1)); serve it, e.g. python3 -m http.server -d $OUT 8000"
