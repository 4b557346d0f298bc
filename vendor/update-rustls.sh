#!/usr/bin/env bash
# Re-creates vendor/rustls from the published rustls crate with vendor/rustls.patch applied.
# Run it after bumping the rustls version (workspace Cargo.toml and firmware/Cargo.toml):
#   vendor/update-rustls.sh 0.23.46
# If the patch no longer applies, redo its two small hunks by hand (they are marked
# "LATCHKEY PATCH" in the source) and refresh the patch file. The unit test
# `tls13_client_hello_has_an_empty_session_id_and_no_dummy_ccs` catches its loss.
set -euo pipefail
version=${1:?usage: vendor/update-rustls.sh VERSION}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL "https://static.crates.io/crates/rustls/rustls-$version.crate" | tar -xz -C "$tmp"
rm -rf "$here/rustls"
mv "$tmp/rustls-$version" "$here/rustls"
patch -d "$here/rustls" -p1 --no-backup-if-mismatch < "$here/rustls.patch"
echo "vendor/rustls is rustls $version with vendor/rustls.patch"
