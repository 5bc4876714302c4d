// The dashboard in a real headless browser (Debian's chromium, driven by playwright-core).
//
//   node test/dashboard/browser.test.mjs URL [CANCEL_ID [SCHEDULE_ID]]
//
// URL is a running aion node's dashboard (test/dashboard/aion_dashboard_browser_tests.erl
// starts one with a few workflows and runs this script). It opens the runs page and checks
// that it shows the runs the API lists; opens a completed run and checks its events by
// type name; opens a blocked run (if any) and checks its report; opens CANCEL_ID (default: the first running run on the runs page), cancels it
// through the page's confirm step and waits for its status to change, on that page and on
// the runs page. Then the schedules page: it shows the schedules the API lists (ids as
// text, never as markup); SCHEDULE_ID (default: the first active one) is paused, unpaused,
// triggered (through the confirm step; the page links the workflow it started) and deleted
// (confirmed) from the page. It saves screenshots of the pages, dashboard-runs.png,
// dashboard-run.png and dashboard-schedules.png, in a temporary directory
// (AION_SCREENSHOT_DIR=docs refreshes the README's).
//
// Without chromium (AION_CHROMIUM, default /usr/bin/chromium) or playwright-core it prints
// why and exits 0 (skipped), or 1 when AION_BROWSER_REQUIRED=1. Exit status 0: passed.
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const [url, cancelId, scheduleId] = process.argv.slice(2);
const chromium = process.env.AION_CHROMIUM || '/usr/bin/chromium';
const required = process.env.AION_BROWSER_REQUIRED === '1';
// Into a temporary directory unless AION_SCREENSHOT_DIR says where (the README's images
// are refreshed with AION_SCREENSHOT_DIR=docs), so a test run leaves the tree clean.
const shots = resolve(process.env.AION_SCREENSHOT_DIR || join(tmpdir(), 'aion-dashboard-shots'));

function skip(why) {
  if (required) {
    console.error(`FAIL: ${why} (AION_BROWSER_REQUIRED=1)`);
    process.exit(1);
  }
  console.log(`SKIP: ${why}`);
  process.exit(0);
}

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  console.log('ok: ' + what);
}

if (!url) {
  console.error('usage: node test/dashboard/browser.test.mjs URL [CANCEL_ID [SCHEDULE_ID]]');
  process.exit(2);
}
if (!existsSync(chromium)) skip(`no chromium at ${chromium} (apt-get install chromium chromium-driver)`);
let playwright;
try {
  playwright = await import('playwright-core');
} catch (e) {
  skip(`playwright-core is not installed (npm ci): ${e.message}`);
}

const base = url.replace(/\/+$/, '');
const api = async (path) => {
  const res = await fetch(base + path);
  return res.json();
};

