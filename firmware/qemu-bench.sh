#!/usr/bin/env bash
# Boots the qemu-bench image (src/bin/qemu_bench.rs) on QEMU's mps2-an386 (Cortex-M4F) with
# `-icount shift=0` (one instruction per virtual ns) and prints the instructions one X25519 and
# one secp256r1 ECDHE, one ECDSA P-256 signature and one verify take through Latchkey's
# provider. Usage: firmware/qemu-bench.sh [release|release-s]   (opt-level "z" or "s")
set -euo pipefail
cd "$(dirname "$0")"
profile=${1:-release}

rustup target list --installed | grep -qx thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf
if ! command -v qemu-system-arm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-system-arm
fi

cargo build -q --target thumbv7em-none-eabihf --profile "$profile" --features qemu-bench --bin qemu-bench
# The image exits QEMU through semihosting (status 0 only if the signature verified).
timeout 120 qemu-system-arm -M mps2-an386 -nographic -monitor none \
  -semihosting-config enable=on,target=native -icount shift=0 \
  -kernel "target/thumbv7em-none-eabihf/$profile/qemu-bench" </dev/null
