#!/usr/bin/env bash
# Builds the native library (crate confirma-kotlin) and the pinned uniffi-bindgen, then generates the
# Kotlin bindings (library mode, package com.confirmafinance.sdk) and stages the library at JNA's
# resource path. Called by Maven (generate-sources); can be run on its own.
#   CONFIRMA_CARGO_PROFILE=debug|release   (default debug)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"   # bindings-kotlin/
ROOT="$(cd "$HERE/.." && pwd)"
PROFILE="${CONFIRMA_CARGO_PROFILE:-debug}"
TRIPLE=x86_64-unknown-linux-gnu
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"

release_flag=()
[ "$PROFILE" = release ] && release_flag=(--release)
# uniffi-bindgen is always a debug build (see TOOLCHAIN pitfall 2); both share the workspace target dir.
# Two separate invocations: building them together would unify uniffi's features and rebuild the binding.
cargo build --quiet --target "$TRIPLE" -p uniffi-bindgen
cargo build --quiet --target "$TRIPLE" -p confirma-kotlin
[ "$PROFILE" = release ] && cargo build --quiet --target "$TRIPLE" -p confirma-kotlin "${release_flag[@]}"

LIB="$TARGET_DIR/$TRIPLE/$PROFILE/libconfirma_kotlin.so"
# The release profile strips symbols, uniffi's metadata with them: generate from the debug build of the same
# source (identical interface and checksums) and ship the release library.
META_LIB="$TARGET_DIR/$TRIPLE/debug/libconfirma_kotlin.so"
BINDGEN="$TARGET_DIR/$TRIPLE/debug/uniffi-bindgen"
GEN="$HERE/target/generated-sources/uniffi"
NATIVE="$HERE/target/native/linux-x86-64"
rm -rf "$GEN" "$NATIVE"
mkdir -p "$GEN" "$NATIVE"
# Library mode runs `cargo metadata`, so it runs inside the workspace (cwd = repo root).
"$BINDGEN" generate --library "$META_LIB" --language kotlin --no-format --out-dir "$GEN" >/dev/null
cp "$LIB" "$NATIVE/"
echo "confirma-kotlin: native library ($PROFILE, $(du -h "$LIB" | cut -f1)) and Kotlin bindings ready"