const browser = await playwright.chromium.launch({
  executablePath: chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  mkdirSync(shots, { recursive: true });

  // 1. The runs page shows the runs the API lists, newest first.
  const listed = await api('/api/runs');
  check(listed.runs.length >= 3, `the API lists ${listed.runs.length} runs`);
  await page.goto(base + '/');
  await page.waitForSelector('body[data-loaded="true"]');
  const rows = await page.$$eval('#runs tbody tr', (trs) => trs.map((tr) => ({
    id: tr.dataset.id, status: tr.querySelector('[data-status]').dataset.status,
  })));
  check(JSON.stringify(rows.map((r) => r.id)) === JSON.stringify(listed.runs.map((r) => r.workflow_id)),
    'the runs page shows the listed runs in order');
  check(JSON.stringify(rows.map((r) => r.status)) === JSON.stringify(listed.runs.map((r) => r.status)),
    'each with its status');
  const total = Number(await page.textContent('[data-count="all"] b'));
  check(total === Object.values(listed.counts).reduce((a, b) => a + b, 0), `the count of all runs is ${total}`);
  await page.screenshot({ path: join(shots, 'dashboard-runs.png'), fullPage: true });

  // Filtering by status through the counts.
  await page.click('[data-count="completed"]');
  await page.waitForFunction(() => location.search.includes('status=completed'));
  await page.waitForFunction(() => [...document.querySelectorAll('#runs tbody [data-status]')]
    .every((s) => s.dataset.status === 'completed'));
  const completedRows = await page.$$eval('#runs tbody tr', (trs) => trs.map((tr) => tr.dataset.id));
  check(completedRows.length >= 1, 'filtering by status completed shows only completed runs');

  // 2. A completed run: its events by type name.
  const completed = completedRows[0];
  await page.click(`#runs tbody tr[data-id="${completed}"] td.id a`);
  await page.waitForURL((u) => u.pathname === '/runs/' + encodeURIComponent(completed));
  await page.waitForSelector('body[data-loaded="true"]');
  const detail = await api('/api/runs/' + encodeURIComponent(completed));
  const types = await page.$$eval('#history li', (lis) => lis.map((li) => li.querySelector('.etype').textContent));
  check(JSON.stringify(types) === JSON.stringify(detail.history.map((e) => e.type)),
    `the run page shows its ${types.length} events by type name`);
  for (const t of ['WorkflowStarted', 'ActivityScheduled', 'ActivityCompleted', 'WorkflowCompleted']) {
    check(types.includes(t), `the timeline has ${t}`);
  }
  check(await page.getAttribute('#run-status [data-status]', 'data-status') === 'completed', 'its status is completed');
  check(await page.isHidden('#actions-card'), 'a closed run offers no actions');
  await page.screenshot({ path: join(shots, 'dashboard-run.png'), fullPage: true });

  // A blocked run shows its report.
  const blocked = listed.runs.find((r) => r.status === 'blocked');
  if (blocked) {
    await page.goto(base + '/runs/' + encodeURIComponent(blocked.workflow_id));
    await page.waitForSelector('body[data-loaded="true"]');
    check(await page.isVisible('#blocked'), `the blocked run ${blocked.workflow_id} shows its report`);
    const text = await page.textContent('#blocked');
    check(text.includes(blocked.blocked_reason.kind === 'crashed' ? blocked.blocked_reason.class : blocked.blocked_reason.recorded),
      'with what the engine reported');
  }

  // 3. Cancel a running run from its page, through the confirm step.
  let target = cancelId;
  if (!target) target = listed.runs.find((r) => r.status === 'running').workflow_id;
  await page.goto(base + '/runs/' + encodeURIComponent(target));
  await page.waitForSelector('body[data-loaded="true"]');
  check(await page.getAttribute('#run-status [data-status]', 'data-status') === 'running', `${target} is running`);
  await page.fill('#cancel-reason', 'cancelled from the browser test');
  await page.click('#cancel');
  check(await page.isVisible('#confirm'), 'cancel asks for confirmation first');
  check((await api('/api/runs/' + encodeURIComponent(target))).run.status === 'running', 'nothing happens before the confirmation');
  await page.click('#confirm-yes');
  await page.waitForSelector('#run-status [data-status="cancelled"]', { timeout: 15000 });
  check(true, 'after confirming, the page shows the status cancelled');
  check((await page.textContent('#action-result')).includes('cancelled'), 'and says so');
  check((await api('/api/runs/' + encodeURIComponent(target))).run.status === 'cancelled', 'the API agrees');
  await page.goto(base + '/');
  await page.waitForSelector('body[data-loaded="true"]');
  check(await page.getAttribute(`#runs tbody tr[data-id="${target}"] [data-status]`, 'data-status') === 'cancelled',
    'the runs page shows it cancelled');

  // 4. The schedules page, reached from the header.
  await page.click('header nav a[href="/schedules"]');
  await page.waitForURL((u) => u.pathname === '/schedules');
  await page.waitForSelector('body[data-loaded="true"]');
  const schedules = (await api('/api/schedules')).schedules;
  check(schedules.length >= 1, `the API lists ${schedules.length} schedules`);
  const srows = await page.$$eval('#schedules tbody tr', (trs) => trs.map((tr) => ({
    id: tr.dataset.id, paused: tr.dataset.paused, shown: tr.querySelector('td.id b').textContent,
  })));
  check(JSON.stringify(srows.map((r) => r.id)) === JSON.stringify(schedules.map((s) => s.id)),
    'the schedules page shows the listed schedules');
  check(srows.every((r) => r.shown === r.id), 'each id shown as its text');
  check(JSON.stringify(srows.map((r) => r.paused)) === JSON.stringify(schedules.map((s) => String(s.paused))),
    'each paused or not as the API says');
  check(await page.$$eval('#schedules tbody b b, #schedules tbody td.id > b > *', (els) => els.length) === 0,
    'no markup of an id became an element');
  await page.screenshot({ path: join(shots, 'dashboard-schedules.png'), fullPage: true });

  const sid = scheduleId || schedules.find((s) => !s.paused).id;
  const row = `#schedules tbody tr[data-id="${sid.replace(/["\\]/g, '\\$&')}"]`;
  const described = async () => (await api('/api/schedules/' + encodeURIComponent(sid))).schedule;
  check(await page.getAttribute(row, 'data-paused') === 'false', `${sid} is active`);
  const when = await page.textContent(`${row} td:nth-child(3)`);
  const s0 = await described();
  check(when.includes(s0.cron !== undefined ? s0.cron : `every ${s0.every_ms} ms`), `its timing is shown (${when})`);
  await page.click(`${row} button[data-action="pause"]`);
  await page.waitForSelector(`${row}[data-paused="true"] [data-state="paused"]`, { timeout: 15000 });
  check(true, 'after Pause, the page shows it paused');
  check((await described()).paused === true, 'the API agrees');
  check((await page.textContent('#action-result')).includes('paused'), 'and the page says so');
  await page.click(`${row} button[data-action="unpause"]`);
  await page.waitForSelector(`${row}[data-paused="false"]`, { timeout: 15000 });
  check((await described()).paused === false, 'Unpause makes it active again');

  await page.click(`${row} button[data-action="trigger"]`);
  check(await page.isVisible('#confirm'), 'Trigger asks for confirmation first');
  check((await described()).counts.started === s0.counts.started, 'nothing starts before the confirmation');
  await page.click('#confirm-yes');
  await page.waitForSelector('#action-result a', { timeout: 15000 });
  const startedId = await page.textContent('#action-result a');
  check(startedId.startsWith(sid + '@'), `after confirming, the page links the workflow it started (${startedId})`);
  await page.waitForSelector(`${row} td.last a`);
  check(await page.textContent(`${row} td.last a`) === startedId, 'as the one the schedule started last');
  check((await described()).running === startedId, 'the API agrees');
  await page.click('#action-result a');
  await page.waitForURL((u) => u.pathname === '/runs/' + encodeURIComponent(startedId));
  await page.waitForSelector('body[data-loaded="true"]');
  check(await page.textContent('#run-id') === startedId, 'the link opens its run');

  await page.goto(base + '/schedules');
  await page.waitForSelector('body[data-loaded="true"]');
  await page.click(`${row} button[data-action="delete"]`);
  check(await page.isVisible('#confirm'), 'Delete asks for confirmation first');
  await page.click('#confirm-no');
  check(await page.isHidden('#confirm') && (await described()) !== undefined, 'Back leaves it');
  await page.click(`${row} button[data-action="delete"]`);
  await page.click('#confirm-yes');
  await page.waitForSelector(row, { state: 'detached', timeout: 15000 });
  check(true, 'after confirming Delete, its row is gone');
  const gone = await fetch(base + '/api/schedules/' + encodeURIComponent(sid));
  check(gone.status === 404, 'the API answers 404 for it');
  check(errors.length === 0, 'no script errors in the pages' + (errors.length ? ': ' + errors.join('; ') : ''));
} catch (e) {
  failed = true;
  console.error('FAIL: ' + (e && e.stack || e));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
