// pvtap's browser test: headless Debian chromium (playwright-core, never a
// downloaded browser) loads the page on a replayed day, checks the drawn
// graph against the store's intervals, clicks to another day, screenshots.
// Usage: node browser_test.mjs BASE_URL DAY SERIES INTERVALS.json OUT_DIR
// Exit 0 pass, 1 fail, 77 when chromium cannot start at all.
import { chromium } from 'playwright-core';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, day, series, intervalsFile, outDir] = process.argv.slice(2);
const expected = JSON.parse(readFileSync(intervalsFile, 'utf8')).filter((r) => r.source === series);
let fails = 0;
const ok = (c, what) => { console.log(`${c ? 'ok' : 'not ok'} - ${what}`); if (!c) fails++; };

const profile = mkdtempSync(join(tmpdir(), 'pvtap-chromium-'));
let ctx;
try {
  // a fresh profile (--user-data-dir) is the persistent context's directory
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 900 },
    deviceScaleFactor: 1,
    timeout: 60000,
  });
} catch (e) {
  console.log(`# chromium cannot start: ${e.message.split('\n')[0]}`);
  rmSync(profile, { recursive: true, force: true });
  process.exit(77);
}

try {
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  // Nothing but the Pi itself: any other host is a CDN or a leak.
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith(base)) foreign.push(r.url()); });

  await page.goto(`${base}/?day=${day}&source=${series}`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 20000 });
  ok(await page.evaluate(() => document.body.dataset.ready) === '1', 'page loaded every section');
  ok(errors.length === 0, `no script errors ${errors.join('; ')}`);
  ok(foreign.length === 0, `no request leaves the Pi ${foreign.join(' ')}`);

  // The production line's points are the store's intervals: same times, same
  // values (W = Wh x 12), and y is one linear function of the value.
  const lines = await page.$$eval('#day-svg polyline[data-series="production"]', (els) => els.map((e) => ({
    times: e.dataset.times.split(','), values: e.dataset.values.split(',').map(Number),
    pts: e.getAttribute('points').trim().split(/\s+/).map((p) => p.split(',').map(Number)),
  })));
  const drawn = lines.flatMap((l) => l.times.map((t, i) => ({ t, w: l.values[i], x: l.pts[i][0], y: l.pts[i][1] })));
  const want = expected.filter((r) => r.production_wh !== null);
  ok(drawn.length > 0, `the day graph is not empty (${drawn.length} points)`);
  ok(drawn.length === want.length, `one point per interval with production (${drawn.length} vs ${want.length})`);
  let same = drawn.length === want.length;
  for (let i = 0; same && i < want.length; i++)
    if (drawn[i].t !== want[i].interval_end || Math.abs(drawn[i].w - want[i].production_wh * 12) > 1e-6) {
      same = false;
      console.log(`# point ${i}: drawn ${drawn[i].t} ${drawn[i].w}, store ${want[i].interval_end} ${want[i].production_wh * 12}`);
    }
  ok(same, 'every point has its interval\'s time and power');
  if (drawn.length > 2) {
    const lo = drawn.reduce((a, b) => (b.w < a.w ? b : a)), hi = drawn.reduce((a, b) => (b.w > a.w ? b : a));
    const k = (hi.y - lo.y) / (hi.w - lo.w);
    const badY = drawn.filter((p) => Math.abs(lo.y + (p.w - lo.w) * k - p.y) > 0.05);
    ok(k < 0 && badY.length === 0, `y is linear in power, up is more (${badY.length} off)`);
    const mono = drawn.every((p, i) => i === 0 || p.x > drawn[i - 1].x);
    ok(mono, 'x grows with time');
  }
  // hover read-out
  const box = await page.locator('#day-svg').boundingBox();
  await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.4);
  const readout = await page.textContent('#day-readout');
  ok(/production\s+\S+\s*k?W/.test(readout), `hover read-out: ${readout.trim().slice(0, 80)}`);
  // the other sections
  ok(await page.locator('#month-chart rect.bar').count() > 0, 'month bar chart has bars');
  ok(await page.locator('#year-chart rect.bar').count() > 0, 'year bar chart has bars');
  ok(await page.locator('#totals tbody tr').count() > 0, 'totals table has rows');
  ok(await page.locator('#devices .fill').count() > 0, 'per-inverter bars shown');
  ok(await page.locator('#compare polyline').count() > 0, 'comparison graph drawn');
  ok((await page.textContent('#health')).includes('daemon running'), 'health shows the daemon running');
  await page.screenshot({ path: join(outDir, 'web-day.png'), fullPage: true });

  // click to the previous day: the page reloads on it
  const prev = new Date(Date.parse(day + 'T00:00:00Z') - 86400e3).toISOString().slice(0, 10);
  await page.click('#prev');
  await page.waitForURL((u) => u.searchParams.get('day') === prev);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 20000 });
  const title = await page.textContent('#day-title');
  const n = Number(await page.evaluate(() => document.body.dataset.intervals));
  const wantPrev = JSON.parse(readFileSync(intervalsFile.replace(/\.json$/, '.prev.json'), 'utf8'))
    .filter((r) => r.source === series).length;
  ok(n === wantPrev, `clicked to ${prev} (${title.trim()}): ${n} intervals, store has ${wantPrev}`);

  // a phone
  const p2 = await ctx.newPage();
  await p2.setViewportSize({ width: 390, height: 844 });
  await p2.goto(`${base}/?day=${day}&source=${series}`);
  await p2.waitForFunction(() => document.body.dataset.ready, null, { timeout: 20000 });
  const overflow = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  ok(overflow <= 1, `fits a phone's width (overflow ${overflow}px)`);
  await p2.screenshot({ path: join(outDir, 'web-phone.png'), fullPage: true });
} catch (e) {
  ok(false, `browser test: ${e.message}`);
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`${fails} failed`);
process.exit(fails ? 1 : 0);
