#!/usr/bin/env bash
# Interop check against a third-party H.323 stack: builds PTLib 2.10.9 and H323Plus 1.28 from
# their public repositories (willamowius/ptlib, willamowius/h323plus; about 20 minutes on two
# cores, so not part of the test command), builds h323plus-probe.cxx (a small H323EndPoint that
# calls one alias with G.711 and reports the channels it opened), starts `tessera serve --demo`
# with H.323 on 127.0.0.1:1720, and calls the demo meeting twice: H.245 tunnelled, then on a
# separate H.245 channel. Each call must print ESTABLISHED and a tx and an rx channel; tshark
# (when installed) records the H.225.0/H.245 flow to $WORK/h323plus.pcap.
#
# Usage: [TESSERA_BIN=...] h323/interop/h323plus.sh [WORK_DIR]   (default /tmp/tessera-h323plus; needs git, g++,
# make, flex, bison; run from the repository root as root, for port 1720)
set -euo pipefail
work=${1:-/tmp/tessera-h323plus}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$work"
cd "$work"
[ -d ptlib ] || git clone --depth 1 https://github.com/willamowius/ptlib.git
[ -d h323plus ] || git clone --depth 1 https://github.com/willamowius/h323plus.git
if [ ! -f ptlib/lib_linux_x86_64/libpt.so ]; then
  (cd ptlib && ./configure --prefix="$work/inst" --disable-plugins --disable-sdl --disable-video \
     --disable-odbc --disable-ldap --disable-sasl --disable-lua --disable-v8 && make -j2 optshared \
     && make install) > ptlib.log 2>&1
fi
export PKG_CONFIG_PATH="$work/inst/lib/pkgconfig" PTLIBDIR="$work/ptlib"
if [ ! -f h323plus/lib/libh323_linux_x86_64_.so ]; then
  (cd h323plus && ./configure --prefix="$work/inst" --disable-h46018 --disable-h46019m \
     --disable-h46023 --disable-h460 --disable-video && make -j2 optshared) > h323plus.log 2>&1
fi
inc="-I$work/ptlib/include -I$work/h323plus/include"
# The plugin codec manager is left out of a build without PTLib plugins but still referenced.
g++ -O1 -w $inc -I"$work/h323plus/plugins/include" -c h323plus/src/h323pluginmgr.cxx -o pluginmgr.o
g++ -O1 -w $inc -o h323plus-probe "$here/h323plus-probe.cxx" pluginmgr.o \
  -L"$work/h323plus/lib" -L"$work/ptlib/lib_linux_x86_64" -lh323_linux_x86_64_ -lpt
export LD_LIBRARY_PATH="$work/h323plus/lib:$work/ptlib/lib_linux_x86_64"

# TESSERA_BIN: a gateway already built (default: build this checkout's).
bin=${TESSERA_BIN:-}
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --quiet --locked -p gateway --bin tessera)
  bin="$root/target/debug/tessera"
fi
rm -f "$work"/tessera.db*
TESSERA_DB="$work/tessera.db" "$bin" serve --demo \
  --sip-listen 127.0.0.1:45060 --http-listen 127.0.0.1:45080 --h323-listen 127.0.0.1:1720 \
  --rtp-ports 46000-46999 > gateway.log 2>&1 &
gateway=$!
trap 'kill $gateway 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do curl -fsS http://127.0.0.1:45080/healthz >/dev/null 2>&1 && break; sleep 1; done
if command -v tshark >/dev/null; then
  timeout 40 tshark -q -i lo -f "tcp port 1720" -w "$work/h323plus.pcap" >/dev/null 2>&1 &
  sleep 2
fi
status=0
for mode in "" notunnel; do
  echo "== H323Plus calling the demo meeting ${mode:-(H.245 tunnelled)}"
  out=$(./h323plus-probe "12345678.1177958860@127.0.0.1:1720" 6 $mode 2>&1 || true)
  echo "$out"
  grep -q ESTABLISHED <<<"$out" && grep -q "CHANNEL tx" <<<"$out" && grep -q "CHANNEL rx" <<<"$out" \
    || { echo "not established with both channels" >&2; status=1; }
done
exit $status
