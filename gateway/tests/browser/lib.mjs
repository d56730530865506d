// Shared by the browser scenarios gateway/tests/browser.rs runs: Debian's Chromium, headless,
// with a fake camera and microphone and a fresh profile, driven by playwright-core.
//
// Each scenario reads TESSERA_URL (the server under test) and SHOTS (where screenshots go), does
// what a person would do, and prints ONE line of JSON with what it saw; the Rust test asserts on
// it. A scenario that cannot do a step throws, which exits non-zero with the message.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const BASE = process.env.TESSERA_URL || "http://127.0.0.1:8080";
export const SHOTS = process.env.SHOTS || tmpdir();
export const PATIENCE_MS = Number(process.env.PATIENCE_MS || 30000);

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  // Headless pages are "hidden"; without these, timers and video decode are throttled.
  "--disable-background-timer-throttling",
  "--disable-renderer-backgrounding",
  "--autoplay-policy=no-user-gesture-required",
];

// One browser with its own fresh profile (a person on their own computer).
export async function browser({ width = 1280, height = 720 } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "tessera-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    viewport: { width, height },
    permissions: ["camera", "microphone"],
  });
  context.setDefaultTimeout(PATIENCE_MS);
  const page = context.pages()[0] || (await context.newPage());
  const logs = [];
  page.on("console", (m) => logs.push(m.type() + ": " + m.text()));
  page.on("pageerror", (e) => logs.push("pageerror: " + e.message));
  return {
    page,
    logs,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// The ids of the elements focused by pressing Tab `count` times from where focus is.
export async function tabOrder(page, count) {
  const order = [];
  for (let i = 0; i < count; i++) {
    await page.keyboard.press("Tab");
    order.push(await page.evaluate(() => document.activeElement && document.activeElement.id));
  }
  return order;
}

// Whether the page fits its viewport's width (no sideways scrolling) and every visible button is
// inside it.
export async function fitsWidth(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const overflow = document.documentElement.scrollWidth - width;
    const outside = [...document.querySelectorAll("button, input, select")]
      .filter((el) => el.offsetParent !== null)
      .filter((el) => {
        const r = el.getBoundingClientRect();
        return r.left < 0 || r.right > width + 0.5;
      })
      .map((el) => el.id || el.textContent);
    return { width, overflow, outside };
  });
}

export function report(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
}

export async function run(scenario) {
  try {
    await scenario();
  } catch (e) {
    process.stderr.write((e && e.stack) || String(e));
    process.exit(1);
  }
}
