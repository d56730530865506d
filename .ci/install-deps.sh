#!/usr/bin/env bash
# Installs what building and testing Tessera needs on a fresh Debian machine that has only the
# Rust toolchain. Idempotent: packages already present are skipped, and apt-get runs only when
# something is missing. Grows with the project (cmake and nasm for the media codecs, sip-tester
# for the SIP tests).
set -euo pipefail

# gcc + libc6-dev: rusqlite builds its bundled SQLite from C.
# sip-tester: SIPp, which gateway/tests/sipp.rs runs against a real `tessera serve`.
# chromium + chromium-driver: headless Chromium and ChromeDriver for the lobby console's
# browser test (gateway/tests/console.rs).
# curl: .ci/run's health check of the README's run command.
# cmake: the `opus` crate (opusic-sys) builds libopus from source with CMake.
# nasm: openh264's bundled source assembles its x86 kernels with NASM (without it the build
# falls back to C and H.264 encoding is about 3x slower).
# ffmpeg: the far-end room system of the media end-to-end tests (gateway/tests/media_e2e.rs):
# sends x264 720p + G.711 over RTP and decodes what the gateway sends back.
# libavcodec-dev libavutil-dev libswscale-dev pkg-config libclang-dev: the bench crate's
# `compare compositor` measures against libswscale through ffmpeg-sys-next, whose build script
# finds FFmpeg (5.1 on Debian 12) with pkg-config and generates bindings with bindgen (libclang).
# libyuv-dev: `compare compositor`'s second peer, libyuv's I420Scale (the scaler Chromium and
# WebRTC ship), linked by bench/src/libyuv.rs's extern block.
# baresip-core + baresip-ffmpeg: baresip, a real SIP video phone, as the packetization-mode 0
# peer of gateway/tests/baresip.rs (its avcodec module decodes H.264); iproute2: `ip netns` and
# the veth pair that test runs baresip behind (baresip will not use a loopback address).
# tshark (with text2pcap): Wireshark's H.225/H.245 dissectors check every H.323 message the
# gateway sends (h323/tests/tshark.rs).
# tshark: the same test captures the veth and checks the TLS + SRTP call shows no clear SIP and no
# clear H.264 (its srtp module is in baresip-core).
# kamailio: Kamailio 5.6 (with kamcmd) in front of three gateways in gateway/tests/cluster.rs,
# running the shipped deploy/kamailio/kamailio.cfg, and in `tessera-load cluster-rate`.
# postgresql: PostgreSQL 15, the shared directory and licence leases of a cluster; the tests run
# their own throwaway server (gateway/tests/common/throwaway-postgres.sh).
packages=(gcc libc6-dev sip-tester chromium chromium-driver curl cmake nasm ffmpeg
  libavcodec-dev libavutil-dev libswscale-dev pkg-config libclang-dev libyuv-dev
  baresip-core baresip-ffmpeg iproute2 tshark kamailio postgresql)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
  # The package starts a system-wide Kamailio on port 5060 (where `bash deploy/demo.sh` runs
  # Tessera); the tests run their own. Stop the one we have just installed, never one that was
  # there before.
  if [[ " ${missing[*]} " == *" kamailio "* ]] && command -v systemctl >/dev/null 2>&1; then
    "${sudo_cmd[@]}" systemctl disable --now kamailio.service >/dev/null 2>&1 || true
  fi
  # Likewise the cluster the postgresql package creates and starts on port 5432.
  if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v systemctl >/dev/null 2>&1; then
    "${sudo_cmd[@]}" systemctl disable --now postgresql.service >/dev/null 2>&1 || true
  fi
fi

# npm: Debian's package, unless the nodejs installed already brings its own (NodeSource's does,
# and conflicts with Debian's npm).
if ! command -v npm >/dev/null 2>&1; then
  echo "installing Debian package: npm" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq npm >/dev/null
fi

# playwright-core for the browser tests, exactly as gateway/tests/browser/package-lock.json pins
# it (it drives the Debian chromium above; it downloads no browser of its own).
browser_tests="$(dirname "$0")/../gateway/tests/browser"
# A copy of the lock file in node_modules marks an install of exactly that lock.
if ! cmp -s "$browser_tests/package-lock.json" "$browser_tests/node_modules/.tessera-lock.json"; then
  echo "installing playwright-core (npm ci in gateway/tests/browser)" >&2
  (cd "$browser_tests" && npm ci --no-audit --no-fund --loglevel=error &&
    cp package-lock.json node_modules/.tessera-lock.json)
fi

for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    echo "installing the Rust $component component" >&2
    rustup component add "$component"
  fi
done
