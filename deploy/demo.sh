#!/usr/bin/env bash
# README's run command: installs what the build needs, then runs Tessera on its embedded defaults
# (the demo tenant 12345678 "Acme" and its meeting 1177958860) and shows how they are dialled.
# Until `tessera serve` lands (SIP issue) the gateway is its operator CLI; this script then
# switches to `serve --demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/install-deps.sh

export TESSERA_DB="${TESSERA_DB:-./tessera.db}"
tessera() { cargo run --quiet --locked -p gateway --bin tessera -- "$@"; }

tessera init --demo
echo
tessera tenant list
echo
tessera meeting list
echo
for dial in "sip:12345678.1177958860@gw.example.com" "sip:1177958860.12345678@gw.example.com" \
            "sip:1177958860@video.acme.example" "sip:12345678@gw.example.com" \
            "sip:61177958860@gw.example.com"; do
  printf '%-42s -> %s\n' "$dial" "$(tessera dial resolve "$dial")"
done
