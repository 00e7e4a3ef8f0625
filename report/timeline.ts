// The HTML timeline of `ipitrace analyze --html` and `ipitrace timeline`: one self-contained page
// (inline SVG and CSS; an inline script, report/timeline-zoom.ts, only zooms and pans what the SVG
// holds; no network), drawn from report/timeline-data.ts. Per boot: the verdict lines, one lane per
// CPU with its hotplug states, IPI arrows sender -> target, csd lifetimes from queue to release on
// the target's lane, and the findings marked on the time axis and listed with their evidence.
// Stable hooks for tests and users: svg#timeline, g.lane[data-cpu], rect.state.state-<state>,
// line.ipi, rect.csd, rect.density, g.finding[data-detector], ul#findings li.
import { CPU_STATES } from '../replay/hotplug.js';
import type { Ipi, TimelineData } from './timeline-data.js';
import { TIMELINE_CSS as CSS } from './timeline-style.js';
import { GEOMETRY, ZOOM_SCRIPT } from './timeline-zoom.js';

export { buildTimeline, DEFAULT_MAX_ITEMS, type TimelineData, type TimelineOptions } from './timeline-data.js';

// ---------------------------------------------------------------------------------------------
// Rendering

const esc = (text: string | number | null | undefined) =>
  String(text ?? '').replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] as string);
const num = (n: number) => (Math.round(n * 10) / 10).toString();
const secs = (ns: number, digits = 6) => (ns / 1e9).toFixed(digits);

const { WIDTH, LEFT, RIGHT } = GEOMETRY;
const PLOT = WIDTH - LEFT - RIGHT;
const SEVERITY_COLORS: Record<string, string> = { error: '#c1121f', warning: '#e07a00', info: '#2a6fdb' };


interface Layout {
  laneTop: Map<number, number>;
  laneHeight: number;
  bandTop: number;
  bandHeight: number;
  trackTop: number;
  trackHeight: number;
  findingsTop: number;
  axisY: number;
  height: number;
  x: (ns: number) => number;
}

function layout(data: TimelineData, slots: number): Layout {
  const laneHeight = data.cpus.length <= 8 ? 56 : data.cpus.length <= 24 ? 36 : 22;
  const findingsTop = 10;
  const axisY = findingsTop + Math.max(1, slots) * 22 + 22;
  const lanesTop = axisY + 8;
  const laneTop = new Map<number, number>();
  data.cpus.forEach((cpu, i) => laneTop.set(cpu, lanesTop + i * laneHeight));
  const span = Math.max(1, data.toNs - data.fromNs);
  return {
    laneTop,
    laneHeight,
    bandTop: 4,
    bandHeight: Math.round(laneHeight * 0.48),
    trackTop: Math.round(laneHeight * 0.48) + 8,
    trackHeight: Math.max(4, Math.round(laneHeight * 0.2)),
    findingsTop,
    axisY,
    height: lanesTop + data.cpus.length * laneHeight + 12,
    x: (ns: number) => LEFT + ((Math.min(Math.max(ns, data.fromNs), data.toNs) - data.fromNs) / span) * PLOT,
  };
}

/** 1, 2, 5 x 10^k seconds, about `want` ticks over the window. */
function ticks(fromNs: number, toNs: number, want = 10): { at: number[]; digits: number } {
  const span = Math.max(1, toNs - fromNs) / 1e9;
  const raw = span / want;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) as number;
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const at: number[] = [];
  for (let t = Math.ceil(fromNs / 1e9 / step) * step; t <= toNs / 1e9 + 1e-12; t += step) at.push(Math.round(t * 1e9));
  return { at, digits };
}

/** Greedy rows for finding markers so that close ones do not overlap. */
function findingSlots(data: TimelineData, x: (ns: number) => number): { slot: number; x: number }[] {
  const lastX: number[] = [];
  return data.findings.map((f) => {
    const fx = f.ts_ns === null || f.ts_ns < data.fromNs || f.ts_ns > data.toNs ? NaN : x(f.ts_ns);
    if (Number.isNaN(fx)) return { slot: -1, x: fx };
    let slot = lastX.findIndex((lx) => fx - lx >= 20);
    // At most MAX_FINDING_SLOTS rows (a burst of thousands of findings at one time would otherwise
    // make as many rows, each one searched for every finding): the rest overlap in the last row.
    if (slot === -1) slot = Math.min(lastX.length, MAX_FINDING_SLOTS - 1);
    lastX[slot] = fx;
    return { slot, x: fx };
  });
}

