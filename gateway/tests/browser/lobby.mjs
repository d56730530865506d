// The lobby from a browser's side. Meeting MEETING lets only trusted classes in.
// 1. Wanda (no grant, anonymous) joins and waits; the test admits her through the admin API
//    (what the console does); her page moves into the meeting.
// 2. Dora (no grant) joins and waits; Olga joins with an organizer grant (GRANT), goes straight
//    in, sees Dora in her lobby list and denies her with the keyboard; Dora's page says why.
// Screenshots: lobby-waiting.png, lobby-admitted.png, lobby-organizer.png, lobby-denied.png.
import { join } from "node:path";
import { SHOTS, browser, joinAs, noticeOf, report, run, step, waitForView } from "./lib.mjs";

const TENANT = process.env.TENANT || "12345678";
const MEETING = process.env.MEETING;
const GRANT = process.env.GRANT;

run(async () => {
  const wanda = await browser();
  await joinAs(wanda.page, `${TENANT}/${MEETING}`, "Waiting Wanda");
  await waitForView(wanda.page, "waiting");
  const waitingText = await wanda.page.textContent("#waiting-view");
  await wanda.page.screenshot({ path: join(SHOTS, "lobby-waiting.png") });
  await step("wanda-waiting");
  await waitForView(wanda.page, "meeting");
  await wanda.page.screenshot({ path: join(SHOTS, "lobby-admitted.png") });

  const dora = await browser();
  await joinAs(dora.page, `${TENANT}/${MEETING}`, "Denied Dora");
  await waitForView(dora.page, "waiting");
  const olga = await browser();
  await joinAs(olga.page, `${TENANT}/${MEETING}?grant=${GRANT}`, "Organizer Olga");
  await waitForView(olga.page, "meeting");
  await olga.page.waitForSelector("#lobby-list li");
  const lobbyList = await olga.page.$$eval("#lobby-list li .who", (els) => els.map((e) => e.textContent));
  await olga.page.screenshot({ path: join(SHOTS, "lobby-organizer.png") });
  // Keyboard: focus Dora's Deny button and press Enter.
  await olga.page.focus('#lobby-list li button[aria-label="Deny Denied Dora"]');
  await olga.page.keyboard.press("Enter");
  await waitForView(dora.page, "ended");
  const denied = {
    title: await dora.page.textContent("#ended-title"),
    text: await dora.page.textContent("#ended-text"),
    notice: await noticeOf(dora.page),
  };
  await dora.page.screenshot({ path: join(SHOTS, "lobby-denied.png") });
  await olga.page.waitForFunction(() => document.querySelectorAll("#lobby-list li").length === 0);
  report({ waitingText, lobbyList, denied, logs: [...wanda.logs, ...dora.logs, ...olga.logs] });
  await Promise.all([wanda.close(), dora.close(), olga.close()]);
});
