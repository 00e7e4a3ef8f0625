// Tests for report/timeline.ts (the HTML timeline of `analyze --html` and `ipitrace timeline`).
// The page is made from the fixture faulty-x86-offline-async (CPU1 queues a csd to offline CPU2 and
// sends it an IPI; the csd is never released; ground truth in its fixture.json). First string checks
// of the generated HTML, then the same page in headless Chromium (Debian's `chromium`): the DOM as the
// browser built it (--dump-dom), geometry measured in the browser, and a screenshot in test/out/.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detect } from '../detect/detect.js';
import { ingestFiles } from '../ingest/ingest.js';
import { buildTimeline, renderTimelinePage, type TimelineData } from '../report/timeline.js';
import { openWritable, type Db } from '../store/db.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const OUT = join(import.meta.dirname, 'out');
const BOOT = 'faulty-x86-offline-async';
const fixture = JSON.parse(readFileSync(join(FIXTURES, BOOT, 'fixture.json'), 'utf8')) as {
  files: string[];
  expected_cpus: { present: string; online_at_end: string };
  expected_findings: { detector: string; target_cpu: number; evidence: { file: string; line: number }[] }[];
};

/** Debian's chromium (or another Chromium build) on PATH, null when none is installed. */
function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
      const path = join(dir, name);
      try {
        accessSync(path, constants.X_OK);
        return path;
      } catch {
        // not here
      }
    }
  }
  return null;
}
const CHROMIUM = findChromium();
if (!CHROMIUM) {
  console.warn('test/timeline.test.ts: chromium is not installed: the browser tests are SKIPPED (apt-get install -y chromium to run them)');
}

let tmp: string;
let db: Db;
let data: TimelineData;
let html: string;
const pagePath = join(OUT, 'timeline-offline-async.html');

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ipitrace-timeline-test-'));
  db = openWritable(join(tmp, 'test.db'));
  const outcomes = await ingestFiles(db, fixture.files.map((f) => join(FIXTURES, BOOT, f)), { boot: BOOT });
  expect(outcomes.map((o) => o.status)).toEqual(fixture.files.map(() => 'ingested'));
  detect(db, { boot: BOOT });
  data = buildTimeline(db, BOOT, { db: 'run.db' });
  html = renderTimelinePage([data]);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(pagePath, html);
}, 120_000);

