// The web dashboard in a real browser: headless Chromium (Debian's chromium, driven by
// playwright-core from web/node_modules) loads the page that `kagura dashboard --web` serves on
// a store seeded by seed_store, and checks that the figures shown are the seed's, that the
// agent filter narrows the list, that a trace opens with its events and children, that the
// agent named <script>alert(1)</script> shows as text and runs nothing, and that the page
// follows new executions live. It saves a screenshot (1280x800).
//
// Run by CTest (dashboard_browser_test) with KAGURA_BIN and KAGURA_SEED_STORE set; the
// screenshot goes to $KAGURA_DASHBOARD_SCREENSHOT, else $KAGURA_DASHBOARD_SCREENSHOT_DEFAULT.

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const CHROMIUM = process.env.KAGURA_CHROMIUM || '/usr/bin/chromium';
const HOSTILE = '<script>alert(1)</script>';

function fail(message) {
  console.error('dashboard_browser_test: ' + message);
  process.exit(1);
}

function requireEnv(name) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set: run this test through ctest (ctest -R dashboard_browser_test)`);
  return value;
}

// The same formatting as the page and the kagura command.
const formatCount = (n) => Number(n).toLocaleString('en-US', { maximumFractionDigits: 0 });
const formatCost = (usd) =>
  usd !== 0 && Math.abs(usd) < 0.0001 ? '$' + usd.toFixed(6) : '$' + usd.toFixed(4);
const formatPercent = (fraction) => (fraction * 100).toFixed(1) + '%';

function startDashboard(kagura, db, home) {
  const child = spawn(kagura, ['dashboard', '--web', '--port', '0', '--db', db], {
    env: { ...process.env, HOME: home, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('no URL from kagura dashboard within 20 s: ' + stderr)), 20000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/Dashboard at (http:\/\/\S+\/)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    exited.then(({ code }) => reject(new Error(`kagura dashboard exited (${code}) before listening: ${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}

