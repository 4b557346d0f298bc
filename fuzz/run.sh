#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and prints executions and coverage per target.
#
#   fuzz/run.sh [seconds-per-target]          (default 60)
#   FUZZ_TARGETS="eapol eap" fuzz/run.sh 600  (a subset)
#
# Installs what it needs, idempotently: the nightly toolchain (rustup) and cargo-fuzz (cargo
# install --locked). Targets are built as cargo-fuzz does by default: optimized, with debug
# assertions and overflow checks on, so misuse of a dependency shows as its assertion.
# Each target starts from its committed seeds (fuzz/seeds/TARGET, from real simulated
# exchanges; regenerate with the seedgen crate) plus what earlier runs found (fuzz/corpus/TARGET,
# not committed). A crash, a failed oracle or an input slower than 10 s fails the run; the input
# is left in fuzz/artifacts/TARGET and the exit status is 1.
set -euo pipefail
secs="${1:-60}"
case "$secs" in
  '' | *[!0-9]*) echo "usage: $0 [seconds-per-target]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")"

# cargo-fuzz passes -Z flags (sanitizers, coverage), which need a nightly compiler. Where no
# nightly can be installed, the default toolchain accepts them with RUSTC_BOOTSTRAP=1.
if rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal; then
  fuzz=(cargo +nightly fuzz)
else
  echo "== no nightly toolchain: using $(rustc --version) with RUSTC_BOOTSTRAP=1" >&2
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked

all_targets=(eapol eap eap_tls_reassembly slot_flash cert_install radius_reply eapol_key four_way supplicant pkcs12 slot_files)
read -ra targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"

# Longest input per target: slot_flash and radius_reply need a 4 KiB flash / packet plus room.
max_len() {
  case "$1" in
    slot_flash | radius_reply) echo 4300 ;;
    eap_tls_reassembly) echo 8192 ;;
    # Whole authentications: every authenticator frame of a TLS 1.2 or 1.3 exchange.
    supplicant) echo 16384 ;;
    # A certificate with its chain and key: an RSA-2048 PKCS#12 file is ~2.5 KB.
    pkcs12 | slot_files) echo 6144 ;;
    *) echo 2048 ;;
  esac
}

echo "== building fuzz targets (debug assertions on)"
"${fuzz[@]}" build

status=0
results=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log="$(mktemp)"
  echo "== $t: ${secs} s"
  if "${fuzz[@]}" run "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1; then
    verdict=ok
  else
    verdict=FAILED
    status=1
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written to|^thread ' "$log" | head -n 20 || true
  fi
  execs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -n 1)"
  line="$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1)"
  cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$line")"
  ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$line")"
  corp="$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$line")"
  results+=("$(printf '%-20s %-7s %12s %8s %8s %8s' "$t" "$verdict" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
  rm -f "$log"
done

echo
printf '%-20s %-7s %12s %8s %8s %8s\n' target result executions "cov" "features" corpus
printf '%s\n' "${results[@]}"
exit "$status"
