// Drive Debian's chromium with playwright-core: open URL as a person would, let the page settle (following any
// reload it asks for), then fetch() API_URL from it. Prints the main-frame statuses in order, the cookie names the
// browser holds, the final title, and the fetch's status, as JSON on stdout.
//
// Usage: node playwright_visit.cjs URL API_URL [--user-agent=UA] [--arg=CHROMIUM_FLAG ...]
// Environment: PLAYWRIGHT_DIR (where `npm install playwright-core` ran; default /tmp/botwall-playwright),
// CHROMIUM (default /usr/bin/chromium).
"use strict";
const path = require("path");

async function main() {
  const [url, apiUrl, ...rest] = process.argv.slice(2);
  if (!url || !apiUrl) {
    console.error("usage: node playwright_visit.cjs URL API_URL [--user-agent=UA] [--arg=FLAG ...]");
    process.exit(2);
  }
  const dir = process.env.PLAYWRIGHT_DIR || "/tmp/botwall-playwright";
  const { chromium } = require(path.join(dir, "node_modules", "playwright-core"));
  const args = rest.filter((a) => a.startsWith("--arg=")).map((a) => a.slice("--arg=".length));
  const ua = rest.filter((a) => a.startsWith("--user-agent=")).map((a) => a.slice("--user-agent=".length))[0];
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args });
  try {
    const context = await browser.newContext(ua ? { userAgent: ua } : {});
    const page = await context.newPage();
    const statuses = [];
    page.on("response", (r) => {
      if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) statuses.push(r.status());
    });
    await page.goto(url, { waitUntil: "load" });
    // A page that reloads itself (botwall's challenge) is replaced within a moment; wait for a page that stays.
    const deadline = Date.now() + 10000;
    let last = statuses.length;
    while (Date.now() < deadline) {
      await page.waitForTimeout(500);
      if (statuses.length === last) break;
      last = statuses.length;
    }
    await page.waitForLoadState("load");
    const title = await page.title();
    const api = await page.evaluate(async (u) => (await fetch(u)).status, apiUrl);
    const cookies = (await context.cookies()).map((c) => c.name).sort();
    process.stdout.write(JSON.stringify({ statuses, cookies, title, api }) + "\n");
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
