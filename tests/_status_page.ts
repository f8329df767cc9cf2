/**
 * Drives the admin status page in Debian's Chromium (playwright-core, no browser download),
 * always under Node whatever runtime serves: `node tests/_status_page.ts ADMIN_URL APP_URL
 * SCREENSHOT`. It checks, without reloading the page, one row per worker, the request count
 * rising after load, and a crashed worker's row coming back with a new pid; it exits 1 with
 * the reason on the first check that fails, and saves a screenshot either way.
 */
import { chromium } from "playwright-core";

const [adminUrl, appUrl, screenshot] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
});
const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });

/** Worker id → pid and requests, as the page shows them now (process rows only). */
async function rows(): Promise<Map<string, { pid: string; requests: number }>> {
  const cells = await page.$$eval("#rows tr", (trs) =>
    trs.map((tr) => ({
      worker: tr.getAttribute("data-worker") ?? "",
      kind: tr.getAttribute("data-kind") ?? "",
      pid: tr.querySelector(".pid")?.textContent ?? "",
      requests: Number((tr.querySelector(".requests")?.textContent ?? "0").replaceAll(",", "")),
    })));
  return new Map(cells.filter((c) => c.kind === "process").map((c) => [c.worker, c]));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`the page never showed ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let failure: unknown;
try {
  await page.goto(adminUrl);
  const first = await until("two worker rows", async () => {
    const now = await rows();
    return now.size === 2 && [...now.values()].every((row) => /^\d+$/.test(row.pid)) ? now : undefined;
  });
  const before = [...first.values()].reduce((sum, row) => sum + row.requests, 0);
  for (let i = 0; i < 40; i++) await (await fetch(`${appUrl}token`)).text();
  await until("the request count rise by 40", async () => {
    const total = [...(await rows()).values()].reduce((sum, row) => sum + row.requests, 0);
    return total >= before + 40 ? total : undefined;
  });
  const crashed = await (await fetch(`${appUrl}crash`)).text();
  if (crashed !== "crashing") throw new Error(`/crash answered ${crashed}`);
  const oldPids = new Set([...first.values()].map((row) => row.pid));
  await until("a replaced worker's new pid", async () => {
    const now = await rows();
    const fresh = [...now.values()].filter((row) => !oldPids.has(row.pid));
    return now.size === 2 && fresh.length === 1 ? fresh : undefined;
  });
  await page.waitForTimeout(1_200); // one more refresh, so the screenshot shows a sparkline
} catch (error) {
  failure = error;
}
await page.screenshot({ path: screenshot, fullPage: true });
await browser.close();
if (failure !== undefined) {
  console.error(String(failure));
  process.exit(1);
}
console.log("status page: rows, live counts and the replaced worker's pid all shown");
