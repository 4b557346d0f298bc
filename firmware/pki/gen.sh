#!/usr/bin/env bash
# Regenerates the size-measurement test PKI the firmware image embeds (a P-256 CA and one
# client certificate with clientAuth; an RSA-2048 and a P-384 key for the signature benchmark).
# Test material only: the keys are public in this repository.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca.key"
openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days 3650 -subj "/CN=Latchkey Firmware Test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$tmp/ca.pem"
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/client.key"
openssl req -new -key "$tmp/client.key" -subj "/CN=device-0001" -out "$tmp/client.csr"
cat > "$tmp/ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
EXT
openssl x509 -req -in "$tmp/client.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -set_serial 0x1001 \
  -days 3650 -sha256 -extfile "$tmp/ext" -out "$tmp/client.pem"
openssl x509 -in "$tmp/ca.pem" -outform DER -out ca.der
openssl x509 -in "$tmp/client.pem" -outform DER -out client.der
openssl pkcs8 -topk8 -nocrypt -in "$tmp/client.key" -outform DER -out client-key.pk8
# Keys for the benchmark's client-key signatures (src/bin/qemu_bench.rs): RSA-2048 (as AD CS
# issues) and P-384.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.key"
openssl pkcs8 -topk8 -nocrypt -in "$tmp/rsa.key" -outform DER -out rsa2048-key.pk8
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$tmp/p384.key"
openssl pkcs8 -topk8 -nocrypt -in "$tmp/p384.key" -outform DER -out p384-key.pk8
