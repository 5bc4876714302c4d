#!/bin/sh
# Builds the aion NIF (release profile) and installs it as priv/aion_nif.so.
# The copy goes through a temp file + mv so a running VM that has the old .so loaded keeps
# a valid mapping (never overwrite a loaded shared object in place).
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet -p aion_nif
mkdir -p priv
# Cargo honours CARGO_TARGET_DIR (a shared target directory is a common setting).
target="${CARGO_TARGET_DIR:-target}"
src="$target/release/libaion_nif.so"
[ -f "$src" ] || src="$target/release/libaion_nif.dylib"
cp "$src" priv/.aion_nif.so.tmp
mv -f priv/.aion_nif.so.tmp priv/aion_nif.so
