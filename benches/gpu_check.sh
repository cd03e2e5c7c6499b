#!/usr/bin/env bash
# One call on a real GPU machine: the tests and every benchmark, results under OUT.
#
#   benches/gpu_check.sh --prepare     build the test and bench binaries into .gpu-bin/
#                                      (on a machine with cargo, same CPU architecture)
#   benches/gpu_check.sh OUT           run them (or build and run, where cargo exists);
#                                      logs and JSON results go to OUT
#
# On machines without a Vulkan loader, put Debian's libvulkan1 .deb files in .gl/ first;
# they are unpacked here. NVIDIA's ICD is used where the driver ships one.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.gpu-bin

if [ "${1:-}" = "--prepare" ]; then
    set -e
    rm -rf "$BIN" && mkdir -p "$BIN"
    cargo test --release --no-run --message-format=json 2>/dev/null \
        | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"], m["executable"])' \
        | while read -r name exe; do cp "$exe" "$BIN/test-$name"; done
    cargo bench --no-run --message-format=json 2>/dev/null \
        | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and "bench" in m["target"]["kind"]:
        print(m["target"]["name"], m["executable"])' \
        | while read -r name exe; do cp "$exe" "$BIN/bench-$name"; done
    cargo build --release && cp target/release/morphogen "$BIN/morphogen"
    ls -la "$BIN"
    exit 0
fi

OUT=${1:?usage: benches/gpu_check.sh OUT | --prepare}
mkdir -p "$OUT"
export MORPHOGEN_BENCH_OUT="$OUT"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}

if compgen -G ".gl/*.deb" >/dev/null; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
if ! compgen -G "/usr/share/vulkan/icd.d/*.json" >/dev/null && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv >"$OUT/nvidia-smi.csv" 2>&1

status=0
run() { # name, command...
    local name=$1; shift
    echo "== $name"
    if "$@" >"$OUT/$name.log" 2>&1; then echo "   ok"; else echo "   FAILED (see $name.log)"; status=1; fi
    tail -n 30 "$OUT/$name.log"
}

if command -v cargo >/dev/null; then
    run info cargo run --release -- info
    run tests cargo test --release
    for b in benches/*.rs; do run "bench-$(basename "$b" .rs)" cargo bench --bench "$(basename "$b" .rs)"; done
else
    [ -d "$BIN" ] || { echo "no cargo here and no $BIN/: run benches/gpu_check.sh --prepare first"; exit 2; }
    run info "$BIN/morphogen" info
    for t in "$BIN"/test-*; do run "$(basename "$t")" "$t"; done
    for b in "$BIN"/bench-*; do run "$(basename "$b")" "$b" --bench; done
fi
exit $status
