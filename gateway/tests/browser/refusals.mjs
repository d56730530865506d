// Every refusal the gateway gives a joining browser is shown as a sentence for a person, with
// the reason kept in data-reason: unknown meeting, unknown organisation, a forged and an expired
// grant. CASES is JSON: [{"label", "path"}]. Screenshot: refusal-<label>.png.
import { join } from "node:path";
import { SHOTS, browser, joinAs, noticeOf, report, run } from "./lib.mjs";

const CASES = JSON.parse(process.env.CASES || "[]");

run(async () => {
  const b = await browser();
  const results = {};
  for (const c of CASES) {
    await joinAs(b.page, c.path, "Refused Rita");
    await b.page.waitForFunction(() => {
      const n = document.getElementById("notice");
      return !n.hidden && n.dataset.reason && !document.getElementById("join").disabled;
    });
    results[c.label] = Object.assign(await noticeOf(b.page), {
      view: await b.page.evaluate(() => document.body.dataset.view),
    });
    await b.page.screenshot({ path: join(SHOTS, `refusal-${c.label}.png`) });
  }
  report({ results, logs: b.logs });
  await b.close();
});
