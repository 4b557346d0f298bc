#!/usr/bin/env bash
# Flash and static RAM of Latchkey linked into the Cortex-M4F image (thumbv7em-none-eabihf,
# QEMU mps2-an386), per latchkey-core feature set, at opt-level "z" and "s" (LTO, panic=abort,
# codegen-units=1; see the profiles in firmware/Cargo.toml). Prints a Markdown table, then the
# crates that dominate flash in the default build. Usage: firmware/size-report.sh
set -euo pipefail
cd "$(dirname "$0")"

rustup target list --installed | grep -qx thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf
if ! command -v arm-none-eabi-size >/dev/null || ! command -v arm-none-eabi-nm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils-arm-none-eabi
fi

target=thumbv7em-none-eabihf
sets=("default|rsa, p384, x25519|"
      "none|P-256 only|--no-default-features"
      "x25519|x25519 alone|--no-default-features --features x25519"
      "rsa|rsa alone|--no-default-features --features rsa"
      "p384|p384 alone|--no-default-features --features p384")
profiles=("release|z" "release-s|s")

section() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }' "$1"; }

rows=()
for prof in "${profiles[@]}"; do
  profile=${prof%%|*}; opt=${prof##*|}
  for set in "${sets[@]}"; do
    IFS='|' read -r name label flags <<<"$set"
    echo "== building $name (opt-level $opt)" >&2
    # shellcheck disable=SC2086
    cargo build -q --target "$target" --profile "$profile" --features insecure-counter-rng $flags >&2
    elf=target/$target/$profile/latchkey-firmware
    mkdir -p target/size-report
    cp "$elf" "target/size-report/latchkey-firmware-$name-$opt.elf"
    arm-none-eabi-size -A "$elf" >target/size-report/sections.txt
    s=target/size-report/sections.txt
    vt=$(section $s .vector_table); text=$(section $s .text); ro=$(section $s .rodata)
    data=$(section $s .data); bss=$(section $s .bss); uninit=$(section $s .uninit)
    heap=$(arm-none-eabi-nm -S -C -t d "$elf" | awk '/HEAP_MEM$/ { print $2 + 0 }')
    flash=$((vt + text + ro + data))
    rows+=("| $label | $opt | $text | $ro | $flash ($((flash / 1024)) KiB) | $((data + bss + uninit)) | $heap |")
  done
done

echo
echo "| latchkey-core features | opt-level | .text B | .rodata B | flash B (vectors+text+rodata+data) | static RAM B (.data+.bss, heap array included) | heap B (of it) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"

# What dominates flash: code and read-only data symbols of the default "z" image, summed by
# the crate their (demangled) name starts with. Generic code is attributed to the crate that
# defines the function, as cargo-bloat does; symbols without a crate path count as "[other]".
echo
echo "Flash by crate, default features, opt-level z (bytes of .text/.rodata symbols):"
arm-none-eabi-nm -S -C -t d --size-sort target/size-report/latchkey-firmware-default-z.elf |
  awk '$3 ~ /^[tTrR]$/ {
         name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name)
         sub(/^</, "", name); sub(/^_</, "", name)
         c = name; sub(/::.*/, "", c); sub(/ as .*/, "", c); sub(/<.*/, "", c)
         if (c == name || c == "") c = "[other]"
         sz[c] += ($2 + 0); tot += ($2 + 0)
       }
       END { for (c in sz) printf "%8d  %5.1f%%  %s\n", sz[c], 100 * sz[c] / tot, c; printf "%8d  total\n", tot }' |
  sort -rn | head -20