async function main() {
  const kagura = requireEnv('KAGURA_BIN');
  const seedStore = requireEnv('KAGURA_SEED_STORE');
  const screenshot = process.env.KAGURA_DASHBOARD_SCREENSHOT ||
                     process.env.KAGURA_DASHBOARD_SCREENSHOT_DEFAULT || join(tmpdir(), 'dashboard.png');
  if (!existsSync(CHROMIUM)) {
    fail(`${CHROMIUM} is missing: install Debian's chromium (scripts/install_deps.sh does), or ` +
         'point KAGURA_CHROMIUM at a Chromium binary');
  }
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch (e) {
    fail('playwright-core is not installed in web/node_modules: run scripts/install_deps.sh (' + e.message + ')');
  }

  const dir = mkdtempSync(join(tmpdir(), 'kagura_dashboard_browser_'));
  const db = join(dir, 'telemetry.db');
  const seed = JSON.parse(execFileSync(seedStore, [db], { encoding: 'utf8' }));
  const server = startDashboard(kagura, db, dir);
  let browser;
  try {
    const url = await server.url;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const dialogs = [];
    const pageErrors = [];
    const consoleErrors = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('response', (response) => {
      if (response.status() >= 400) consoleErrors.push(response.status() + ' ' + response.url());
    });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    const api = async (path) => {
      const response = await fetch(new URL(path, url));
      assert.equal(response.status, 200, path);
      return response.json();
    };

    // ---- the figures shown are the seed's, and the API's ----
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById('status').dataset.refreshes >= '1',
                               null, { timeout: 20000 });
    const summary = await api('/api/summary');
    const text = (selector) => page.locator(selector).textContent();
    assert.equal(summary.total_executions, seed.executions);
    assert.equal(await text('#total-executions'), formatCount(seed.executions));
    assert.equal(await text('#success-rate'),
                 formatPercent(seed.completed / (seed.completed + seed.failed)));
    assert.equal(await text('#total-cost'), formatCost(seed.cost_nanos / 1e9));
    assert.equal(await text('#total-cost'), formatCost(summary.total_cost));
    assert.match(await text('#p50-latency'), /^\d+(ms|\.\d\ds)$/);
    assert.match(await text('#p95-latency'), /^\d+(ms|\.\d\ds)$/);
    assert.equal(await text('#executions-count'),
                 `1–${Math.min(25, seed.executions)} of ${formatCount(seed.executions)}`);

    // The agents compared: one row per agent, with its runs.
    const agents = await api('/api/agents');
    const agentRows = await page.locator('#agents-table tbody tr').evaluateAll((rows) =>
      rows.map((row) => [...row.cells].map((cell) => cell.textContent)));
    assert.equal(agentRows.length, agents.agents.length);
    const researcher = agentRows.find((cells) => cells[0] === 'researcher');
    assert.ok(researcher, 'researcher is in the agents table');
    assert.equal(researcher[1], String(seed.researcher_runs));

    // The charts are drawn (Chart.js on canvases), with the store's models.
    const modelLabels = await page.evaluate(() =>
      window.Chart.getChart(document.getElementById('model-chart')).data.labels);
    const cost = await api('/api/cost?by=model');
    assert.deepEqual(modelLabels, cost.groups.map((g) => g.key));
    const seriesTotal = await page.evaluate(() =>
      window.Chart.getChart(document.getElementById('timeseries-chart')).data.datasets[0].data
        .reduce((a, b) => a + b, 0));
    assert.equal(seriesTotal, seed.executions);

    // ---- the hostile agent shows as text, and nothing ran ----
    const hostileCells = await page.locator('#agents-table td.agent').evaluateAll(
      (cells, name) => cells.filter((cell) => cell.textContent === name).length, HOSTILE);
    assert.equal(hostileCells, 1, 'the agent named <script>alert(1)</script> shows as text');
    assert.equal(await page.locator('main script, main img, main svg').count(), 0);

    // ---- the agent filter ----
    await page.fill('#filter-agent', 'researcher');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction((n) => document.getElementById('executions-count').dataset.total === n,
                               String(seed.researcher_runs));
    const listed = await page.locator('#executions-table tbody td.agent').allTextContents();
    assert.equal(listed.length, seed.researcher_runs);
    assert.ok(listed.every((name) => name === 'researcher'), listed.join(', '));
    await page.selectOption('#filter-status', 'failed');
    await page.waitForFunction(() => document.getElementById('executions-count').dataset.total === '1');
    assert.deepEqual(await page.locator('#executions-table tbody td.status').allTextContents(), ['failed']);

    // ---- a trace: events as a timeline, children as a tree ----
    await page.click('#filters-clear');
    await page.fill('#filter-agent', 'planner');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => document.getElementById('executions-count').dataset.total === '1');
    await page.click(`#executions-table tbody tr[data-id="${seed.ids.planner}"]`);
    await page.waitForFunction(() => document.querySelectorAll('#trace-events li').length > 0);
    assert.equal(await text('#trace-agent'), 'planner');
    const events = await page.locator('#trace-events li .type').allTextContents();
    assert.deepEqual(events, ['llm_call', 'tool_call', 'memory_operation']);
    const topChildren = await page.locator('#trace-children > li > a').allTextContents();
    assert.deepEqual(topChildren, ['researcher', 'coder']);
    const grandchildren = await page.locator('#trace-children > li > ul > li > a').allTextContents();
    assert.deepEqual(grandchildren, ['summarizer']);
    await page.click(`#trace-children a[data-id="${seed.ids.summarizer}"]`);
    await page.waitForFunction(() => document.getElementById('trace-agent').textContent === 'summarizer');

    // The hostile execution's trace: its error and tool name are text too.
    await page.fill('#filter-agent', HOSTILE);
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => document.getElementById('executions-count').dataset.total === '1');
    await page.click('#executions-table tbody tr');
    await page.waitForFunction((name) => document.getElementById('trace-agent').textContent === name, HOSTILE);
    assert.equal(await page.locator('#trace-error').textContent(),
                 '<b>bold</b>: <img src=x onerror=alert(2)>');
    const hostileEvents = await page.locator('#trace-events li .text').allTextContents();
    assert.ok(hostileEvents.some((t) => t.startsWith('<img src=x onerror=alert(3)>')), hostileEvents.join(' | '));
    assert.equal(await page.locator('main script, main img, main svg, main b').count(), 0);

    // ---- the screenshot: the overview, with the planner's trace below ----
    await page.click('#filters-clear');
    await page.waitForFunction((n) => document.getElementById('executions-count').dataset.total === n,
                               String(seed.executions));
    await page.click('#trace-close');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.mouse.move(0, 0);
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
    console.log('screenshot saved to ' + screenshot);

    // ---- live: a new execution shows up without a reload ----
    execFileSync(seedStore, [db, '--add', 'late-agent']);
    await page.waitForFunction(
      (n) => document.getElementById('total-executions').textContent === n,
      formatCount(seed.executions + 1), { timeout: 15000 });
    assert.equal((await page.locator('#executions-table tbody td.agent').first().textContent()), 'late-agent');

    assert.deepEqual(dialogs, [], 'no dialog opened');
    assert.deepEqual(pageErrors, [], 'no script error');
    assert.deepEqual(consoleErrors, [], 'no console error (a blocked inline script would show here)');
    await browser.close();
    browser = null;

    // ---- Ctrl-C ends the server with exit code 0 ----
    server.child.kill('SIGINT');
    const { code, signal } = await server.exited;
    assert.equal(signal, null, 'kagura dashboard ended by a signal: ' + server.stderr());
    assert.equal(code, 0, server.stderr());
    console.log('dashboard_browser_test: all checks passed');
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