afterAll(() => {
  db?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The lane group of one CPU, as text (from its start tag to the next lane's). */
function laneHtml(page: string, cpu: number): string {
  const start = page.indexOf(`<g class="lane" data-cpu="${cpu}"`);
  expect(start, `lane of CPU${cpu}`).toBeGreaterThanOrEqual(0);
  const next = page.indexOf('<g class="lane', start + 1);
  return page.slice(start, next === -1 ? page.indexOf('</g>\n</g>', start) : next);
}

describe('timeline HTML (no browser)', () => {
  it('is one self-contained page: one inline script (zoom), no external resource; the SVG is complete without it', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script[^>]*src=|<link|<img|<iframe|@import|url\(\s*['"]?(https?:|\/\/)/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(html.match(/<svg id="timeline"/g)).toHaveLength(1);
    // Without JavaScript: every lane, state, arrow and marker is in the markup before the script.
    const script = html.indexOf('<script>');
    expect(html.lastIndexOf('</svg>')).toBeLessThan(script);
    expect(html.slice(0, script).match(/<g class="finding /g)).toHaveLength(fixture.expected_findings.length);
    // The zoom help is shown only by the script that makes it true.
    expect(html).toMatch(/<p class="note zoomhelp" data-zoom-help="timeline" hidden>/);
  });

  it("lanes say the state at the window's right edge, not at the end of the boot", () => {
    // Whole boot: CPU2 offline at the end (fixture.json online_at_end 0-1,3).
    expect(laneHtml(html, 2)).toMatch(/<text class="lane-sub"[^>]*>offline at [\d.]+ s<\/text>/);
    // fixture.json: CPU2 goes offline before 4.0 s and is online at 2.0 s (brought up by the boot at 0.2 s).
    const early = renderTimelinePage([buildTimeline(db, BOOT, { fromS: 1, toS: 2, db: 'run.db' })]);
    expect(laneHtml(early, 2)).toMatch(/<text class="lane-sub"[^>]*>online at 2\.000 s<\/text>/);
  });

  it('draws no label over a finding marker, and the header counts what the list holds', () => {
    const rings = [...html.matchAll(/<circle class="finding-ring" cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(rings.length).toBe(fixture.expected_findings.length);
    const labels = [...html.matchAll(/<text class="(state-label|csd-label)[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</g)]
      .map((m) => ({ x: Number(m[2]), y: Number(m[3]), w: m[4].length * 6.5 }));
    expect(labels.length).toBeGreaterThan(0);
    for (const l of labels) {
      for (const [cx, cy] of rings) expect(Math.abs(cy - l.y + 4) < 14 && cx > l.x - 12 && cx < l.x + l.w + 12).toBe(false);
    }
    // The answer first: analyze's verdict line (fixture.json: CPU1 queues to offline CPU2) above the timeline.
    expect(html).toMatch(/<p class="verdict sev-error"><b>ERROR<\/b> CPU1 queued ipi_fault_func to CPU2, which had gone offline at [\d.]+ s/);
    expect(html.indexOf('<p class="verdict')).toBeLessThan(html.indexOf('<svg id="timeline"'));
    const listed = (html.match(/<li id="finding-\d+"/g) ?? []).length;
    expect(html).toContain(`<h2>boot ${BOOT}: ${listed} findings</h2>`);
  });

  it('has one lane per CPU 0-3 (present), with the hotplug states from cpu_states', () => {
    const lanes = [...html.matchAll(/<g class="lane[^"]*" data-cpu="(\d+)"/g)].map((m) => Number(m[1]));
    expect(lanes).toEqual([0, 1, 2, 3]);
    expect(fixture.expected_cpus.present).toBe('0-3');
    const cpu2 = laneHtml(html, 2);
    for (const state of ['online', 'going_down', 'dying', 'offline']) expect(cpu2).toContain(`class="state state-${state}"`);
    // CPUs 1 and 3 are offline only before the boot brought them up (console.log:117, `.... node
    // #0, CPUs: #1 #2 #3`); CPU0, the boot CPU, never.
    expect(laneHtml(html, 0)).not.toContain('state-offline');
    const bringUp = Number(/data-start-ns="(\d+)"[^>]*><title>CPU1 online from [\d.]+ s to the end \([^)]*console\.log:117,/.exec(laneHtml(html, 1))?.[1]);
    for (const cpu of [1, 3]) {
      const offline = [...laneHtml(html, cpu).matchAll(/class="state state-offline" data-cpu="\d+" data-start-ns="(\d*)" data-end-ns="(\d*)"/g)];
      expect(offline.map((m) => [m[1], Number(m[2])]), `CPU${cpu}`).toEqual([['', bringUp]]);
    }
    // The offline interval is open-ended: it runs to the right edge of the plot.
    const offline = /<rect class="state state-offline" data-cpu="2" data-start-ns="(\d+)" data-end-ns="" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/.exec(cpu2);
    expect(offline).not.toBeNull();
    expect(Number(offline?.[2]) + Number(offline?.[3])).toBeCloseTo(1400 - 24, 0);
  });

  it('draws IPI arrows, the IPI to offline CPU2 in the problem style, and csd bars', () => {
    expect(data.density).toBeNull();
    expect((html.match(/<line class="ipi[ "]/g) ?? []).length).toBe(data.totals.ipis);
    const bad = [...html.matchAll(/<line class="ipi bad" data-src="(\d+)" data-target="(\d+)" data-state="(\w+)"/g)];
    expect(bad.map((m) => [Number(m[1]), Number(m[2]), m[3]])).toEqual([[1, 2, 'offline']]);
    expect((html.match(/<rect class="csd /g) ?? []).length).toBe(data.totals.csds);
    // The never-released csd: an open bar on CPU2's lane, queued by CPU1.
    expect(laneHtml(html, 2)).toMatch(/<rect class="csd outcome-never_released open" data-csd="0xffffffff819f4b80" data-src="1" data-target="2"/);
  });

  it('marks each finding with a .finding element and lists it with its evidence', () => {
    const markers = [...html.matchAll(/<g class="finding sev-(\w+)" data-detector="([\w-]+)"/g)].map((m) => m[2]).sort();
    expect(markers).toEqual(fixture.expected_findings.map((f) => f.detector).sort());
    const list = html.slice(html.indexOf('<ul id="findings"'), html.indexOf('</ul>', html.indexOf('<ul id="findings"')));
    for (const f of fixture.expected_findings) {
      expect(list).toContain(`data-detector="${f.detector}"`);
      const queue = f.evidence.find((e) => e.file === 'trace.txt.gz') as { file: string; line: number };
      expect(list).toContain(`trace.txt.gz:${queue.line}`);
    }
    expect(list).toContain('trace.txt.gz:2176');
    // Whole boot with findings: the page says how to zoom.
    expect(html).toMatch(/To zoom on a finding.*--from [\d.]+ --to [\d.]+/);
  });

  it('shows a time window (--from/--to) with states clipped to it', () => {
    const zoom = buildTimeline(db, BOOT, { fromS: 3.9, toS: 4.1, db: 'run.db' });
    expect(zoom.totals.ipis).toBeLessThan(data.totals.ipis);
    const page = renderTimelinePage([zoom]);
    expect(page).toContain('Shown: 3.900 to 4.100 s of');
    expect(page).not.toContain('To zoom on a finding');
    for (const m of page.matchAll(/<rect class="state [^>]* x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)) {
      expect(Number(m[1])).toBeGreaterThanOrEqual(130);
      expect(Number(m[1]) + Number(m[2])).toBeLessThanOrEqual(1400 - 24 + 0.11);
    }
    expect(laneHtml(page, 2)).not.toContain('state-going_down');
    expect(page).toMatch(/<g class="finding sev-error" data-detector="ipi-to-offline"/);
  });

  it('aggregates into per-lane density bins beyond maxItems, still drawing the problems one by one', () => {
    const dense = buildTimeline(db, BOOT, { maxItems: 100 });
    expect(dense.density).not.toBeNull();
    const page = renderTimelinePage([dense]);
    expect(page).toContain('class="note"');
    expect(page).toMatch(/<rect class="density" data-n="\d+"/);
    const binned = [...page.matchAll(/<rect class="density" data-n="(\d+)"/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(binned).toBe(dense.totals.ipis + dense.totals.csds);
    expect([...page.matchAll(/<line class="(ipi[^"]*)"/g)].map((m) => m[1])).toEqual(['ipi bad']);
    expect(page).toMatch(/data-csd="0xffffffff819f4b80"/);
  });

  it('escapes text from the logs', () => {
    const page = renderTimelinePage([{ ...data, boot: 'a<b>&"c', findings: [] }]);
    expect(page).toContain('boot a&lt;b&gt;&amp;&quot;c');
    expect(page).not.toContain('a<b>');
    expect(page).toContain('<li class="none">no IPI or CSD problem found</li>');
  });

  it('rejects a window that ends before it starts', () => {
    expect(() => buildTimeline(db, BOOT, { fromS: 4, toS: 3 })).toThrow(/--from/);
  });
});

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars'];

function chromium(args: string[]): string {
  const profile = mkdtempSync(join(tmpdir(), 'ipitrace-chromium-'));
  try {
    return execFileSync(CHROMIUM as string, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args],
      { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** In-browser checks: appended to a copy of the page, they write their results into the DOM. */
const PROBE = `<script>
const r = {};
const box = (e) => { const b = e.getBoundingClientRect(); return { x: b.left, w: b.width, y: b.top, h: b.height }; };
const svg = document.querySelector('svg#timeline');
r.svg = box(svg);
r.lanes = [...svg.querySelectorAll('g.lane[data-cpu]')].map((g) => ({ cpu: Number(g.dataset.cpu), box: box(g) }));
r.offline = [...svg.querySelectorAll('g.lane[data-cpu="2"] rect.state.state-offline')].map(box);
r.findings = [...document.querySelectorAll('.finding')].map((e) => ({ detector: e.getAttribute('data-detector'), box: box(e.querySelector('.finding-marker')), ring: box(e.querySelector('.finding-ring')) }));
r.items = [...document.querySelectorAll('ul#findings li')].map((li) => li.textContent);
r.badIpi = [...svg.querySelectorAll('line.ipi.bad')].map(box);
r.fill = getComputedStyle(svg.querySelector('rect.state-offline')).fill;
const out = document.createElement('pre');
out.id = 'probe-' + 'results';
out.textContent = JSON.stringify(r);
document.body.append(out);
</script>`;

interface Box { x: number; w: number; y: number; h: number }
interface Probe {
  svg: Box;
  lanes: { cpu: number; box: Box }[];
  offline: Box[];
  findings: { detector: string; box: Box; ring: Box }[];
  items: string[];
  badIpi: Box[];
  fill: string;
}

const browserIt = it.skipIf(!CHROMIUM);

describe('timeline in headless Chromium', () => {
  browserIt('builds the DOM: 4 lanes, CPU2 offline, both finding markers, evidence trace.txt.gz:2176', () => {
    const dom = chromium(['--dump-dom', pathToFileURL(pagePath).href]);
    const lanes = [...dom.matchAll(/<g class="lane[^"]*" data-cpu="(\d+)"/g)].map((m) => Number(m[1]));
    expect(lanes.length).toBeGreaterThanOrEqual(4);
    expect(lanes).toEqual(expect.arrayContaining([0, 1, 2, 3]));
    expect(laneHtml(dom, 2)).toMatch(/<rect class="state state-offline"/);
    expect(dom).toMatch(/<g class="finding [^"]*" data-detector="csd-never-released"/);
    expect(dom).toMatch(/<g class="finding [^"]*" data-detector="ipi-to-offline"/);
    const list = dom.slice(dom.indexOf('<ul id="findings"'));
    expect(list.slice(0, list.indexOf('</ul>'))).toContain('trace.txt.gz:2176');
  }, 90_000);

  browserIt('lays the page out: lanes stacked, offline interval and markers visible where the fault is', () => {
    const probePath = join(OUT, 'timeline-offline-async.probe.html');
    writeFileSync(probePath, html.replace('</body>', `${PROBE}\n</body>`));
    const dom = chromium(['--window-size=1400,900', '--dump-dom', pathToFileURL(probePath).href]);
    const m = /<pre id="probe-results">([\s\S]*?)<\/pre>/.exec(dom);
    expect(m, 'probe output in the dumped DOM').not.toBeNull();
    const probe = JSON.parse((m?.[1] ?? '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as Probe;
    expect(probe.svg.w).toBeGreaterThan(1000);
    expect(probe.lanes.map((l) => l.cpu)).toEqual([0, 1, 2, 3]);
    for (let i = 1; i < probe.lanes.length; i++) {
      expect(probe.lanes[i].box.y).toBeGreaterThanOrEqual(probe.lanes[i - 1].box.y + probe.lanes[i - 1].box.h - 1);
    }
    // CPU2: offline before the boot brought it up, and from its hotplug takedown on.
    expect(probe.offline).toHaveLength(2);
    const offline = [...probe.offline].sort((a, b) => b.x - a.x)[0];
    expect(offline.w).toBeGreaterThan(100);
    expect(probe.fill).not.toBe('none');
    // Both markers are drawn, and at the time of the fault CPU2 is offline: the marker's centre is
    // inside the offline interval, and the ring sits on CPU2's lane.
    expect(probe.findings.map((f) => f.detector).sort()).toEqual(['csd-never-released', 'ipi-to-offline']);
    const lane2 = probe.lanes[2].box;
    for (const f of probe.findings) {
      expect(f.box.w).toBeGreaterThan(10);
      const cx = f.box.x + f.box.w / 2;
      expect(cx).toBeGreaterThan(offline.x);
      expect(cx).toBeLessThan(offline.x + offline.w);
      expect(f.ring.y + f.ring.h / 2).toBeGreaterThan(lane2.y);
      expect(f.ring.y + f.ring.h / 2).toBeLessThan(lane2.y + lane2.h);
    }
    expect(probe.badIpi).toHaveLength(1);
    expect(probe.items.some((t) => t.includes('trace.txt.gz:2176'))).toBe(true);
  }, 90_000);

  browserIt('zooms and pans in the page: wheel around the pointer, drag, keys; lanes follow the window edge', () => {
    const probePath = join(OUT, 'timeline-offline-async.zoom.html');
    const ZOOM_PROBE = `<script>
const svg = document.querySelector('svg#timeline');
const r = {};
const view = () => [Number(svg.dataset.viewFromNs), Number(svg.dataset.viewToNs)];
const marker = () => { const b = svg.querySelector('g.finding[data-detector="ipi-to-offline"] .finding-marker').getBoundingClientRect(); return b.left + b.width / 2; };
const sub2 = () => svg.querySelector('g.lane[data-cpu="2"] text.lane-sub').textContent;
r.full = view();
r.help = !document.querySelector('[data-zoom-help="timeline"]').hidden;
const at = marker();
const y = svg.getBoundingClientRect().top + 40;
for (let i = 0; i < 8; i++) svg.dispatchEvent(new WheelEvent('wheel', { deltaY: -100, clientX: at, clientY: y, bubbles: true, cancelable: true }));
r.zoomed = view();
r.markerMoved = Math.abs(marker() - at);
r.ipiX = [...svg.querySelectorAll('line.ipi')].filter((l) => l.style.display !== 'none').map((l) => Number(l.getAttribute('x1')));
r.ticks = [...svg.querySelectorAll('g.axis .tick')].map((t) => Number(t.textContent));
svg.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft', bubbles: true }));
r.panned = view();
svg.dispatchEvent(new PointerEvent('pointerdown', { clientX: 700, clientY: y, bubbles: true }));
svg.dispatchEvent(new PointerEvent('pointermove', { clientX: 500, clientY: y, bubbles: true }));
window.dispatchEvent(new PointerEvent('pointerup', { bubbles: true }));
r.dragged = view();
svg.ipitraceZoom.zoom(1, 2.0e9 - (r.full[0] > 2e9 ? 0 : 0));
const earlyStart = r.full[0], onlineAt = 2.0e9;
while (view()[1] - view()[0] > 0.5e9) svg.dispatchEvent(new KeyboardEvent('keydown', { key: '+', bubbles: true }));
while (view()[0] > earlyStart + 1) svg.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft', bubbles: true }));
r.early = view();
r.sub2early = sub2();
svg.dispatchEvent(new KeyboardEvent('keydown', { key: '0', bubbles: true }));
r.reset = view();
r.sub2end = sub2();
const out = document.createElement('pre');
out.id = 'probe-' + 'results';
out.textContent = JSON.stringify(r);
document.body.append(out);
</script>`;
    writeFileSync(probePath, html.replace('</body>', `${ZOOM_PROBE}\n</body>`));
    const dom = chromium(['--window-size=1400,900', '--dump-dom', pathToFileURL(probePath).href]);
    const m = /<pre id="probe-results">([\s\S]*?)<\/pre>/.exec(dom);
    expect(m, 'probe output in the dumped DOM').not.toBeNull();
    const r = JSON.parse((m?.[1] ?? '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as {
      full: [number, number]; help: boolean; zoomed: [number, number]; markerMoved: number; ipiX: number[]; ticks: number[];
      panned: [number, number]; dragged: [number, number]; early: [number, number]; sub2early: string; reset: [number, number]; sub2end: string;
    };
    expect(r.help).toBe(true);
    expect(r.full).toEqual([data.fromNs, data.toNs]);
    // 8 wheel notches of 1.25: the window is 1.25^8 = 5.96 times shorter, and the marker under the pointer stays there.
    const span = (v: [number, number]) => v[1] - v[0];
    expect(span(r.full) / span(r.zoomed)).toBeCloseTo(1.25 ** 8, 1);
    expect(r.markerMoved).toBeLessThan(9); // still under the pointer: within the marker's radius
    for (const x of r.ipiX) expect(x).toBeGreaterThanOrEqual(130 - 0.1);
    expect(r.ticks.length).toBeGreaterThanOrEqual(4);
    for (const t of r.ticks) expect(t * 1e9).toBeGreaterThanOrEqual(r.zoomed[0] - 1e6);
    // ArrowLeft pans a tenth of the window to the left; dragging right-to-left pans to the right.
    expect(r.panned[0]).toBeCloseTo(r.zoomed[0] - span(r.zoomed) * 0.1, -3);
    expect(r.dragged[0]).toBeGreaterThan(r.panned[0]);
    expect(span(r.dragged)).toBeCloseTo(span(r.panned), -3);
    // Early in the boot (before 0.5 s after the start) CPU2 has not yet gone offline: its lane says the state at the edge.
    expect(r.early[0]).toBe(r.full[0]);
    expect(r.sub2early).not.toMatch(/^offline/);
    expect(r.reset).toEqual(r.full);
    expect(r.sub2end).toMatch(/^offline at /);
  }, 90_000);

  browserIt('takes a screenshot into test/out/', () => {
    const png = join(OUT, 'timeline-offline-async.png');
    rmSync(png, { force: true });
    chromium(['--window-size=1400,900', `--screenshot=${png}`, pathToFileURL(pagePath).href]);
    expect(statSync(png).size).toBeGreaterThan(20_000);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  }, 90_000);
});
