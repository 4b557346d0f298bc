#!/usr/bin/env bash
# Writes the seeds of the credential targets (pkcs12, slot_files) with openssl: a P-256 CA, an
# intermediate, and leaves (P-256, P-384, RSA-2048) as the files enterprises hand out:
# PKCS#12 (PBES2/AES and legacy 3DES, with and without a password and a chain), PEM and DER
# certificates, plain, SEC1, PKCS#1 and encrypted PKCS#8 keys, one file holding both.
# Password: latchkey-fuzz (the targets' fixed --key-pass). Run from anywhere:
#   bash fuzz/seeds/make-credentials.sh
set -euo pipefail
cd "$(dirname "$0")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pass=latchkey-fuzz
o() { openssl "$@" 2>/dev/null; }

ec() { o genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$2" -out "$tmp/$1.key"; }
ec ca P-256
ec int P-256
ec p256 P-256
ec p384 P-384
o genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.key"
o req -x509 -new -key "$tmp/ca.key" -subj /CN=Fuzz\ Root -days 3650 -out "$tmp/ca.pem"
o req -new -key "$tmp/int.key" -subj /CN=Fuzz\ Issuing -out "$tmp/int.csr"
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n' >"$tmp/ca.ext"
o x509 -req -in "$tmp/int.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -days 3650 \
  -extfile "$tmp/ca.ext" -set_serial 2 -out "$tmp/int.pem"
printf 'extendedKeyUsage=clientAuth\n' >"$tmp/leaf.ext"
for k in p256 p384 rsa; do
  o req -new -key "$tmp/$k.key" -subj "/CN=device-$k@fuzz.test" -out "$tmp/$k.csr"
  o x509 -req -in "$tmp/$k.csr" -CA "$tmp/int.pem" -CAkey "$tmp/int.key" -days 3650 \
    -extfile "$tmp/leaf.ext" -set_serial 1$RANDOM -out "$tmp/$k.pem"
  o x509 -in "$tmp/$k.pem" -outform DER -out "$tmp/$k.der"
done

# PKCS#12.
p12() { o pkcs12 -export -inkey "$tmp/$2.key" -in "$tmp/$2.pem" "${@:3}" -out "pkcs12/$1"; }
p12 p256-chain-aes p256 -certfile "$tmp/int.pem" -passout "pass:$pass"
p12 p256-3des p256 -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -macalg sha1 -passout "pass:$pass"
p12 p256-nopass p256 -keypbe NONE -certpbe NONE -nomac -passout pass:
p12 p384-aes p384 -passout "pass:$pass"
p12 rsa-aes rsa -passout "pass:$pass"
o pkcs12 -export -nokeys -in "$tmp/p256.pem" -passout "pass:$pass" -out pkcs12/cert-only

# Key files.
o pkcs8 -topk8 -nocrypt -in "$tmp/p256.key" -outform DER -out "$tmp/p256.key.der"
o pkcs8 -topk8 -v2 aes-256-cbc -passout "pass:$pass" -in "$tmp/p256.key" -out "$tmp/p256.enc.pem"
o pkcs8 -topk8 -v2 aes-256-cbc -passout "pass:$pass" -in "$tmp/p384.key" -outform DER \
  -out "$tmp/p384.enc.der"
o ec -in "$tmp/p256.key" -out "$tmp/p256.sec1.pem"
o ec -in "$tmp/p384.key" -outform DER -out "$tmp/p384.sec1.der"
o rsa -in "$tmp/rsa.key" -traditional -out "$tmp/rsa.pkcs1.pem"
cat "$tmp/p256.pem" "$tmp/int.pem" >"$tmp/p256-chain.pem"
cat "$tmp/p256.pem" "$tmp/p256.key" >"$tmp/p256-both.pem"

# slot_files: flags (bit 0: one file; bit 1: --key-pass), u16 certificate length, files.
slot() { # name flags cert [key]
  local len
  len=$(stat -c %s "$3")
  {
    printf "$(printf '\\x%02x\\x%02x\\x%02x' "$2" $((len >> 8)) $((len & 255)))"
    cat "$3"
    if [ -n "${4:-}" ]; then cat "$4"; fi
  } >"slot_files/$1"
}
slot pem-pkcs8 0 "$tmp/p256.pem" "$tmp/p256.key"
slot der-der 0 "$tmp/p256.der" "$tmp/p256.key.der"
slot chain-sec1 0 "$tmp/p256-chain.pem" "$tmp/p256.sec1.pem"
slot encrypted-pem 2 "$tmp/p256.pem" "$tmp/p256.enc.pem"
slot encrypted-der 2 "$tmp/p384.der" "$tmp/p384.enc.der"
slot p384-sec1-der 0 "$tmp/p384.pem" "$tmp/p384.sec1.der"
slot rsa-pkcs1 0 "$tmp/rsa.pem" "$tmp/rsa.pkcs1.pem"
slot one-file 1 "$tmp/p256-both.pem"
slot pfx-one-file 3 pkcs12/p256-chain-aes
slot mismatched 0 "$tmp/p256.pem" "$tmp/p384.key"
ls -l pkcs12 slot_files
