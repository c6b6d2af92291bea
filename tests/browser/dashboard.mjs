// End-to-end check of the dashboard in a real headless Chromium, driven by playwright-core.
// Usage: node tests/browser/dashboard.mjs BASE_URL PROMPT SCREENSHOT.png
// Opens the prompt list, follows PROMPT, checks that the trend charts drew, opens a run from
// the runs page, rates it through the form, and saves a screenshot of the prompt's page.
// Prints one JSON line of what it saw; exits 1 on the first check that fails.
import { chromium } from "playwright-core";

const [base, prompt, shot] = process.argv.slice(2);
const fail = (msg) => {
  console.error(`dashboard check failed: ${msg}`);
  process.exit(1);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const seen = { errors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // A violation of the Content-Security-Policy or a failed asset shows here.
  page.on("console", (m) => { if (m.type() === "error") seen.errors.push(m.text()); });
  page.on("requestfailed", (r) => seen.errors.push(`failed: ${r.url()}`));

  await page.goto(`${base}/`);
  seen.title = await page.title();
  const link = page.locator(`#prompts a[href="/prompts/${prompt}"]`);
  if ((await link.count()) !== 1) fail(`no link to ${prompt} on the prompt list`);
  seen.sparklines = await page.locator("#prompts svg.spark").count();
  await link.click();
  await page.waitForURL(`**/prompts/${prompt}`);
  seen.versions = await page.locator("#versions tbody tr").count();

  // The charts drew: each is an SVG of its size with at least one line that has points.
  const charts = await page.locator("#charts svg.chart").evaluateAll((svgs) =>
    svgs.map((s) => {
      const box = s.getBoundingClientRect();
      const lines = [...s.querySelectorAll("path[data-series]")]
        .map((p) => p.getTotalLength())
        .filter((len) => len > 0).length;
      return { label: s.getAttribute("aria-label"), width: box.width, height: box.height, lines };
    }));
  seen.charts = charts;
  if (charts.length < 4) fail(`expected the trend charts, found ${charts.length}`);
  if (!charts.some((c) => c.label === "Time" && c.lines >= 1 && c.width > 300))
    fail(`the time chart drew no line: ${JSON.stringify(charts)}`);
  // Stylesheet applied (from /assets/style.css, the only asset).
  seen.styled = await page.locator("header").evaluate((h) => getComputedStyle(h).display === "flex");
  if (!seen.styled) fail("the stylesheet did not apply");
  await page.screenshot({ path: shot, fullPage: true });

  // Rate the newest run of the prompt through the form.
  await page.goto(`${base}/runs?prompt=${prompt}`);
  const first = page.locator("#runs tbody tr a").first();
  const runUrl = await first.getAttribute("href");
  await first.click();
  await page.waitForURL(`**${runUrl}`);
  await page.fill("#rate-form input[name=quality]", "9");
  await page.fill("#rate-form input[name=feedback]", "rated in the browser");
  await Promise.all([page.waitForURL(/rated=9/), page.click("#rate-form button[type=submit]")]);
  seen.rated = (await page.locator("#rated").textContent())?.trim();
  seen.run = runUrl.split("/").pop();
  const quality = await page.locator("#run tr", { hasText: "quality_score" }).locator("td").textContent();
  seen.quality = quality?.trim();
  if (seen.quality !== "9") fail(`the run page shows quality ${seen.quality} after rating 9`);
  if (seen.errors.length) fail(`console or request errors: ${seen.errors.join("; ")}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
