#!/usr/bin/env bash
# Boots the qemu-bench image (src/bin/qemu_bench.rs) on QEMU's mps2-an386 (Cortex-M4F) with
# `-icount shift=0` (one instruction per virtual ns) and prints the instructions one X25519 and
# one secp256r1 ECDHE, one ECDSA P-256 signature and one verify take through Latchkey's
# provider. Then it boots the real image (src/main.rs) and checks that it built its whole
# configuration (slot table, server policy, provider) and sent EAPOL-Start on UART0.
# Usage: firmware/qemu-bench.sh [release|release-s]   (opt-level "z" or "s")
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

# The main image: after its BOOT status line (a text frame to the all-zero MAC) it must send
# EAPOL-Start to the PAE group address, in the image's framing (destination MAC, big-endian
# length 4, then version 1, type Start, length 0). The whole authentication on the board runs
# in the test command: tests/tests/firmware_qemu.rs.
cargo build -q --target thumbv7em-none-eabihf --profile "$profile" --features insecure-counter-rng --bin latchkey-firmware
out=$( (timeout 3 qemu-system-arm -M mps2-an386 -display none -monitor none -serial stdio \
  -kernel "target/thumbv7em-none-eabihf/$profile/latchkey-firmware" </dev/null 2>/dev/null || true) |
  head -c 200 | od -An -tx1 | tr -d ' \n')
boot=$(printf 'BOOT cred=' | od -An -tx1 | tr -d ' \n')
case "$out" in
  000000000000*"$boot"*0180c2000003000401010000*)
    echo "boot: latchkey-firmware configured itself and sent EAPOL-Start (0180c2000003 0004 01010000)" ;;
  *)
    echo "boot: unexpected UART0 output: '$out'" >&2
    exit 1 ;;
esac
