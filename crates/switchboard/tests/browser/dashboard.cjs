// End-to-end test of the dashboard in headless Chromium, driven by playwright-core.
//
// Starts `switchboard demo` (few agents, fast, a fresh store, a free port), opens the
// printed URL, waits for the seat map, checks that tiles change state live (pushed by
// the feed, no reload), opens one contact's timeline, and saves screenshots.
//
// Run by crates/switchboard/tests/dashboard_browser.rs (cargo test), which passes:
//   SWITCHBOARD_BIN   the switchboard binary
//   PLAYWRIGHT_CORE   path of the playwright-core package (.tools/node_modules/...)
//   CHROMIUM          the browser (default /usr/bin/chromium)
//   SCREENSHOT_DIR    where to write dashboard.png and contact.png
// and, to take the picture for the README (a busier, longer run), optionally
//   DEMO_AGENTS, DEMO_SPEED, DEMO_START   demo options (24, 30, 2026-01-05T09:30:00Z)
//   SETTLE_SECONDS    how long to let it run before the screenshot (3)
// Exit status 0 means every check passed; failures print what was expected.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const bin = process.env.SWITCHBOARD_BIN;
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = process.env.SCREENSHOT_DIR || path.join(os.tmpdir(), 'switchboard-screenshots');
const { chromium } = require(process.env.PLAYWRIGHT_CORE || 'playwright-core');

// Generous bounds for a loaded 2-core CI machine; a healthy run takes seconds.
const STEP_TIMEOUT = 90_000;

function fail(msg) {
  throw new Error(msg);
}

/** Starts the demo and resolves with its URL once it prints it. */
function startDemo(storeDir) {
  const args = [
    'demo', '--port', '0', '--agents', process.env.DEMO_AGENTS || '24',
    '--speed', process.env.DEMO_SPEED || '30', '--seed', '7',
    '--start', process.env.DEMO_START || '2026-01-05T09:30:00Z', '--for', '30m',
    '--store', `sqlite:${path.join(storeDir, 'demo.db')}`,
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo printed no URL in time:\n${out}\n${err}`)), STEP_TIMEOUT);
    // The URL goes to stderr; stdout has one summary line per second.
    child.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/dashboard: (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => reject(new Error(`demo exited early (${code}):\n${out}\n${err}`)));
  });
  return { child, url, logs: () => `${out}\n${err}` };
}

async function main() {
  if (!bin) fail('SWITCHBOARD_BIN is not set');
  if (!fs.existsSync(chromiumPath)) fail(`Chromium not found at ${chromiumPath}: apt-get install chromium (scripts/test.sh does)`);
  fs.mkdirSync(shots, { recursive: true });
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-browser-'));
  const demo = startDemo(storeDir);
  let browser;
  let failed = false;
  try {
    const url = await demo.url;
    if (!/^http:\/\/127\.0\.0\.1:\d+\/$/.test(url)) fail(`the demo should listen on 127.0.0.1, printed ${url}`);
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1680, height: 1050 }, deviceScaleFactor: 1 });
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });

    await page.goto(url, { waitUntil: 'domcontentloaded' });

    // 1. The seat map fills from the snapshot.
    await page.waitForSelector('body[data-ready="1"]', { timeout: STEP_TIMEOUT });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=tile]').length >= 10, null, { timeout: STEP_TIMEOUT });
    const tiles = await page.locator('[data-testid=tile]').count();
    const conn = await page.locator('[data-testid=connection]').textContent();
    if (conn.trim() !== 'Live') fail(`connection pill says ${JSON.stringify(conn)}, expected Live`);
    console.log(`seat map: ${tiles} tiles, feed ${conn.trim()}`);

    // 2. Tiles change state live: remember every tile's state, wait for several to move.
    await page.evaluate(() => {
      window.__before = {};
      for (const t of document.querySelectorAll('[data-testid=tile]')) window.__before[t.dataset.arn] = t.dataset.state;
    });
    await page.waitForFunction(() => {
      let moved = 0;
      for (const t of document.querySelectorAll('[data-testid=tile]')) {
        const before = window.__before[t.dataset.arn];
        if (before !== undefined && before !== t.dataset.state) moved++;
      }
      return moved >= 3;
    }, null, { timeout: STEP_TIMEOUT, polling: 200 });
    const moved = await page.evaluate(() => [...document.querySelectorAll('[data-testid=tile]')]
      .filter((t) => window.__before[t.dataset.arn] !== undefined && window.__before[t.dataset.arn] !== t.dataset.state)
      .map((t) => `${t.querySelector('.tile-name').textContent}: ${window.__before[t.dataset.arn]} -> ${t.dataset.state}`));
    console.log(`tiles changed state live:\n  ${moved.join('\n  ')}`);

    // Queue tiles and the history charts are there too.
    await page.waitForFunction(() => document.querySelectorAll('#queues .queue').length >= 2, null, { timeout: STEP_TIMEOUT });
    await page.waitForSelector('#chart-handled .uplot', { timeout: STEP_TIMEOUT });
    // Let the clock tick and a few more updates land, for a representative picture.
    await page.waitForTimeout(1000 * Number(process.env.SETTLE_SECONDS || 3));
    const dashboardShot = path.join(shots, 'dashboard.png');
    await page.screenshot({ path: dashboardShot, fullPage: true });
    console.log(`screenshot: ${dashboardShot}`);

    // 3. One contact's timeline: a contact chip on a tile (an agent on a contact now).
    const chip = page.locator('[data-testid=tile] .chip').first();
    await chip.waitFor({ timeout: STEP_TIMEOUT });
    const contactId = await chip.getAttribute('data-contact');
    await chip.click();
    await page.waitForSelector('[data-testid=drawer]:not([hidden])', { timeout: STEP_TIMEOUT });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=timeline] li').length >= 2, null, { timeout: STEP_TIMEOUT });
    const title = (await page.locator('#d-title').textContent()).trim();
    if (title !== contactId) fail(`drawer shows ${title}, expected ${contactId}`);
    const steps = await page.locator('[data-testid=timeline] li .t-event').allTextContents();
    console.log(`contact ${contactId}: ${steps.join(' → ')}`);
    const contactShot = path.join(shots, 'contact.png');
    await page.screenshot({ path: contactShot, fullPage: false });
    console.log(`screenshot: ${contactShot}`);

    if (problems.length) fail(`the page reported errors:\n${problems.join('\n')}`);
  } catch (e) {
    failed = true;
    e.message += `\n--- demo output ---\n${demo.logs()}`;
    throw e;
  } finally {
    if (browser) await browser.close();
    // SIGINT: the demo stops the server gracefully and commits; it must exit 0.
    const child = demo.child;
    const exited = child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
      : new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    child.kill('SIGINT');
    const { code, signal } = await exited;
    fs.rmSync(storeDir, { recursive: true, force: true });
    if (code !== 0 && !failed) fail(`demo exited with ${code ?? signal} after SIGINT:\n${demo.logs()}`);
  }
}

main().then(() => { console.log('dashboard browser test passed'); }, (e) => {
  console.error(`dashboard browser test FAILED: ${e.stack || e}`);
  process.exit(1);
});
