// Drive Debian's chromium with playwright-core (never a downloaded browser): one real navigation to NAV_URL, then a
// fetch() from that page to API_URL. Prints {"navigation": <echo JSON or null>, "xhr": <echo JSON>} on stdout.
//
// Usage: node playwright_echo.cjs NAV_URL API_URL [--headful] [--insecure] [--arg=CHROMIUM_FLAG ...]
// --insecure accepts a self-signed certificate (Playwright's ignoreHTTPSErrors; the request headers do not change).
// Environment: PLAYWRIGHT_DIR (where `npm install playwright-core` ran; default /tmp/botwall-playwright),
// CHROMIUM (default /usr/bin/chromium).
"use strict";
const path = require("path");

async function main() {
  const [navUrl, apiUrl, ...rest] = process.argv.slice(2);
  if (!navUrl || !apiUrl) {
    console.error("usage: node playwright_echo.cjs NAV_URL API_URL [--headful] [--insecure] [--arg=FLAG ...]");
    process.exit(2);
  }
  const dir = process.env.PLAYWRIGHT_DIR || "/tmp/botwall-playwright";
  const { chromium } = require(path.join(dir, "node_modules", "playwright-core"));
  const args = rest.filter((a) => a.startsWith("--arg=")).map((a) => a.slice("--arg=".length));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: !rest.includes("--headful"),
    args,
  });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: rest.includes("--insecure") });
    const page = await context.newPage();
    const response = await page.goto(navUrl, { waitUntil: "load" });
    let navigation = null;
    try {
      navigation = await response.json();
    } catch (e) {
      navigation = null; // the capture tool serves an HTML page here; it reads the shop's log instead
    }
    const xhr = await page.evaluate(async (url) => {
      const r = await fetch(url);
      return await r.json();
    }, apiUrl);
    process.stdout.write(JSON.stringify({ navigation, xhr }) + "\n");
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
