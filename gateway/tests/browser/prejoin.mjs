// Before joining: the page renders with a live camera preview and the device lists, is operable
// from the keyboard alone, fits 1280x720 and a 390-wide phone, and refuses a link that names no
// meeting. Screenshots: prejoin-1280.png, prejoin-390.png, bad-link.png.
import { join } from "node:path";
import { BASE, SHOTS, browser, fitsWidth, report, run, tabOrder } from "./lib.mjs";

const TENANT = process.env.TENANT || "12345678";
const CONFERENCE = process.env.CONFERENCE || "1177958860";

run(async () => {
  const b = await browser({ width: 1280, height: 720 });
  const { page } = b;
  await page.goto(`${BASE}/join/${TENANT}/${CONFERENCE}`);
  // The fake camera is playing in the preview.
  await page.waitForFunction(() => {
    const v = document.getElementById("preview");
    return v.videoWidth > 0 && !v.paused;
  });
  const seen = await page.evaluate(() => ({
    title: document.title,
    label: document.getElementById("meeting-label").textContent,
    view: document.body.dataset.view,
    focused: document.activeElement.id,
    cameras: document.getElementById("camera").options.length,
    microphones: document.getElementById("microphone").options.length,
    preview: [document.getElementById("preview").videoWidth, document.getElementById("preview").videoHeight],
    notice: document.getElementById("notice").hidden ? null : document.getElementById("notice").textContent,
  }));
  // Keyboard alone: type a name where focus starts, then Tab through the form to Join.
  await page.keyboard.type("Keyboard Kim");
  const order = await tabOrder(page, 5);
  const name = await page.inputValue("#name");
  const wide = await fitsWidth(page);
  await page.screenshot({ path: join(SHOTS, "prejoin-1280.png") });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200); // one layout pass after the resize
  const narrow = await fitsWidth(page);
  const joinVisible = await page.isVisible("#join");
  await page.screenshot({ path: join(SHOTS, "prejoin-390.png"), fullPage: true });

  // A link that names no meeting is refused before anything is sent.
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(`${BASE}/join/acme/weekly`);
  await page.waitForSelector("#notice:not([hidden])");
  const badLink = await page.evaluate(() => ({
    reason: document.getElementById("notice").dataset.reason,
    text: document.getElementById("notice").textContent,
    joinDisabled: document.getElementById("join").disabled,
  }));
  await page.screenshot({ path: join(SHOTS, "bad-link.png") });
  report({ seen, order, name, wide, narrow, joinVisible, badLink, logs: b.logs });
  await b.close();
});
