#!/usr/bin/env bash
# Regenerates the entry-queue prompts embedded by rtp-session/src/prompt.rs.
#
# Not run by the build: the WAV files are committed. Run it by hand after changing a text, then
# check the files are still 8 kHz, mono, 16-bit PCM and under 100 KB each (the prompt tests do).
#
# Needs: espeak-ng (speech synthesis) and sox (resampling, trimming, normalising).
#   Debian/Ubuntu: apt-get install -y espeak-ng sox
#
# Pipeline per prompt: espeak-ng (22.05 kHz mono WAV, English voice, 165 words/min) ->
# sox: trim leading/trailing silence, normalise to -3 dBFS, resample to 8 kHz with sox's
# anti-aliasing filter, write signed 16-bit little-endian mono PCM WAV without extra chunks.
# `sox -R` makes the dither repeatable, so with the same espeak-ng and sox versions (here
# espeak-ng 1.51, sox 14.4.2, Debian 12) reruns give byte-identical files.
set -euo pipefail

cd "$(dirname "$0")"

VOICE="${VOICE:-en-us}"
SPEED="${SPEED:-165}"

gen() {
    local name="$1" text="$2"
    local tmp
    tmp="$(mktemp --suffix=.wav)"
    espeak-ng -v "$VOICE" -s "$SPEED" -w "$tmp" "$text"
    sox -R "$tmp" -t wav -e signed-integer -b 16 -c 1 -r 8000 "$name.wav" \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse \
        norm -3 pad 0.1 0.2
    rm -f "$tmp"
    echo "$name.wav: $(stat -c %s "$name.wav") bytes"
}

gen enter_conference_id "Welcome. Please enter the conference ID, followed by the pound key."
gen invalid_conference_id "That conference ID was not found. Please try again."
gen lobby "Please wait. Someone in the meeting will let you in shortly."
gen goodbye "Goodbye."
