#!/usr/bin/env bash
# Writes a self-signed PEM holding the private key, then the certificate (the layout of the
# HipChat seed stack's hipc.pem, which `bind … ssl crt` reads), valid for NAME and its
# wildcard, with the system openssl.
# usage: scripts/gen-cert.sh NAME OUT.pem [rsa|ec] [DAYS]      (defaults: rsa, 825 days)
#   e.g. scripts/gen-cert.sh hipchat.example.test /etc/swiftlb/hipc.pem
# DAYS may be negative-free only; for an expired test certificate use -days via OPENSSL_ARGS.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,8p' "$0"; exit 2; }
name=$1 out=$2 kind=${3:-rsa} days=${4:-825}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
case "$kind" in
    rsa) keyopts=(-newkey rsa:2048) ;;
    ec)  keyopts=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
    *) echo "key type must be rsa or ec" >&2; exit 2 ;;
esac
# OPENSSL_ARGS is a list of words (e.g. "-set_serial 7"), split on blanks.
read -r -a extra <<< "${OPENSSL_ARGS:-}"
openssl req -x509 "${keyopts[@]}" -nodes -days "$days" -subj "/CN=$name" \
    -addext "subjectAltName=DNS:$name,DNS:*.$name" "${extra[@]}" \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
umask 077
cat "$tmp/key.pem" "$tmp/cert.pem" > "$out"
echo "wrote $out: $kind key + certificate for $name (and *.$name), $days days"
