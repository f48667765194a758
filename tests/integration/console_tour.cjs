// A person's tour of botwall's dashboard in Debian's Chromium (playwright-core): sign in with a wrong token, then the
// right one, open every screen, read what each shows, fetch the admin API with the same session, sort and filter
// Discover, drill from a campaign to its decisions, sign out. Writes a full-page screenshot of each screen to OUT_DIR
// and prints what it saw as JSON (the test compares it with the API).
//
// Usage: node console_tour.cjs BASE_URL TOKEN OUT_DIR
// Environment: PLAYWRIGHT_DIR (where `npm install playwright-core` ran), CHROMIUM (default /usr/bin/chromium).
"use strict";
const path = require("path");

const SCREENS = ["/", "/discover", "/bots", "/accounts", "/alerts"];
const NAMES = { "/": "overview", "/discover": "discover", "/bots": "bots", "/accounts": "accounts", "/alerts": "alerts" };

async function read(page, screen) {
  return page.evaluate((screen) => {
    const num = (el) => (el ? Number(el.getAttribute("data-value")) : null);
    const rows = (id) => Array.from(document.querySelectorAll(`#${id} tbody tr`));
    if (screen === "/") {
      const tiles = (id, attr) => Object.fromEntries(Array.from(document.querySelectorAll(`#${id} .tile`))
        .map((t) => [t.getAttribute(attr), num(t.querySelector("b"))]));
      return {
        total: num(document.querySelector("#total b")),
        verdicts: tiles("verdicts", "data-verdict"),
        actions: tiles("actions", "data-action"),
        charts: Array.from(document.querySelectorAll(".chart")).map((c) => ({
          by: c.getAttribute("data-by"), drawn: c.classList.contains("drawn"),
          total: Number(c.getAttribute("data-total")), canvas: !!c.querySelector("canvas"),
        })),
        reasons: rows("reasons").map((r) => [r.cells[0].textContent.trim(), num(r.cells[1])]),
        shadowBanner: !!document.getElementById("shadow-banner"),
        eventBanners: Array.from(document.querySelectorAll(".banner.event")).map((b) => b.getAttribute("data-event")),
        attribution: !!document.querySelector("footer a[href='https://db-ip.com']"),
      };
    }
    if (screen === "/discover") {
      return {
        rows: rows("endpoints").map((r) => ({
          host: r.cells[0].textContent.trim(), method: r.cells[1].textContent.trim(),
          template: r.cells[2].querySelector("code").textContent, kind: r.getAttribute("data-kind"),
          requests: num(r.cells[4]), new: r.getAttribute("data-new") === "true",
          unprotected: r.getAttribute("data-unprotected") === "true", spark: !!r.cells[5].querySelector("svg polyline"),
        })),
        openapi: document.querySelector("a[href='/api/v1/endpoints?format=openapi']") !== null,
      };
    }
    if (screen === "/bots") {
      return {
        campaigns: Array.from(document.querySelectorAll("section.campaign")).map((s) => ({
          id: s.getAttribute("data-id"), requests: num(s.querySelector(".count")),
          addresses: num(s.querySelector(".addresses")), logins: num(s.querySelector(".logins")),
          tools: Array.from(s.querySelectorAll(".tools .pairs li span")).map((e) => e.textContent),
          networks: Array.from(s.querySelectorAll(".networks .pairs:first-of-type li span")).map((e) => e.textContent),
        })),
        attribution: !!document.querySelector("footer a[href='https://db-ip.com']"),
      };
    }
    if (screen === "/accounts") {
      const names = (id) => rows(id).map((r) => r.getAttribute("data-username"));
      return { compromised: names("compromised"), underAttack: names("under-attack") };
    }
    return {
      triggers: rows("triggers").map((r) => ({ name: r.getAttribute("data-name"),
        firing: r.getAttribute("data-firing") === "true" })),
      events: rows("events").map((r) => [r.getAttribute("data-alert"), r.getAttribute("data-state")]),
      eventRows: rows("events-table").map((r) => [r.getAttribute("data-name"), r.getAttribute("data-state")]),
      eventBanners: Array.from(document.querySelectorAll(".banner.event")).map((b) => b.getAttribute("data-event")),
      audit: rows("audit").map((r) => [r.getAttribute("data-action"), r.getAttribute("data-target")]),
    };
  }, screen);
}

