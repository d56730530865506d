// Two browsers and a VTC in the demo meeting. Ann and Ben join with same-org grants (GRANT_A,
// GRANT_B); at step "browsers-in" the test calls in the VTC (VTC_NAME); each page must then show
// the other browser and the VTC as tiles whose videos play and whose decoded frame counters grow
// (getStats, per receive slot). Reported: every tile, the sender's simulcast layers, fit at 390
// wide. At "measured" the test takes the VTC's audio with both browsers talking; then both
// browsers mute (M key) and at "muted" it takes the audio again (the beep must be gone).
// Then both leave. Screenshots: meeting-ann.png, meeting-ben-390.png.
import { join } from "node:path";
import { SHOTS, PATIENCE_MS, browser, fitsWidth, joinAs, report, run, step, waitForView } from "./lib.mjs";

const TENANT = process.env.TENANT || "12345678";
const MEETING = process.env.MEETING || "1177958860";
const VTC_NAME = process.env.VTC_NAME;
const GROWTH_WINDOW_MS = 8000;

// What the page shows in each receive slot, with that slot's inbound video stats; and the
// sender's outbound layers.
function observe(page) {
  return page.evaluate(async () => {
    const t = window.tessera;
    const stats = await t.pc.getStats();
    const inbound = {};
    const layers = [];
    stats.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        inbound[s.mid] = { framesDecoded: s.framesDecoded || 0, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0 };
      }
      if (s.type === "outbound-rtp" && s.kind === "video") {
        layers.push({ rid: s.rid, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0,
          framesEncoded: s.framesEncoded || 0, bytesSent: s.bytesSent || 0, scalabilityMode: s.scalabilityMode || null });
      }
    });
    const tiles = [...t.slots].map(([mid, slot]) => {
      const id = slot.participant;
      const p = id ? t.roster.get(id) || t.roster.get("p" + id) : null;
      return Object.assign({
        mid,
        participant: slot.participant,
        name: p ? p.name : null,
        kind: p ? p.kind : null,
        shown: !slot.el.hidden,
        muted: slot.el.dataset.muted === "true",
        playing: !slot.video.paused && slot.video.readyState >= 2,
        videoWidth: slot.video.videoWidth,
        speaking: slot.el.dataset.speaking === "true",
      }, inbound[mid] || { framesDecoded: 0 });
    });
    layers.sort((a, b) => (a.rid || "").localeCompare(b.rid || ""));
    return { tiles, layers };
  });
}

// Waits until the page's own camera is being encoded: outbound-rtp framesEncoded grows between
// two looks. Under load Chromium may take many seconds to start its encoders; every later check
// (the other page's tile of this one, the VTC's layout) depends on it, so it is waited for here,
// by condition, with a generous bound.
async function waitForPublishing(page) {
  const deadline = Date.now() + PATIENCE_MS * 4;
  const encoded = async () => (await observe(page)).layers.reduce((n, l) => n + l.framesEncoded, 0);
  let first = await encoded();
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await encoded();
    if (now > first && first > 0) return now;
    if (Date.now() > deadline) {
      const why = await page.evaluate(async () => {
        const out = [];
        (await window.tessera.pc.getStats()).forEach((s) => {
          if (s.type === "media-source" && s.kind === "video") {
            out.push({ type: s.type, frames: s.frames, framesPerSecond: s.framesPerSecond, width: s.width });
          }
          if (s.type === "codec") out.push({ type: s.type, mimeType: s.mimeType, payloadType: s.payloadType });
          if ((s.type === "outbound-rtp" && s.kind === "video") || (s.type === "candidate-pair" && s.nominated)) {
            out.push({ type: s.type, rid: s.rid, active: s.active, qualityLimitationReason: s.qualityLimitationReason,
              targetBitrate: s.targetBitrate, availableOutgoingBitrate: s.availableOutgoingBitrate, bytesSent: s.bytesSent,
              frameWidth: s.frameWidth, state: s.state });
          }
        });
        const senders = window.tessera.pc.getSenders().map((x) => x.track && { kind: x.track.kind, readyState: x.track.readyState, muted: x.track.muted, enabled: x.track.enabled });
        return { out, senders };
      });
      throw new Error("the page never encoded its camera: framesEncoded " + first + " -> " + now + ": " + JSON.stringify(why));
    }
    if (first === 0) first = now;
  }
}

