// pvtap's page: reads the read-only JSON API and draws everything as SVG in the browser (the Pi only serves JSON).
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
const state = { day: null, series: null, tz: 'UTC', site: null };

// ---- small helpers ----------------------------------------------------------

async function api(path) {
  const r = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-cache' });
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function el(tag, attrs, parent, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function h(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) {
    if (k === 'class') e.className = attrs[k];
    else e.setAttribute(k, attrs[k]);
  }
  if (text !== undefined) e.textContent = text;
  return e;
}

// Calendar arithmetic on YYYY-MM-DD strings, independent of any time zone.
function addDays(day, n) {
  const [y, m, d] = day.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return t.toISOString().slice(0, 10);
}
function addMonths(ym, n) {
  const [y, m] = ym.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1 + n, 1));
  return t.toISOString().slice(0, 7);
}
function daysInMonth(ym) {
  const [y, m] = ym.split('-').map(Number);
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}
const validDay = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s || '') && !isNaN(Date.parse(s + 'T00:00:00Z'));

let timeFmt = null;
let dateFmt = null;
function setZone(tz) {
  try {
    timeFmt = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    dateFmt = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' });
    state.tz = tz;
  } catch (e) {
    // A POSIX TZ string the browser does not know: show UTC, and say so.
    timeFmt = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    dateFmt = new Intl.DateTimeFormat('en-CA', { timeZone: 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' });
    state.tz = 'UTC';
  }
}
const hhmm = (ms) => timeFmt.format(new Date(ms));
function minutesOfDay(ms) {
  const [hh, mm] = hhmm(ms).split(':').map(Number);
  return hh * 60 + mm;
}

function fmtW(w) {
  if (w === null || w === undefined || isNaN(w)) return '–';
  const a = Math.abs(w);
  return a >= 1000 ? (w / 1000).toFixed(a >= 10000 ? 1 : 2) + ' kW' : Math.round(w) + ' W';
}
const fmtKWh = (wh) => (wh === null || wh === undefined ? '–' : (wh / 1000).toFixed(2));
const monthName = (ym) => new Date(ym + '-01T12:00:00Z').toLocaleString('en', { month: 'short', timeZone: 'UTC' });

function tip(text, x, y) {
  const t = $('tip');
  if (!text) { t.hidden = true; return; }
  t.textContent = text;
  t.hidden = false;
  const w = t.offsetWidth;
  t.style.left = Math.max(4, Math.min(window.innerWidth - w - 4, x - w / 2)) + 'px';
  t.style.top = (y - 42) + 'px';
}

// ---- charts -----------------------------------------------------------------

// A day of 5-minute values: x = time, y = average power (W). Lines break
// where an interval is missing. Each polyline carries its values
// (data-values, W) and interval ends (data-times) so tests can check them.
function lineChart(box, opt) {
  box.textContent = '';
  const W = 900, H = opt.height || 300, m = { l: 52, r: 10, t: 10, b: 24 };
  const iw = W - m.l - m.r, ih = H - m.t - m.b;
  const rows = opt.rows;
  if (!rows.length) {
    box.appendChild(h('div', { class: 'empty' }, opt.empty || 'No intervals on this day.'));
    return null;
  }
  let lo = 0, hi = 0;
  for (const s of opt.series) for (const r of rows) {
    const v = r[s.key];
    if (v !== null && v !== undefined) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }
  if (hi - lo < 1) hi = lo + 1;
  // round the axis to a readable step
  const span = hi - lo, raw = span / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw);
  lo = Math.floor(lo / step) * step; hi = Math.ceil(hi / step) * step;
  const x = (ms) => m.l + ((ms - opt.t0) / (opt.t1 - opt.t0)) * iw;
  const y = (v) => m.t + ih - ((v - lo) / (hi - lo)) * ih;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': opt.label || 'chart' }, box);
  const grid = el('g', { class: 'grid' }, svg), axis = el('g', { class: 'axis' }, svg);
  for (let v = lo; v <= hi + step / 2; v += step) {
    el('line', { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }, grid);
    el('text', { x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, axis, fmtW(v).replace(' ', '\u202f'));
  }
  for (let k = 0; k <= 8; k++) {
    const ms = opt.t0 + k * 3 * 3600e3;
    if (ms > opt.t1) break;
    el('line', { x1: x(ms), x2: x(ms), y1: m.t, y2: m.t + ih }, grid);
    el('text', { x: x(ms), y: H - 6, 'text-anchor': k === 0 ? 'start' : k === 8 ? 'end' : 'middle' }, axis, hhmm(ms));
  }
  if (lo < 0) el('line', { class: 'zero', x1: m.l, x2: W - m.r, y1: y(0), y2: y(0) }, svg);
  for (const s of opt.series) {
    // contiguous runs: a gap of more than one interval or a null breaks the line
    let run = [];
    const flush = () => {
      if (!run.length) return;
      if (s.area && run.length > 1) {
        const pts = run.map((r) => `${x(r.t).toFixed(1)},${y(r[s.key]).toFixed(1)}`);
        el('polygon', { class: 'area ' + s.cls, points: `${x(run[0].t).toFixed(1)},${y(0).toFixed(1)} ${pts.join(' ')} ${x(run[run.length - 1].t).toFixed(1)},${y(0).toFixed(1)}` }, svg);
      }
      el('polyline', {
        class: 'line ' + s.cls,
        'data-series': s.cls,
        'data-values': run.map((r) => r[s.key]).join(','),
        'data-times': run.map((r) => r.iso).join(','),
        points: run.map((r) => `${x(r.t).toFixed(2)},${y(r[s.key]).toFixed(2)}`).join(' '),
      }, svg);
      run = [];
    };
    let prev = null;
    for (const r of rows) {
      const v = r[s.key];
      if (v === null || v === undefined || (prev && r.t - prev.t > 300e3)) flush();
      if (v !== null && v !== undefined) run.push(r);
      prev = r;
    }
    flush();
  }
  // hover / touch read-out
  const cursor = el('line', { class: 'cursor', y1: m.t, y2: m.t + ih, visibility: 'hidden' }, svg);
  const dots = opt.series.map((s) => el('circle', { class: 'dot ' + s.cls, r: 4, visibility: 'hidden' }, svg));
  const hit = el('rect', { x: m.l, y: m.t, width: iw, height: ih, fill: 'transparent' }, svg);
  const move = (ev) => {
    const pt = svg.getBoundingClientRect();
    const sx = ((ev.clientX - pt.left) / pt.width) * W;
    const ms = opt.t0 + ((sx - m.l) / iw) * (opt.t1 - opt.t0);
    let best = 0;
    for (let i = 1; i < rows.length; i++) if (Math.abs(rows[i].t - ms) < Math.abs(rows[best].t - ms)) best = i;
    const r = rows[best];
    cursor.setAttribute('x1', x(r.t)); cursor.setAttribute('x2', x(r.t)); cursor.setAttribute('visibility', 'visible');
    opt.series.forEach((s, i) => {
      const v = r[s.key];
      if (v === null || v === undefined) { dots[i].setAttribute('visibility', 'hidden'); return; }
      dots[i].setAttribute('cx', x(r.t)); dots[i].setAttribute('cy', y(v)); dots[i].setAttribute('visibility', 'visible');
    });
    const text = opt.readout(r);
    if (opt.readoutEl) opt.readoutEl.innerHTML = text.html;
    tip(text.plain, ev.clientX, pt.top + (y(Math.max(...opt.series.map((s) => r[s.key] ?? lo))) / H) * pt.height);
  };
  const leave = () => {
    cursor.setAttribute('visibility', 'hidden');
    dots.forEach((d) => d.setAttribute('visibility', 'hidden'));
    tip(null);
  };
  hit.addEventListener('pointermove', move);
  hit.addEventListener('pointerdown', move);
  hit.addEventListener('pointerleave', leave);
  return svg;
}

// Bars: one group per label, production and consumption side by side.
function barChart(box, opt) {
  box.textContent = '';
  const W = 600, H = 240, m = { l: 46, r: 6, t: 8, b: 22 };
  const iw = W - m.l - m.r, ih = H - m.t - m.b;
  const n = opt.labels.length;
  let hi = 0;
  for (const s of opt.series) for (const v of s.values) if (v) hi = Math.max(hi, v);
  if (!hi) {
    box.appendChild(h('div', { class: 'empty' }, opt.empty));
    return;
  }
  const raw = hi / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw);
  hi = Math.ceil(hi / step) * step;
  const y = (v) => m.t + ih - (v / hi) * ih;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': opt.label }, box);
  const grid = el('g', { class: 'grid' }, svg), axis = el('g', { class: 'axis' }, svg);
  for (let v = 0; v <= hi + step / 2; v += step) {
    el('line', { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }, grid);
    el('text', { x: m.l - 5, y: y(v) + 4, 'text-anchor': 'end' }, axis, (v / 1000).toFixed(v && v < 1000 ? 1 : 0));
  }
  el('text', { x: 2, y: m.t + 8 }, axis, 'kWh');
  const cw = iw / n, bw = Math.max(1, (cw * 0.8) / opt.series.length);
  const every = n > 16 ? 5 : 1;
  for (let i = 0; i < n; i++) {
    const g = el('g', { class: 'col' }, svg);
    opt.series.forEach((s, k) => {
      const v = s.values[i];
      if (!v) return;
      el('rect', {
        class: 'bar ' + s.cls + (opt.selected === i ? ' sel' : ''),
        x: m.l + i * cw + cw * 0.1 + k * bw, y: y(Math.max(0, v)), width: Math.max(0.5, bw - 1), height: Math.abs(y(0) - y(v)),
        'data-value': v,
      }, g);
    });
    if (i % every === 0 || i === n - 1)
      el('text', { x: m.l + i * cw + cw / 2, y: H - 6, 'text-anchor': 'middle' }, axis, opt.labels[i]);
    const hit = el('rect', { class: 'hit', x: m.l + i * cw, y: m.t, width: cw, height: ih }, g);
    hit.addEventListener('pointermove', (ev) => tip(opt.tip(i), ev.clientX, ev.clientY));
    hit.addEventListener('pointerleave', () => tip(null));
    if (opt.href && opt.href(i)) hit.addEventListener('click', () => { location.href = opt.href(i); });
  }
}

// ---- sections -----------------------------------------------------------------

const q = (o) => Object.entries(o).filter(([, v]) => v !== null && v !== undefined)
  .map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
const dayHref = (day) => '?' + q({ day, source: state.series });

function intervalRows(list) {
  return list.map((r) => ({
    iso: r.interval_end,
    t: Date.parse(r.interval_end),
    production: r.production_wh === null ? null : r.production_wh * 12,
    consumption: r.consumption_wh === null ? null : r.consumption_wh * 12,
    net: r.net_wh === null ? null : r.net_wh * 12,
    flags: r.flags,
  }));
}

function dayBounds(rows) {
  // local midnight of the day, in UTC ms: from the first interval's local time
  const first = rows[0].t, mins = minutesOfDay(first);
  const t0 = first - mins * 60e3;
  return { t0, t1: t0 + 24 * 3600e3 };
}

async function renderDay() {
  const day = state.day, next = addDays(day, 1);
  const list = await api('/api/intervals?' + q({ from: day, to: next, source: state.series }));
  const rows = intervalRows(list);
  const long = new Date(day + 'T12:00:00Z').toLocaleDateString('en', { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });
  $('day-title').textContent = long;
  const bounds = rows.length ? dayBounds(rows) : { t0: 0, t1: 1 };
  const svg = lineChart($('day-chart'), {
    rows, t0: bounds.t0, t1: bounds.t1, label: 'power on ' + day,
    series: [
      { key: 'production', cls: 'production', area: true },
      { key: 'consumption', cls: 'consumption' },
      { key: 'net', cls: 'net' },
    ],
    readoutEl: $('day-readout'),
    readout: (r) => {
      const end = hhmm(r.t), start = hhmm(r.t - 300e3);
      const net = r.net === null ? '–' : fmtW(Math.abs(r.net)) + (r.net > 0 ? ' import' : r.net < 0 ? ' export' : '');
      const fl = r.flags ? ` (${r.flags})` : '';
      return {
        html: `<b>${start}–${end}</b> · production <b>${fmtW(r.production)}</b> · consumption <b>${fmtW(r.consumption)}</b> · grid <b>${net}</b>${fl}`,
        plain: `${end}  ☀ ${fmtW(r.production)}  ⌂ ${fmtW(r.consumption)}`,
      };
    },
  });
  if (svg) svg.id = 'day-svg';
  $('day-readout').textContent = rows.length ? `${rows.length} intervals — hover or touch the graph for the values` : '';
  $('csv').href = '/api/intervals?' + q({ from: day, to: next, source: state.series, format: 'csv' });
  document.body.dataset.intervals = String(rows.length);

  const tot = await api('/api/totals?' + q({ period: 'day', from: day, to: next, source: state.series }));
  const t = tot[0] || {};
  const box = $('day-totals');
  box.textContent = '';
  const card = (cls, k, v) => {
    const c = h('div', { class: 'card ' + cls });
    c.append(h('div', { class: 'k' }, k), h('div', { class: 'v' }, v));
    box.appendChild(c);
  };
  card('prod', 'Produced', fmtKWh(t.production_wh) + ' kWh');
  card('cons', 'Consumed', fmtKWh(t.consumption_wh) + ' kWh');
  card('net', 'Imported', fmtKWh(t.import_wh) + ' kWh');
  card('exp', 'Exported', fmtKWh(t.export_wh) + ' kWh');
  card('', 'Net from grid', fmtKWh(t.net_wh) + ' kWh');
}

async function renderDevices() {
  const day = state.day;
  const box = $('devices');
  box.textContent = '';
  const r = await api('/api/devices?' + q({ from: day, to: addDays(day, 1), source: state.series }));
  const devs = r.devices || [];
  if (!devs.length) {
    box.appendChild(h('p', { class: 'hint' }, 'No per-inverter records for this day in this series.'));
    return;
  }
  const vals = devs.map((d) => d.energy_wh).sort((a, b) => a - b);
  const median = vals[Math.floor(vals.length / 2)], max = vals[vals.length - 1] || 1;
  const grid = h('div', { class: 'devs' });
  for (const d of devs) {
    const weak = median > 0 && d.energy_wh < 0.8 * median;
    const track = h('div', { class: 'track' });
    const fill = h('div', { class: 'fill' + (weak ? ' weak' : '') });
    fill.style.width = Math.max(0, (100 * d.energy_wh) / max).toFixed(1) + '%';
    track.appendChild(fill);
    track.title = `${d.device}: ${(d.energy_wh / 1000).toFixed(3)} kWh`;
    grid.append(h('div', { class: 'name', title: d.device }, d.device), track,
      h('div', { class: 'num' + (weak ? ' warn' : '') }, (d.energy_wh / 1000).toFixed(2)));
  }
  box.appendChild(grid);
  box.appendChild(h('p', { class: 'hint' }, `${devs.length} inverters, kWh; median ${(median / 1000).toFixed(2)} kWh.`));
}

function totalsTable(rows, label, link) {
  const tab = $('totals');
  tab.textContent = '';
  const head = h('thead'), tr = h('tr');
  for (const c of [label, 'Production', 'Consumption', 'Net', 'Import', 'Export']) tr.appendChild(h('th', {}, c));
  head.appendChild(tr);
  tab.appendChild(head);
  const body = h('tbody');
  const sum = { production_wh: 0, consumption_wh: 0, net_wh: 0, import_wh: 0, export_wh: 0 };
  const has = {};
  for (const r of rows) {
    const row = h('tr');
    const first = h('td');
    if (link) {
      const a = h('a', { href: link(r.period) }, r.period);
      first.appendChild(a);
    } else first.textContent = r.period;
    row.appendChild(first);
    for (const k of ['production_wh', 'consumption_wh', 'net_wh', 'import_wh', 'export_wh']) {
      row.appendChild(h('td', {}, fmtKWh(r[k])));
      if (r[k] !== null && r[k] !== undefined) { sum[k] += r[k]; has[k] = true; }
    }
    body.appendChild(row);
  }
  if (rows.length > 1) {
    const row = h('tr', { class: 'sum' });
    row.appendChild(h('td', {}, 'Total'));
    for (const k of ['production_wh', 'consumption_wh', 'net_wh', 'import_wh', 'export_wh'])
      row.appendChild(h('td', {}, has[k] ? fmtKWh(sum[k]) : '–'));
    body.appendChild(row);
  }
  if (!rows.length) {
    const row = h('tr');
    row.appendChild(h('td', { colspan: 6 }, 'No data.'));
    body.appendChild(row);
  }
  tab.appendChild(body);
}

const cache = {};
async function renderPeriods() {
  const ym = state.day.slice(0, 7), y = state.day.slice(0, 4);
  const [days, months, years] = await Promise.all([
    api('/api/totals?' + q({ period: 'day', from: ym, to: addMonths(ym, 1), source: state.series })),
    api('/api/totals?' + q({ period: 'month', from: y, to: String(Number(y) + 1), source: state.series })),
    api('/api/totals?' + q({ period: 'year', source: state.series })),
  ]);
  Object.assign(cache, { days, months, years });
  const nd = daysInMonth(ym), byDay = {};
  for (const r of days) byDay[r.period] = r;
  const dlabels = [], dp = [], dc = [], dkeys = [];
  for (let d = 1; d <= nd; d++) {
    const key = `${ym}-${String(d).padStart(2, '0')}`;
    dkeys.push(key); dlabels.push(String(d));
    dp.push(byDay[key] ? byDay[key].production_wh : null);
    dc.push(byDay[key] ? byDay[key].consumption_wh : null);
  }
  $('month-title').textContent = new Date(ym + '-01T12:00:00Z').toLocaleString('en', { month: 'long', year: 'numeric', timeZone: 'UTC' });
  barChart($('month-chart'), {
    labels: dlabels, label: 'daily energy', empty: 'No data this month.',
    series: [{ cls: 'production', values: dp }, { cls: 'consumption', values: dc }],
    selected: Number(state.day.slice(8)) - 1,
    tip: (i) => `${dkeys[i]}: ☀ ${fmtKWh(dp[i])} kWh  ⌂ ${fmtKWh(dc[i])} kWh`,
    href: (i) => (byDay[dkeys[i]] ? dayHref(dkeys[i]) : null),
  });
  const byMonth = {};
  for (const r of months) byMonth[r.period] = r;
  const mkeys = [], mp = [], mc = [];
  for (let k = 1; k <= 12; k++) {
    const key = `${y}-${String(k).padStart(2, '0')}`;
    mkeys.push(key);
    mp.push(byMonth[key] ? byMonth[key].production_wh : null);
    mc.push(byMonth[key] ? byMonth[key].consumption_wh : null);
  }
  $('year-title').textContent = y;
  barChart($('year-chart'), {
    labels: mkeys.map((k) => monthName(k)[0]), label: 'monthly energy', empty: 'No data this year.',
    series: [{ cls: 'production', values: mp }, { cls: 'consumption', values: mc }],
    selected: Number(state.day.slice(5, 7)) - 1,
    tip: (i) => `${monthName(mkeys[i])} ${y}: ☀ ${fmtKWh(mp[i])} kWh  ⌂ ${fmtKWh(mc[i])} kWh`,
    href: (i) => {
      const d = days.concat(months);
      void d;
      return byMonth[mkeys[i]] ? dayHref(mkeys[i] + '-01') : null;
    },
  });
  showTab(document.querySelector('.tab.on').dataset.tab);
}

function showTab(which) {
  for (const b of document.querySelectorAll('.tab')) b.classList.toggle('on', b.dataset.tab === which);
  if (which === 'daily') totalsTable(cache.days || [], 'Day', (p) => dayHref(p));
  else if (which === 'monthly') totalsTable(cache.months || [], 'Month', (p) => dayHref(p + '-01'));
  else totalsTable(cache.years || [], 'Year', null);
}

async function renderCompare() {
  const box = $('compare');
  box.textContent = '';
  const names = (state.site.series || []).map((s) => s.series);
  const a = 'sniff', b = names.includes('poll') ? 'poll' : names.find((n) => n !== 'sniff');
  if (!names.includes(a) || !b) {
    box.appendChild(h('p', { class: 'hint' }, 'Only one series in the store: nothing to compare (sniff the supervisor and poll a meter to see both).'));
    return;
  }
  const day = state.day;
  const list = await api('/api/compare?' + q({ from: day, to: addDays(day, 1), a, b }));
  const summary = (list.length && list[list.length - 1].summary) || null;
  const rows = list.filter((r) => !r.summary).map((r) => ({
    iso: r.interval_end, t: Date.parse(r.interval_end),
    a: r.production_wh_a === null ? null : r.production_wh_a * 12,
    b: r.production_wh_b === null ? null : r.production_wh_b * 12,
    d: r.production_diff_wh,
  }));
  box.appendChild(h('div', { class: 'legend' })).append(
    h('span', { class: 'sw a' }), document.createTextNode(` production, ${a} `),
    h('span', { class: 'sw b' }), document.createTextNode(` production, ${b}`));
  const chart = h('div', { class: 'chart' });
  box.appendChild(chart);
  const ro = h('div', { class: 'readout' }, '\u00a0');
  box.appendChild(ro);
  if (rows.length) {
    const bounds = dayBounds(rows);
    lineChart(chart, {
      rows, t0: bounds.t0, t1: bounds.t1, height: 220, label: 'comparison',
      series: [{ key: 'a', cls: 'a' }, { key: 'b', cls: 'b' }],
      readoutEl: ro,
      readout: (r) => ({
        html: `<b>${hhmm(r.t)}</b> · ${a} <b>${fmtW(r.a)}</b> · ${b} <b>${fmtW(r.b)}</b> · b − a <b>${r.d === null ? '–' : r.d.toFixed(1) + ' Wh'}</b>`,
        plain: `${hhmm(r.t)}  ${a} ${fmtW(r.a)} / ${b} ${fmtW(r.b)}`,
      }),
    });
  } else chart.appendChild(h('div', { class: 'empty' }, 'Neither series has intervals on this day.'));
  if (!summary) return;
  const t = h('table');
  const hr = h('tr');
  for (const c of ['', 'compared', 'mean |b − a| Wh', 'max |b − a| Wh', 'at']) hr.appendChild(h('th', {}, c));
  t.appendChild(h('thead')).appendChild(hr);
  const tb = h('tbody');
  for (const k of ['production', 'net', 'consumption']) {
    const s = summary[k];
    const tr = h('tr');
    tr.append(h('td', {}, k), h('td', {}, String(s.compared)), h('td', {}, s.mean_abs_diff_wh ?? '–'),
      h('td', {}, s.max_abs_diff_wh ?? '–'), h('td', {}, s.max_at ? hhmm(Date.parse(s.max_at)) : '–'));
    tb.appendChild(tr);
  }
  t.appendChild(tb);
  const wrap = h('div', { class: 'tablewrap' });
  wrap.appendChild(t);
  box.appendChild(wrap);
  const d = (summary.days || [])[0];
  let totals = '';
  if (d) {
    const pa = d.production_wh_a, pb = d.production_wh_b;
    const pct = pa && pb !== null ? ` (${(100 * (pb - pa) / pa).toFixed(2).replace(/^-0\.00$/, '0.00')} %)` : '';
    totals = ` Day production: ${a} ${fmtKWh(pa)} kWh, ${b} ${fmtKWh(pb)} kWh${pct}.`;
  }
  box.appendChild(h('p', { class: 'hint' },
    `Intervals in both: ${summary.intervals_both}, only ${a}: ${summary.intervals_only_a}, only ${b}: ${summary.intervals_only_b}.${totals}`));
}

async function renderHealth() {
  const box = $('health');
  box.textContent = '';
  let st;
  try { st = await api('/api/status'); } catch (e) { box.textContent = 'status unavailable'; return; }
  const live = st.live || {};
  const running = st.daemon && st.daemon.state === 'running';
  const p = h('p');
  p.append(h('span', { class: 'pill ' + (running ? 'ok' : 'bad') }, running ? 'daemon running' : 'daemon not running'));
  if (live.started) p.append(document.createTextNode(` since ${live.started.replace('T', ' ').replace('Z', ' UTC')}`));
  box.appendChild(p);
  const site = st.site;
  if (site) {
    box.appendChild(h('p', { class: 'hint' },
      `Consumption meter read as ${site.consumption_meter} (${site.consumption_meter_from}), production: ${site.production}.`));
    for (const m of site.meters_not_installed || [])
      box.appendChild(h('p', { class: 'warn' }, `${m.device}: ${m.text}`));
  }
  const alerts = live.alerts || [];
  const ah = h('p', {}, alerts.length ? '' : 'No alerts.');
  if (alerts.length) {
    ah.appendChild(h('span', { class: 'pill warn' }, `${alerts.length} alert${alerts.length > 1 ? 's' : ''}`));
    const ul = h('ul', { class: 'alerts' });
    for (const a of alerts) ul.appendChild(h('li', { class: 'warn' }, a.text || a.id || '?'));
    box.append(ah, ul);
  } else box.appendChild(ah);
  const srcs = live.sources || [];
  if (srcs.length) {
    const t = h('table'), hr = h('tr');
    for (const c of ['source', 'type', 'series', 'state', 'last record', 'readings']) hr.appendChild(h('th', {}, c));
    t.appendChild(h('thead')).appendChild(hr);
    const tb = h('tbody');
    for (const s of srcs) {
      const tr = h('tr');
      tr.append(h('td', {}, s.name), h('td', {}, s.type), h('td', {}, s.series),
        h('td', { class: s.state === 'up' ? 'ok' : s.state === 'done' ? '' : 'bad' }, s.state),
        h('td', {}, s.last_record ? s.last_record.replace('T', ' ').replace('Z', '') : '–'), h('td', {}, String(s.readings)));
      tb.appendChild(tr);
      if (s.last_error) {
        const er = h('tr');
        er.appendChild(h('td', { colspan: 6, class: 'bad' }, s.last_error));
        tb.appendChild(er);
      }
    }
    t.appendChild(tb);
    const w = h('div', { class: 'tablewrap' });
    w.appendChild(t);
    box.appendChild(w);
  }
  const store = st.store || {};
  const q2 = h('p', { class: 'hint' });
  const parts = [];
  for (const [name, o] of Object.entries(store.outbox || {}))
    parts.push(`${name} queue: ${o.pending} pending, ${o.delivered} delivered, ${o.undeliverable} undeliverable`);
  for (const s of live.sinks || []) if (s.last_error) parts.push(`${s.name}: ${s.last_error}`);
  const qd = live.queue || {};
  if (qd.readings_uncommitted !== undefined) parts.push(`uncommitted readings: ${qd.readings_uncommitted}`);
  if (store.size_bytes !== undefined) parts.push(`store ${(store.size_bytes / 1048576).toFixed(1)} MiB`);
  if (store.error) parts.push(store.error);
  q2.textContent = parts.join(' · ') || 'No upload queue.';
  box.appendChild(q2);
}

async function renderLive() {
  let r;
  try { r = await api('/api/live'); } catch (e) { return; }
  const s = (r.series || []).find((x) => x.series === state.series) || (r.series || [])[0];
  if (!s) return;
  $('now-prod').textContent = fmtW(s.production_W);
  $('now-cons').textContent = fmtW(s.consumption_W);
  if (s.net_W !== undefined) {
    $('now-net-k').textContent = s.net_W >= 0 ? 'Importing now' : 'Exporting now';
    $('now-net').textContent = fmtW(Math.abs(s.net_W));
  }
  $('now-time').textContent = `${hhmm(Date.parse(s.time))} (${s.series})`;
}

// ---- start ----------------------------------------------------------------------

async function main() {
  const params = new URLSearchParams(location.search);
  state.site = await api('/api/site');
  setZone(state.site.timezone || 'UTC');
  if (state.site.site) { $('site').textContent = state.site.site; document.title = 'pvtap · ' + state.site.site; }
  $('footer').textContent = `pvtap ${state.site.version || ''} · times in ${state.tz}`;
  const names = (state.site.series || []).map((s) => s.series);
  const want = params.get('source');
  state.series = names.includes(want) ? want : names.includes('sniff') ? 'sniff' : names[0] || 'sniff';
  const sel = $('series');
  for (const n of names.length ? names : [state.series]) sel.appendChild(h('option', { value: n }, n));
  sel.value = state.series;
  sel.addEventListener('change', () => { location.href = '?' + q({ day: state.day, source: sel.value }); });
  const today = dateFmt.format(new Date());
  state.day = validDay(params.get('day')) ? params.get('day') : state.site.latest_day || today;
  const pick = $('daypick');
  pick.value = state.day;
  pick.addEventListener('change', () => { if (validDay(pick.value)) location.href = dayHref(pick.value); });
  $('prev').href = dayHref(addDays(state.day, -1));
  $('next').href = dayHref(addDays(state.day, 1));
  for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => showTab(b.dataset.tab));
  const jobs = [renderDay(), renderDevices(), renderPeriods(), renderCompare(), renderHealth(), renderLive()];
  const results = await Promise.allSettled(jobs);
  const failed = results.filter((r) => r.status === 'rejected');
  for (const f of failed) console.error(f.reason);
  document.body.dataset.ready = failed.length ? 'error' : '1';
  setInterval(renderLive, 10000);
  setInterval(renderHealth, 30000);
}

main().catch((e) => {
  console.error(e);
  document.body.dataset.ready = 'error';
  $('day-readout').textContent = 'Cannot load data: ' + e.message;
});
