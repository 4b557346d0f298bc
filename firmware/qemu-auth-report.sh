#!/usr/bin/env bash
# One whole authentication of the Cortex-M4 image per TLS version, under QEMU mps2-an386 with
# `-icount shift=0` against hostapd (driver=wired) + FreeRADIUS (tests/tests/firmware_qemu.rs):
# instructions inside the supplicant's calls, of which public-key operations (the per-operation
# counts of qemu-bench.sh, same profile: X25519 key pair + shared secret, one ECDSA P-256
# signature, two verifies, which is what these handshakes do), heap peak, stack peak (painted),
# flash and static RAM of the image. Prints a Markdown table. Needs root (network namespaces).
# Usage: firmware/qemu-auth-report.sh
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v arm-none-eabi-size >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils-arm-none-eabi
fi

bench=$(./qemu-bench.sh release)
num() { sed -n "$1" <<<"$bench" | head -1; }
kp=$(num 's/^ECDHE X25519: key pair \([0-9]*\) instructions.*/\1/p')
ss=$(num 's/^ECDHE X25519: .*shared secret \([0-9]*\) instructions.*/\1/p')
sign=$(num 's/^ECDSA P-256 SHA-256: sign \([0-9]*\) instructions.*/\1/p')
verify=$(num 's/^ECDSA P-256 SHA-256: .*verify \([0-9]*\) instructions.*/\1/p')
pk=$((kp + ss + sign + 2 * verify))

elf=target/thumbv7em-none-eabihf/release/latchkey-firmware
section() { arm-none-eabi-size -A "$elf" | awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'; }
flash=$(($(section .vector_table) + $(section .text) + $(section .rodata) + $(section .data)))
ram=$(($(section .data) + $(section .bss) + $(section .uninit)))

out=$(cd .. && cargo nextest run -p latchkey-tests --test firmware_qemu authenticates --no-capture 2>&1) || {
  echo "$out" >&2
  exit 1
}
echo "| TLS | result | instructions (whole authentication) | public-key operations | ratio | heap peak | stack peak (of it: main's frame) | start() stack peak | flash | static RAM |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for v in 1.2 1.3; do
  result=$(sed -n "s/^firmware TLS $v via hostapd + FreeRADIUS: \(AUTH [^;]*\);.*/\1/p" <<<"$out" | sed 's/ msk-fp=.*//')
  stats=$(grep -A2 "^firmware TLS $v via" <<<"$out" | grep '^STATS' | head -1)
  f() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$stats"; }
  instr=$(($(f cpu) * 40))
  ratio=$(awk -v a="$instr" -v b="$pk" 'BEGIN { printf "%.3f", a / b }')
  echo "| $v | $result | $instr | $pk | ${ratio}x | $(f heap-peak) B | $(f stack-peak) B ($(f main-frame) B) | $(f start-stack-peak) B | $flash B | $ram B |"
done
