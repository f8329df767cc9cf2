/**
 * Drives the admin status page in Debian's Chromium (playwright-core, no browser download),
 * always under Node whatever runtime serves: `node tests/_status_page.ts ADMIN_URL APP_URL
 * SCREENSHOT [threads]`. It checks, without reloading the page, at 1200 px: one row per
 * worker, the request count rising after load, the cards in one row, each sparkline across
 * its cell, memory labelled RSS or heap; then at 390 px, at most three cards to a row. Of
 * processes 2 (the default) a crashed worker's row comes back with a new pid; of processes
 * × threads (`threads`), each process's threads come right under it and its row shows their
 * sums. It exits 1 with the reason on the first check that fails, and saves a screenshot of
 * each width either way (SCREENSHOT, and SCREENSHOT with -390 before .png).
 */
import { chromium } from "playwright-core";

const [adminUrl, appUrl, screenshot, shape = "processes"] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });

interface Row {
  worker: string;
  kind: string;
  pid: string;
  requests: number;
  memory: string;
  /** The width the sparkline's line covers, in pixels. */
  spark: number;
}

/** Every row as the page shows it now, in its order. */
function allRows(): Promise<Row[]> {
  return page.$$eval("#rows tr", (trs) =>
    trs.map((tr) => ({
      worker: tr.getAttribute("data-worker") ?? "",
      kind: tr.getAttribute("data-kind") ?? "",
      pid: tr.querySelector(".pid")?.textContent ?? "",
      requests: Number((tr.querySelector(".requests")?.textContent ?? "0").replaceAll(",", "")),
      memory: tr.querySelector(".memory")?.textContent ?? "",
      spark: (tr.querySelector(".spark polyline") as SVGGraphicsElement | null)?.getBBox().width ?? 0,
    })));
}

/** Worker id → its row, of the process rows. */
async function rows(): Promise<Map<string, Row>> {
  return new Map((await allRows()).filter((c) => c.kind === "process").map((c) => [c.worker, c]));
}

/** How many cards the widest row of cards holds, and how many rows they take. */
function cardRows(): Promise<{ widest: number; rows: number }> {
  return page.$$eval(".card", (cards) => {
    const tops = new Map<number, number>();
    for (const card of cards) {
      const top = Math.round(card.getBoundingClientRect().top);
      tops.set(top, (tops.get(top) ?? 0) + 1);
    }
    return { widest: Math.max(...tops.values()), rows: tops.size };
  });
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(what);
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
  const first = await until("two process rows", async () => {
    const now = await rows();
    return now.size === 2 && [...now.values()].every((row) => /^\d+$/.test(row.pid)) ? now : undefined;
  });
  const before = [...first.values()].reduce((sum, row) => sum + row.requests, 0);
  for (let i = 0; i < 40; i++) await (await fetch(`${appUrl}token`)).text();
  await until("the request count rise by 40", async () => {
    const total = [...(await rows()).values()].reduce((sum, row) => sum + row.requests, 0);
    return total >= before + 40 ? total : undefined;
  });
  // The laptop's width: the cards in one row, each line across its cell, memory labelled.
  await until("every sparkline across its cell", async () => {
    const now = await allRows();
    return now.every((row) => row.spark >= 100) ? now : undefined;
  });
  for (const row of await allRows()) {
    check(
      row.memory === "–" || row.memory.endsWith(row.kind === "thread" ? "heap" : "RSS"),
      `memory of ${row.worker}: ${row.memory}`,
    );
  }
  const wide = await cardRows();
  check(wide.rows === 1, `the cards take ${wide.rows} rows at 1200 px`);
  if (shape === "threads") {
    // Each process, then its threads; the process's row shows their sums.
    const order = (await allRows()).map((row) => row.worker);
    check(
      JSON.stringify(order) === JSON.stringify(["1", "1.1", "1.2", "2", "2.1", "2.2"]),
      `rows in the order ${order}`,
    );
    await until("each process row equal to its threads' sum", async () => {
      const all = await allRows();
      const ok = ["1", "2"].every((id) =>
        all.find((row) => row.worker === id)!.requests ===
          all.filter((row) => row.worker.startsWith(`${id}.`)).reduce((total, row) => total + row.requests, 0)
      );
      return ok && all.some((row) => row.kind === "process" && row.requests > 0) ? all : undefined;
    });
  } else {
    const crashed = await (await fetch(`${appUrl}crash`)).text();
    if (crashed !== "crashing") throw new Error(`/crash answered ${crashed}`);
    const oldPids = new Set([...first.values()].map((row) => row.pid));
    await until("a replaced worker's new pid", async () => {
      const now = await rows();
      const fresh = [...now.values()].filter((row) => !oldPids.has(row.pid));
      return now.size === 2 && fresh.length === 1 ? fresh : undefined;
    });
    await page.waitForTimeout(1_200); // one more refresh, so the screenshot shows a sparkline
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  // A phone's width: three cards to a row at most, none cut.
  await page.setViewportSize({ width: 390, height: 800 });
  // The resize reaches the page's layout asynchronously: poll, bounded, for the reflow.
  let narrow = await cardRows();
  await until("at most three cards to a row at 390 px", async () => {
    narrow = await cardRows();
    return narrow.widest <= 3 ? narrow : undefined;
  }, 5_000).catch(() => check(false, `${narrow.widest} cards to a row at 390 px`));
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-390.png"), fullPage: true });
} catch (error) {
  failure = error;
}
if (failure !== undefined) await page.screenshot({ path: screenshot, fullPage: true });
await browser.close();
if (failure !== undefined) {
  console.error(String(failure));
  process.exit(1);
}
console.log("status page: rows, live counts and the replaced worker's pid all shown");