async function main() {
  const [base, token, outDir] = process.argv.slice(2);
  if (!base || !token || !outDir) {
    console.error("usage: node console_tour.cjs BASE_URL TOKEN OUT_DIR");
    process.exit(2);
  }
  const dir = process.env.PLAYWRIGHT_DIR || "/tmp/botwall-playwright";
  const { chromium } = require(path.join(dir, "node_modules", "playwright-core"));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  const out = { problems: [] };
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (err) => out.problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      const text = msg.text();
      // A 401 is what the wrong token and the signed-out fetch are meant to get; anything else is a problem.
      if (/status of 401/.test(text)) return;
      if (msg.type() === "error" || /Content Security Policy/i.test(text)) out.problems.push(text);
    });
    page.on("requestfailed", (r) => out.problems.push(`request failed: ${r.url()}`));

    // Not signed in: the screen sends us to the sign-in form, which refuses a wrong token.
    await page.goto(`${base}/bots`);
    out.before = new URL(page.url()).pathname + new URL(page.url()).search;
    await page.fill("#token", "not-the-admin-token-at-all");
    const wrong = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    out.wrong = { status: wrong[0] ? wrong[0].status() : null, error: await page.textContent(".error") };
    await page.fill("#token", token);
    await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    out.after = new URL(page.url()).pathname;
    out.cookies = (await context.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, secure: c.secure,
      sameSite: c.sameSite }));
    out.scriptSeesCookie = await page.evaluate(() => document.cookie.includes("botwall_session"));

    out.screens = {};
    for (const screen of SCREENS) {
      const response = await page.goto(`${base}${screen}`, { waitUntil: "load" });
      if (screen === "/") await page.waitForSelector(".chart.drawn", { timeout: 10000 }).catch(() => {});
      const seen = await read(page, screen);
      seen.status = response.status();
      seen.csp = response.headers()["content-security-policy"] || "";
      seen.title = await page.title();
      out.screens[NAMES[screen]] = seen;
      await page.screenshot({ path: path.join(outDir, `${NAMES[screen]}.png`), fullPage: true });
    }

    // The admin API answers the session too (the screens' own fetches use it).
    out.api = await page.evaluate(async () => {
      const get = async (p) => { const r = await fetch(p); return { status: r.status, body: await r.json() }; };
      return {
        traffic: await get("/api/v1/traffic?range=1h"),
        endpoints: await get("/api/v1/endpoints"),
        campaigns: await get("/api/v1/campaigns"),
        compromised: await get("/api/v1/accounts?state=compromised"),
        underAttack: await get("/api/v1/accounts?state=under_attack"),
        alerts: await get("/api/v1/alerts"),
        events: await get("/api/v1/events"),
      };
    });

    // Discover: sort by requests (descending, then ascending), filter to the API, then to endpoints no policy covers.
    await page.goto(`${base}/discover`);
    const requestsColumn = "#endpoints th:nth-child(5)";
    const column = () => page.$$eval("#endpoints tbody tr:not(.hidden) td:nth-child(5)",
      (cells) => cells.map((c) => Number(c.getAttribute("data-value"))));
    await page.click(requestsColumn);
    const descending = await column();
    await page.click(requestsColumn);
    const ascending = await column();
    await page.selectOption("select[data-filter=kind]", "api");
    const apiKinds = await page.$$eval("#endpoints tbody tr:not(.hidden)", (rs) => rs.map((r) => r.getAttribute("data-kind")));
    await page.selectOption("select[data-filter=kind]", "");
    await page.check("input[data-filter=unprotected]");
    const unprotected = await page.$$eval("#endpoints tbody tr:not(.hidden)",
      (rs) => rs.map((r) => r.querySelector("code").textContent));
    out.discover = { descending, ascending, apiKinds, unprotected };

    // Bots: from the largest campaign to its recent decisions.
    await page.goto(`${base}/bots`);
    const link = await page.$("section.campaign a[href^='/decisions?fingerprint=']");
    if (link) {
      await Promise.all([page.waitForNavigation(), link.click()]);
      out.drill = {
        url: new URL(page.url()).search,
        fingerprints: await page.$$eval("#decisions tbody tr", (rs) => rs.map((r) => r.cells[2].textContent)),
      };
      await page.screenshot({ path: path.join(outDir, "decisions.png"), fullPage: true });
    }

    // Sign out: the session ends, and the screens ask for the token again.
    await Promise.all([page.waitForNavigation(), page.click(".signout button")]);
    out.signedOut = new URL(page.url()).pathname;
    await page.goto(`${base}/`);
    out.afterSignOut = new URL(page.url()).pathname;
    out.apiAfterSignOut = await page.evaluate(async () => (await fetch("/api/v1/endpoints")).status);
    await page.screenshot({ path: path.join(outDir, "login.png") });
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