const MAX_FINDING_SLOTS = 12;

/** The largest value, by a loop (Math.max(...values) puts every value on the stack: it overflows on big arrays). */
function maxOf(values: Iterable<number>, start: number): number {
  let max = start;
  for (const v of values) if (v > max) max = v;
  return max;
}

/** Items grouped by a key, in one pass (filtering the whole list once per CPU lane is quadratic). */
function groupBy<T>(items: readonly T[], key: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list === undefined) groups.set(k, [item]);
    else list.push(item);
  }
  return groups;
}

function renderSvg(data: TimelineData, svgId: string, findingIds: string[]): string {
  const pre = layout(data, 1);
  const slots = findingSlots(data, pre.x);
  const L = layout(data, maxOf(slots.map((s) => s.slot + 1), 0));
  const parts: string[] = [];
  const laneMid = (cpu: number) => (L.laneTop.get(cpu) ?? 0) + L.bandTop + L.bandHeight / 2;
  const plotBottom = L.height - 12;
  const firstLaneTop = L.axisY + 8;

  parts.push(`<svg id="${svgId}" class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${L.height}" width="${WIDTH}" height="${L.height}" role="img" aria-label="CPU timeline of boot ${esc(data.boot)}" data-from-ns="${data.fromNs}" data-to-ns="${data.toNs}">`);
  parts.push(`<defs>
<pattern id="hatch-nonexistent" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#e4e7ec"/><rect width="2" height="6" fill="#b9c0cc"/></pattern>
<pattern id="hatch-untraced" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><rect width="1.2" height="5" fill="#ffffff" opacity=".75"/></pattern>
<marker id="${svgId}-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="5" markerHeight="5" orient="auto-start-reverse"><path d="M0,0L8,4L0,8z" fill="#8a94a6"/></marker>
<marker id="${svgId}-arrow-bad" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="4" markerHeight="4" orient="auto-start-reverse"><path d="M0,0L8,4L0,8z" fill="#c1121f"/></marker>
</defs>`);

  // Axis and grid.
  const { at, digits } = ticks(data.fromNs, data.toNs);
  parts.push('<g class="axis">');
  for (const t of at) {
    const x = num(L.x(t));
    const anchor = L.x(t) - LEFT < 14 ? 'start' : LEFT + PLOT - L.x(t) < 14 ? 'end' : 'middle';
    parts.push(`<line class="grid" x1="${x}" x2="${x}" y1="${L.axisY}" y2="${plotBottom}"/><text class="tick" x="${x}" y="${L.axisY - 5}" text-anchor="${anchor}">${(t / 1e9).toFixed(digits)}</text>`);
  }
  parts.push(`<text class="axis-title" x="${LEFT - 8}" y="${L.axisY - 5}" text-anchor="end">s (${esc(data.clock ?? '?')} clock)</text>`);
  parts.push(`<text class="axis-title" x="${LEFT - 8}" y="${L.findingsTop + 15}" text-anchor="end">findings</text>`);
  parts.push('</g>');

  // Lanes: background, states, untraced hatching, csd bars, density.
  parts.push('<g class="lanes">');
  const statesByCpu = groupBy(data.states, (s) => s.cpu);
  const csdsByTarget = groupBy(data.csds, (c) => c.target);
  const binsByCpu = groupBy(data.density?.bins ?? [], (b) => b.cpu);
  const maxBin = maxOf((data.density?.bins ?? []).map((b) => b.n), 1);
  // The state at the window's right edge (the last instant shown), not at the end of the boot.
  const stateAtEdge = (cpu: number) => (statesByCpu.get(cpu) ?? [])
    .filter((st) => (st.start_ns === null || st.start_ns < data.toNs) && (st.end_ns === null || data.toNs - 1 < st.end_ns)).at(-1)?.state;
  const labels: string[] = [];
  // Finding rings on the lanes: no label is drawn over one (report/timeline-zoom.ts does the same after a zoom).
  const rings = data.findings.flatMap((f, n) => {
    const lane = f.target_cpu ?? f.cpu;
    return slots[n].slot >= 0 && lane !== null && L.laneTop.has(lane) ? [{ x: slots[n].x, y: laneMid(lane) }] : [];
  });
  const overRing = (x: number, y: number, text: string) =>
    rings.some((r) => Math.abs(r.y - y + 4) < 14 && r.x > x - 12 && r.x < x + text.length * 6.5 + 12);
  for (const cpu of data.cpus) {
    const top = L.laneTop.get(cpu) as number;
    const nonexistent = data.nonexistent.has(cpu);
    const edge = stateAtEdge(cpu);
    const sub = nonexistent ? 'nonexistent' : edge ? `${edge.replace('_', ' ')} at ${secs(data.toNs, 3)} s` : 'state unknown';
    parts.push(`<g class="lane${nonexistent ? ' nonexistent' : ''}" data-cpu="${cpu}" transform="translate(0,${top})">`);
    parts.push(`<rect class="lane-bg" x="0" y="0" width="${WIDTH}" height="${L.laneHeight}"/>`);
    parts.push(`<text class="lane-name" x="10" y="${L.bandTop + L.bandHeight / 2 + 5}">CPU${cpu}</text>`);
    if (L.laneHeight >= 30) parts.push(`<text class="lane-sub" x="10" y="${L.bandTop + L.bandHeight + 14}">${esc(sub)}</text>`);
    if (nonexistent) {
      parts.push(`<rect class="state state-nonexistent" x="${LEFT}" y="${L.bandTop}" width="${PLOT}" height="${L.bandHeight}"><title>CPU${cpu} does not exist (not present)</title></rect>`);
    }
    for (const s of statesByCpu.get(cpu) ?? []) {
      const start = s.start_ns ?? data.fromNs;
      const end = s.end_ns ?? data.toNs;
      if (end < data.fromNs || start > data.toNs) continue;
      const x1 = L.x(start);
      const w = Math.max(1, L.x(end) - x1);
      const ev = s.path !== null && s.line !== null ? ` (${s.path}:${s.line}, ${s.basis})` : ` (${s.basis})`;
      const when = `${s.start_ns === null ? 'from the start' : `from ${secs(s.start_ns)} s`}${s.end_ns === null ? ' to the end' : ` to ${secs(s.end_ns)} s`}`;
      parts.push(`<rect class="state state-${esc(s.state)}" data-cpu="${cpu}" data-start-ns="${s.start_ns ?? ''}" data-end-ns="${s.end_ns ?? ''}" x="${num(x1)}" y="${L.bandTop}" width="${num(w)}" height="${L.bandHeight}"><title>CPU${cpu} ${esc(s.state)} ${when}${esc(ev)}</title></rect>`);
      const labelY = top + L.bandTop + L.bandHeight / 2 + 4;
      const label = s.state.replace('_', ' ');
      if (w > 64 && L.bandHeight >= 12 && !overRing(x1 + 5, labelY, label)) {
        labels.push(`<text class="state-label state-label-${esc(s.state)}" x="${num(x1 + 5)}" y="${num(labelY)}" data-t0="${s.start_ns ?? ''}" data-t1="${s.end_ns ?? ''}" data-min-width="64">${esc(label)}</text>`);
      }
    }
    if (data.coverage) {
      const gaps = uncovered(data.coverage.get(cpu) ?? [], data.fromNs, data.toNs);
      for (const [a, b] of gaps) {
        parts.push(`<rect class="untraced" data-t0="${a}" data-t1="${b}" x="${num(L.x(a))}" y="${L.bandTop}" width="${num(Math.max(1, L.x(b) - L.x(a)))}" height="${L.bandHeight}"><title>CPU${cpu}: no ftrace coverage ${secs(a, 3)}-${secs(b, 3)} s</title></rect>`);
      }
    }
    parts.push(`<rect class="csd-track" x="${LEFT}" y="${L.trackTop}" width="${PLOT}" height="${L.trackHeight}" fill="#fff" opacity=".6"/>`);
    if (data.density) {
      const own = binsByCpu.get(cpu) ?? [];
      const max = maxBin;
      const bw = PLOT / data.density.nbins;
      for (const b of own) {
        const h = Math.max(1, (b.n / max) * L.trackHeight);
        const t0 = Math.round(data.fromNs + (b.bin * (data.toNs - data.fromNs)) / data.density.nbins);
        const t1 = Math.round(data.fromNs + ((b.bin + 1) * (data.toNs - data.fromNs)) / data.density.nbins);
        parts.push(`<rect class="density" data-n="${b.n}" data-t0="${t0}" data-t1="${t1}" x="${num(LEFT + b.bin * bw)}" y="${num(L.trackTop + L.trackHeight - h)}" width="${num(Math.max(1, bw - 0.5))}" height="${num(h)}"><title>${b.n} IPIs/csds to CPU${cpu}</title></rect>`);
      }
    }
    const traceEnd = maxOf((data.coverage?.get(cpu) ?? []).map((w) => w[1]), -Infinity);
    for (const c of csdsByTarget.get(cpu) ?? []) {
      const x1 = L.x(c.queued);
      const open = c.released === null;
      const untilTraceEnd = open && c.outcome !== 'never_released' && Number.isFinite(traceEnd);
      const x2 = !open ? L.x(c.released as number) : untilTraceEnd ? L.x(traceEnd) : LEFT + PLOT;
      const where = c.path !== null && c.line !== null ? `, ${c.path}:${c.line}` : '';
      const title = `csd ${c.csd ?? '(hashed)'} ${c.func ?? ''} CPU${c.src ?? '?'} -> CPU${c.target}: queued ${secs(c.queued)} s, ${open ? `${c.outcome.replace(/_/g, ' ')} (no release)` : `released ${secs(c.released as number)} s`}${where}`;
      const t1 = !open ? String(c.released) : untilTraceEnd ? String(traceEnd) : '';
      const csdLabel = `csd ${c.csd ?? ''} ${c.func ?? ''} from CPU${c.src ?? '?'}: never released`;
      const csdY = top + L.trackTop + L.trackHeight / 2 + 4;
      if (c.outcome === 'never_released' && x2 - x1 > 180 && L.trackHeight + 2 >= 10 && !overRing(x1 + 6, csdY, csdLabel)) {
        labels.push(`<text class="csd-label" x="${num(x1 + 6)}" y="${num(csdY)}" data-t0="${c.queued}" data-t1="${t1}" data-min-width="180">${esc(csdLabel)}</text>`);
      }
      parts.push(`<rect class="csd outcome-${esc(c.outcome)}${open ? ' open' : ''}" data-csd="${esc(c.csd ?? '')}" data-src="${c.src ?? ''}" data-target="${c.target}" data-t0="${c.queued}" data-t1="${t1}" data-min-w="1.5" x="${num(x1)}" y="${open ? L.trackTop - 1 : L.trackTop}" width="${num(Math.max(1.5, x2 - x1))}" height="${open ? L.trackHeight + 2 : L.trackHeight}"><title>${esc(title)}</title></rect>`);
    }
    parts.push('</g>');
  }
  parts.push('</g>');

  // Finding guides under the arrows, so that the arrow of an IPI to an offline CPU stays visible.
  parts.push('<g class="finding-guides">');
  data.findings.forEach((f, n) => {
    const { slot, x } = slots[n];
    if (slot < 0) return;
    const lane = f.target_cpu ?? f.cpu;
    const laneY = lane !== null && L.laneTop.has(lane) ? laneMid(lane) : firstLaneTop;
    parts.push(`<line class="finding-guide" data-ts-ns="${f.ts_ns ?? ''}" x1="${num(x)}" x2="${num(x)}" y1="${L.findingsTop + 19 + slot * 22}" y2="${num(laneY)}" stroke="${SEVERITY_COLORS[f.severity] ?? '#c1121f'}"/>`);
  });
  parts.push('</g>');

  // IPI arrows, problems drawn last (on top).
  const ordered = [...data.ipis.filter((i) => !isProblem(i)), ...data.ipis.filter(isProblem)];
  parts.push('<g class="ipis">');
  for (const i of ordered) {
    const x = num(L.x(i.ts));
    const bad = isProblem(i);
    const targetTop = (L.laneTop.get(i.target) ?? 0) + L.bandTop;
    const title = `<title>${esc(`IPI ${i.reason ?? i.kind} CPU${i.src ?? '?'} -> CPU${i.target} (${i.state}) at ${secs(i.ts)} s, ${i.path}:${i.line}`)}</title>`;
    const cls = `ipi${bad ? ' bad' : ''}`;
    const data_ = `data-src="${i.src ?? ''}" data-target="${i.target}" data-state="${esc(i.state)}" data-ts-ns="${i.ts}"`;
    if (i.src === null || i.src === i.target || !L.laneTop.has(i.src)) {
      parts.push(`<line class="${cls}" ${data_} x1="${x}" x2="${x}" y1="${targetTop - 8}" y2="${targetTop + 2}" marker-end="url(#${svgId}-arrow${bad ? '-bad' : ''})">${title}</line>`);
      continue;
    }
    const down = laneMid(i.src) < laneMid(i.target);
    const y2 = down ? targetTop : targetTop + L.bandHeight;
    parts.push(`<line class="${cls}" ${data_} x1="${x}" x2="${x}" y1="${num(laneMid(i.src))}" y2="${num(y2)}" marker-end="url(#${svgId}-arrow${bad ? '-bad' : ''})">${title}</line>`);
  }
  parts.push('</g>');
  parts.push(`<g class="labels">${labels.join('')}</g>`);

  // Findings: a numbered marker in the findings row, a guide down to the CPU acted upon, a ring there.
  parts.push('<g class="findings">');
  data.findings.forEach((f, n) => {
    const { slot, x } = slots[n];
    if (slot < 0) return;
    const color = SEVERITY_COLORS[f.severity] ?? '#c1121f';
    const cy = L.findingsTop + 10 + slot * 22;
    const lane = f.target_cpu ?? f.cpu;
    const laneY = lane !== null && L.laneTop.has(lane) ? laneMid(lane) : null;
    parts.push(`<a href="#${findingIds[n]}"><g class="finding sev-${esc(f.severity)}" data-detector="${esc(f.detector)}" data-severity="${esc(f.severity)}" data-cpu="${f.cpu ?? ''}" data-target-cpu="${f.target_cpu ?? ''}" data-ts-ns="${f.ts_ns ?? ''}">`);
    parts.push(`<title>${esc(`${n + 1}. ${f.severity.toUpperCase()} ${f.detector}: ${f.title} at ${secs(f.ts_ns as number)} s`)}</title>`);
    if (laneY !== null) parts.push(`<circle class="finding-ring" cx="${num(x)}" cy="${num(laneY)}" r="9" stroke="${color}"/>`);
    parts.push(`<circle class="finding-marker" cx="${num(x)}" cy="${cy}" r="9" fill="${color}"/><text class="finding-num" x="${num(x)}" y="${cy + 4}">${n + 1}</text>`);
    parts.push('</g></a>');
  });
  parts.push('</g>');
  parts.push('</svg>');
  return parts.join('\n');
}