// Polls until the page shows a playing, decoding tile for each of `names` (by name or, for the
// VTC, by kind).
async function waitForTiles(page, wanted) {
  const deadline = Date.now() + PATIENCE_MS * 2;
  let last = null;
  for (;;) {
    last = await observe(page);
    const ok = wanted.every((w) => last.tiles.some((t) => t.shown && t.name === w && t.playing && t.framesDecoded > 0));
    if (ok) return last;
    if (Date.now() > deadline) {
      throw new Error("tiles never showed " + JSON.stringify(wanted) + ": " + JSON.stringify(last));
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function growth(before, after, names) {
  return names.map((name) => {
    const b = before.tiles.find((t) => t.name === name);
    const a = after.tiles.find((t) => t.name === name && t.mid === (b && b.mid));
    return { name, mid: b && b.mid, kind: a && a.kind, before: b ? b.framesDecoded : 0, after: a ? a.framesDecoded : 0,
      videoWidth: a ? a.videoWidth : 0 };
  });
}

run(async () => {
  const ann = await browser();
  const ben = await browser();
  await joinAs(ann.page, `${TENANT}/${MEETING}?grant=${process.env.GRANT_A}`, "Browser Ann");
  await joinAs(ben.page, `${TENANT}/${MEETING}?grant=${process.env.GRANT_B}`, "Browser Ben");
  await Promise.all([waitForView(ann.page, "meeting"), waitForView(ben.page, "meeting")]);
  await Promise.all([waitForPublishing(ann.page), waitForPublishing(ben.page)]);
  await step("browsers-in");

  const wantAnn = ["Browser Ben", VTC_NAME];
  const wantBen = ["Browser Ann", VTC_NAME];
  const [a0, b0] = await Promise.all([waitForTiles(ann.page, wantAnn), waitForTiles(ben.page, wantBen)]);
  await new Promise((r) => setTimeout(r, GROWTH_WINDOW_MS));
  const [a1, b1] = await Promise.all([observe(ann.page), observe(ben.page)]);
  await ann.page.screenshot({ path: join(SHOTS, "meeting-ann.png") });
  await ben.page.setViewportSize({ width: 390, height: 844 });
  await new Promise((r) => setTimeout(r, 500));
  const benNarrow = await fitsWidth(ben.page);
  await ben.page.screenshot({ path: join(SHOTS, "meeting-ben-390.png") });
  const seen = {
    ann: { tiles: a1.tiles, layers: a1.layers, growth: growth(a0, a1, wantAnn) },
    ben: { tiles: b1.tiles, layers: b1.layers, growth: growth(b0, b1, wantBen) },
    benNarrow,
  };
  await step("measured", seen);

  // Both stop talking (the test checks the VTC no longer hears their beep; the roster's muted
  // state on the other page is not checked here).
  await ann.page.keyboard.press("m");
  await ben.page.keyboard.press("m");
  const annPressed = await ann.page.getAttribute("#mute", "aria-pressed");
  const benPressed = await ben.page.getAttribute("#mute", "aria-pressed");
  await step("muted", { annPressed, benPressed });

  await ann.page.click("#leave");
  await ben.page.click("#leave");
  await Promise.all([waitForView(ann.page, "ended"), waitForView(ben.page, "ended")]);
  report({ left: true, logs: [...ann.logs, ...ben.logs].filter((l) => l.startsWith("pageerror")) });
  await Promise.all([ann.close(), ben.close()]);
});
