#!/usr/bin/env bash
# Regenerates the size-measurement test PKI the firmware image embeds (a P-256 CA and one
# client certificate with clientAuth). Test material only: the key is public in this repository.
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