const isProblem = (i: Ipi) => i.state === 'offline' || i.state === 'nonexistent';

/** Parts of [from, to] that no traced window covers. */
function uncovered(windows: [number, number][], from: number, to: number): [number, number][] {
  const gaps: [number, number][] = [];
  let cursor = from;
  for (const [a, b] of [...windows].sort((p, q) => p[0] - q[0])) {
    if (a > cursor) gaps.push([cursor, Math.min(a, to)]);
    cursor = Math.max(cursor, b);
    if (cursor >= to) break;
  }
  if (cursor < to) gaps.push([cursor, to]);
  return gaps.filter(([a, b]) => b > a);
}

function zoomWindow(data: TimelineData, tsNs: number): [number, number] {
  const span = data.spanNs ? data.spanNs.end - data.spanNs.start : data.toNs - data.fromNs;
  const pad = Math.max(5_000_000, span * 0.02);
  const round = (ns: number) => Math.round(ns / 1e6) / 1e3;
  return [round(Math.max(0, tsNs - pad)), round(tsNs + pad)];
}

function renderBoot(data: TimelineData, index: number): string {
  const svgId = index === 0 ? 'timeline' : `timeline-${index + 1}`;
  const listId = index === 0 ? 'findings' : `findings-${index + 1}`;
  const findingIds = data.findings.map((_, n) => (index === 0 ? `finding-${n + 1}` : `finding-${index + 1}-${n + 1}`));
  const out: string[] = [];
  const serious = data.findings.filter((f) => f.severity !== 'info');
  // The count is of what the list below holds (info findings too), and says how many are problems.
  const n = data.findings.length;
  const counted = n === 0 ? 'no IPI or CSD problem found'
    : `${n} finding${n === 1 ? '' : 's'}${serious.length === n ? '' : serious.length === 0 ? ', no IPI or CSD problem' : ` (${serious.length} error or warning)`}`;
  out.push(`<section class="boot" data-boot="${esc(data.boot)}">`);
  out.push(`<h2>boot ${esc(data.boot)}: ${counted}</h2>`);
  // The answer first, as analyze prints it: one line per root cause.
  for (const h of data.headlines) out.push(`<p class="verdict sev-${esc(h.severity)}"><b>${esc(h.severity.toUpperCase())}</b> ${esc(h.text)}</p>`);
  const window = `${secs(data.fromNs, 3)} to ${secs(data.toNs, 3)} s`;
  out.push(`<p class="meta">Times in seconds of the boot's <b>${esc(data.clock ?? 'unknown')}</b> clock. Shown: ${window}${data.whole ? ' (whole boot)' : data.spanNs ? ` of ${secs(data.spanNs.start, 3)} to ${secs(data.spanNs.end, 3)} s` : ''}.
CPUs possible ${esc(data.possible ?? 'unknown')}, present ${esc(data.present ?? 'unknown')}, online at end ${esc(data.onlineAtEnd || 'none known')}.
In this window: ${data.totals.ipis} IPIs, ${data.totals.csds} csds.</p>`);
  if (data.density) {
    out.push(`<p class="note">More than ${data.density.maxItems} IPIs and csds in this window: each lane shows how many were sent or queued to it per time bin (blue bars); IPIs to CPUs that were offline or do not exist and csds never released are still drawn one by one. Pick a shorter window with <code>--from S --to S</code> to see every arrow.</p>`);
  }
  const timed = data.findings.filter((f) => f.ts_ns !== null);
  if (timed.length && data.whole) {
    const [a, b] = zoomWindow(data, timed[0].ts_ns as number);
    out.push(`<p class="note zoom">To zoom on a finding, use the mouse wheel over the timeline, or draw the page again for a time window in seconds (each finding below gives its window; the page then holds only that window's IPIs and csds), e.g. around finding 1: <code>${esc(data.zoomHint(a, b))}</code></p>`);
  }
  out.push(`<div class="legend">${CPU_STATES.map((s) => `<span><i class="sw state-${s}"></i>${s.replace('_', ' ')}</span>`).join('')}
<span><i class="sw nonexistent"></i>nonexistent</span>${data.coverage ? '<span><i class="sw untraced"></i>not covered by ftrace</span>' : ''}
<span><i class="sw line"></i>IPI sender → target</span><span><i class="sw line bad"></i>IPI to an offline or nonexistent CPU</span>
<span><i class="sw csd"></i>csd queued → released (on the target's lane)</span><span><i class="sw csd open"></i>csd never released</span>
<span><i class="badge" style="background:#c1121f">1</i>finding</span></div>`);
  out.push(`<p class="note zoomhelp" data-zoom-help="${svgId}" hidden>Zoom: mouse wheel over the timeline; drag to pan; with the timeline focused (click it), + and - zoom, ← and → pan, 0 shows the whole window again.</p>`);
  out.push(renderSvg(data, svgId, findingIds));
  out.push(`<h3>Findings</h3>`);
  out.push(`<ul id="${listId}" class="findings">`);
  if (data.findings.length === 0) out.push('<li class="none">no IPI or CSD problem found</li>');
  data.findings.forEach((f, n) => {
    const color = SEVERITY_COLORS[f.severity] ?? '#c1121f';
    const when = f.ts_ns === null ? 'time unknown' : `at ${secs(f.ts_ns)} s${f.ts_ns < data.fromNs || f.ts_ns > data.toNs ? ' (outside the shown window)' : ''}`;
    const evidence = f.evidence.map((e) => `<code>${esc(`${e.file}:${e.line}`)}</code>`).join(', ');
    const zoom = f.ts_ns !== null ? `<div class="zoomcmd">zoom: <code>--from ${zoomWindow(data, f.ts_ns).join(' --to ')}</code></div>` : '';
    out.push(`<li id="${findingIds[n]}" class="finding-item sev-${esc(f.severity)}" data-detector="${esc(f.detector)}"><span class="badge" style="background:${color}">${n + 1}</span><span class="sev">${esc(f.severity.toUpperCase())}</span><span class="det">${esc(f.detector)}</span>${esc(f.title)} <span class="ev">(${when})</span>
<div>${esc(f.message)}</div><div class="ev">evidence: ${evidence || 'none'}</div>${zoom}</li>`);
  });
  out.push('</ul>');
  out.push('</section>');
  return out.join('\n');
}

/** One self-contained HTML page with a section per boot. */
export function renderTimelinePage(boots: TimelineData[]): string {
  const title = boots.length === 1 ? `ipitrace timeline: ${boots[0].boot}` : `ipitrace timeline: ${boots.length} boots`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${esc(title)}</h1>
${boots.map(renderBoot).join('\n')}
<script>${ZOOM_SCRIPT}</script>
</body>
</html>
`;
}
