// Shared by the browser scenarios gateway/tests/browser.rs runs: Debian's Chromium, headless,
// with a fake camera and microphone and a fresh profile, driven by playwright-core.
//
// Each scenario reads TESSERA_URL (the server under test) and SHOTS (where screenshots go), does
// what a person would do, and prints ONE line of JSON with what it saw; the Rust test asserts on
// it. A scenario that cannot do a step throws, which exits non-zero with the message.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
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

// Interactive scenarios: prints `{"step": name, ...data}` and waits for the Rust test to answer
// one line on stdin (after it did its part, e.g. admitted someone through the admin API).
let stdinLines = null;
export async function step(name, data = {}) {
  report(Object.assign({ step: name }, data));
  if (!stdinLines) stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const { value, done } = await stdinLines.next();
  if (done) throw new Error("the test went away during step " + name);
  return value;
}

export async function run(scenario) {
  try {
    await scenario();
  } catch (e) {
    process.stderr.write((e && e.stack) || String(e));
    process.exit(1);
  }
  process.exit(0);
}

// Opens the join page for `path` (e.g. "12345678/1177958860?grant=..."), types `name` and joins
// with the keyboard (Enter in the name field submits the form).
export async function joinAs(page, path, name) {
  await page.goto(`${BASE}/join/${path}`);
  await page.waitForFunction(() => document.getElementById("join") && !document.getElementById("join").disabled);
  await page.fill("#name", name);
  await page.press("#name", "Enter");
}

// Waits until the page shows `view` (prejoin, waiting, meeting, ended).
export async function waitForView(page, view) {
  await page.waitForFunction((v) => document.body.dataset.view === v, view);
}

// What the page's message box says, if anything.
export async function noticeOf(page) {
  return page.evaluate(() => {
    const n = document.getElementById("notice");
    return n.hidden ? null : { reason: n.dataset.reason, text: n.textContent };
  });
}
