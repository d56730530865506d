#!/usr/bin/env bash
# README's run command: installs what the build needs, then runs `tessera serve --demo`: SIP on
# UDP and TCP port 5060, the admin API on 127.0.0.1:8080, the demo tenant 12345678 ("Acme",
# video.acme.example, prefix 6) and its meeting 1177958860 with 8 synthetic participants.
# Extra arguments go to `tessera serve` (e.g. --sip-listen 127.0.0.1:5070). Stop with Ctrl-C:
# the gateway drains (BYE to established calls) and exits.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/install-deps.sh

export TESSERA_DB="${TESSERA_DB:-./tessera.db}"
exec cargo run --quiet --locked -p gateway --bin tessera -- serve --demo "$@"
