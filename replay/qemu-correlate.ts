// Guest <-> QEMU correlation: each guest IPI send (ipi_sends) is linked to the QEMU write that sent
// it (x86 ICR-low write, GICv3 gicv3_icc_generate_sgi, GICv2 GICD_SGIR write), and QEMU's host clock
// is mapped onto the boot's reference clock (clock_offsets row 'qemu-host').
//
// Keys: the target CPU and the interrupt number the guest's IPI type uses (x86 vectors 0xfb/0xfc/0xfd;
// ARM SGI = IPI index, arm64 or arm32 numbering chosen by which one the data agrees with), plus the
// sender where both sides know it. QEMU names the sender on GIC; on x86 the vCPU of each host thread
// is learned from the matches (table qemu_vcpus).
// With timestamps: a histogram of (QEMU - guest) over same-key pairs gives the offset, a robust line
// fit on nearest pairs gives offset and drift, then the guest sends of each key are linked in order
// to the QEMU sends of that key that follow them (before the sender's next send). Without timestamps:
// longest common subsequence of the two key sequences (guest time order, QEMU file order).
// On ARM a send shows twice in the guest (ipi_send_cpu/_cpumask, then the arch's ipi_raise): the two
// levels are linked independently, each one-to-one, so both can point at the same QEMU write.
import { ARM_IPI_NAMES } from '../parsers/ftrace-events.js';
import type { Db } from '../store/db.js';
import type { BootModel } from './replay.js';
import { isNonexistent } from './universe.js';

/** How much earlier than the guest send (mapped onto QEMU's clock) its QEMU write may appear: the offset wanders. */
const EARLY_NS = 1_000_000;
/** Cap on how much later: the write follows the trace event by us, or by ~30-60 ms when tp_printk prints
 *  each event first or the host deschedules the vCPU thread. */
const MAX_DELAY_NS = 1_000_000_000;
/** A guest send is inside the QEMU log's coverage when QEMU logged something within this before and after it. */
const COVERAGE_NS = 20_000_000;
// Offset histogram: bin width, most bins, guest sends sampled; local offset: links per window.
const HISTOGRAM_BIN_NS = 500_000;
const MAX_BINS = 4_000_000;
const HISTOGRAM_SAMPLES = 200;
const LOCAL_LINKS = 50;
/** Order alignment (no timestamps) is quadratic: larger boots are left uncorrelated. */
const MAX_ORDER_CELLS = 20_000_000;

const X86_VECTORS: Record<number, string> = { 0xfb: 'call_function_single', 0xfc: 'call_function', 0xfd: 'reschedule' };
// IPI names by index (= SGI number): parsers/ftrace-events.ts.
const ARM_IPIS: Record<'arm64' | 'arm32', readonly string[]> = ARM_IPI_NAMES;
// Destination shorthands in events.text (parsers/qemu-trace.ts): x86 ICR, GICv3 IRM=1, GICD_SGIR filter.
const SHORTHAND = /(all-but-self|all|self|broadcast|irm=1|filter=3)$/;
const GENERIC_REASON: Record<string, string> = { reschedule: 'Rescheduling interrupts', call_function: 'Function call interrupts' };

interface GuestSend {
  eventId: number; ts: number; src: number | null; target: number; kind: string; reason: string | null;
  vector: number | null; stream: string; link: QemuSend | null; residual: number | null;
  /** Local correction of the fitted offset (localCorrection), ns. */
  shift: number;
}
interface QemuWrite {
  eventId: number; sourceId: number; line: number; tid: number | null; cpu: number | null; vector: number;
  text: string | null; targets: number[]; t: number | null;
}
interface QemuSend {
  write: QemuWrite; src: number | null; target: number; vector: number; t: number | null; shorthand: string | null; linked: number;
}
interface Fit { a: number; b: number; samples: number; spread: number }

type Arch = 'x86' | 'arm64' | 'arm32';

/**
 * Correlates a replayed boot's guest IPI sends with its QEMU log, if it has one: writes the
 * clock_offsets row 'qemu-host' (when QEMU logged times), qemu_vcpus, qemu_sends and qemu_links.
 */
export function correlateQemu(db: Db, model: BootModel): void {
  const { boot } = model;
  // QEMU times are epoch ns (> 2^53): they are handled as ns since `base`, one of them.
  const base = (db.prepare(`SELECT e.ts_ns AS b FROM events e JOIN sources s USING (source_id)
    WHERE s.boot = ? AND e.format = 'qemu' AND e.op = 'ipi_send' AND e.ts_ns IS NOT NULL LIMIT 1`)
    .safeIntegers(true).get(boot) as { b: bigint } | undefined)?.b ?? 0n;
  // x86: fixed-mode ICR writes only (INIT, SIPI and NMI carry no IPI vector). The rows are turned
  // into QemuWrite in place: a boot can hold millions of them.
  const writes = db.prepare(`SELECT e.event_id AS eventId, e.source_id AS sourceId, e.line, e.host_tid AS tid, e.cpu,
      e.vector, e.text, e.ts_ns - ? AS t, CASE WHEN e.target_cpu IS NOT NULL THEN e.target_cpu
        ELSE (SELECT group_concat(t.cpu) FROM event_targets t WHERE t.event_id = e.event_id) END AS targets
    FROM events e JOIN sources s USING (source_id)
    WHERE s.boot = ? AND e.format = 'qemu' AND e.op = 'ipi_send' AND (substr(e.kind, 1, 5) != 'apic_' OR e.text LIKE 'fixed%')
    ORDER BY e.event_id`).all(base, boot) as QemuWrite[];
  const intern = interner();
  for (const w of writes) {
    const targets = w.targets as unknown as string | number | null;
    w.targets = targets === null ? [] : typeof targets === 'number' ? [targets] : targets.split(',').map(Number);
    w.text = intern(w.text);
  }
  if (writes.length === 0) return;
  const guest = db.prepare(`SELECT event_id AS eventId, ts_ns AS ts, src_cpu AS src, target_cpu AS target, kind, reason
    FROM ipi_sends WHERE boot = ? AND ts_ns IS NOT NULL ORDER BY ts_ns, event_id, target_cpu`).all(boot) as GuestSend[];
  for (const g of guest) {
    g.kind = intern(g.kind)!;
    g.reason = intern(g.reason);
  }

  const arch = chooseArch(writes, guest);
  for (const g of guest) {
    g.vector = guestVector(arch, g.kind, g.reason);
    g.stream = g.kind === 'ipi_raise' ? 'arch' : 'generic';
    g.link = null;
    g.residual = null;
    g.shift = 0;
  }
  const timed = writes.every((w) => w.t !== null);
  const vcpus = vcpuSet(model, writes, guest);
  const tidCpu = new Map<number, { cpu: number; votes: number; total: number; basis: string }>();
  for (const [tid, votes] of tally(writes.filter((w) => w.cpu !== null && w.tid !== null).map((w) => [w.tid!, w.cpu!]))) {
    tidCpu.set(tid, { ...majority(votes), basis: 'gic interface' });
  }

  let fit: Fit | null = null;
  let sends: QemuSend[];
  if (timed) {
    // Offset first (the sender plays no part yet: x86 does not log it), then the thread -> vCPU map.
    sends = expand(writes, tidCpu, vcpus);
    fit = fitClock(guest, sends);
    if (fit !== null && arch === 'x86') {
      link(guest, sends, fit, false);
      for (const [tid, votes] of tally(guest.filter((g) => g.link !== null && g.link.write.tid !== null && g.src !== null)
        .map((g) => [g.link!.write.tid!, g.src!]))) tidCpu.set(tid, { ...majority(votes), basis: 'ipi match' });
      sends = expand(writes, tidCpu, vcpus);
    }
    if (fit !== null) {
      link(guest, sends, fit, true);
      localCorrection(guest);
      link(guest, sends, fit, true);
    }
  } else {
    sends = expand(writes, tidCpu, vcpus);
    linkByOrder(guest, sends);
  }
  write(db, model, base, arch, guest, sends, tidCpu, fit);
}

/** x86 when QEMU logs APIC writes; on GIC the ARM numbering under which guest and QEMU counts agree best. */
function chooseArch(writes: QemuWrite[], guest: GuestSend[]): Arch {
  if (writes.some((w) => w.text !== null && /^(fixed|lowest)/.test(w.text))) return 'x86';
  const qemuCounts = new Map<number, number>();
  for (const w of writes) qemuCounts.set(w.vector, (qemuCounts.get(w.vector) ?? 0) + Math.max(1, w.targets.length));
  const score = (arch: Arch) => {
    const counts = new Map<number, number>();
    for (const g of guest) {
      const v = guestVector(arch, g.kind, g.reason);
      if (v !== null && g.kind === 'ipi_raise') counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    let s = 0;
    for (const [v, n] of counts) s += Math.min(n, qemuCounts.get(v) ?? 0);
    return s;
  };
  return score('arm32') > score('arm64') ? 'arm32' : 'arm64';
}

/** The interrupt number QEMU shows for a guest send, null when the IPI type is not known. */
function guestVector(arch: Arch, kind: string, reason: string | null): number | null {
  if (reason === null) return null;
  if (arch === 'x86') {
    if (reason === 'reschedule') return 0xfd;
    if (reason === 'call_function') return kind === 'ipi_send_cpumask' ? 0xfc : 0xfb;
    return null;
  }
  const index = ARM_IPIS[arch].indexOf(GENERIC_REASON[reason] ?? reason);
  return index < 0 ? null : index;
}

/** The IPI name of a QEMU interrupt number, null when the guest does not trace that type. */
function vectorReason(arch: Arch, vector: number): string | null {
  return arch === 'x86' ? X86_VECTORS[vector] ?? null : ARM_IPIS[arch][vector] ?? null;
}

/** CPUs that have a vCPU: the present ones (or at least those when only a lower bound is known), and every CPU seen working. */
function vcpuSet(model: BootModel, writes: QemuWrite[], guest: GuestSend[]): number[] {
  const cpus = new Set<number>(model.universe.seen);
  for (let cpu = 0; cpu < (model.universe.present ?? 0); cpu++) cpus.add(cpu);
  for (const w of writes) if (w.cpu !== null) cpus.add(w.cpu);
  for (const g of guest) if (g.src !== null) cpus.add(g.src);
  return [...cpus].sort((a, b) => a - b);
}

/** One QEMU send per target; shorthands (all, all-but-self, self, broadcast) expanded over the vCPUs. */
function expand(writes: QemuWrite[], tidCpu: Map<number, { cpu: number }>, vcpus: number[]): QemuSend[] {
  const sends: QemuSend[] = [];
  for (const w of writes) {
    const src = w.cpu ?? (w.tid !== null ? tidCpu.get(w.tid)?.cpu ?? null : null);
    const shorthand = SHORTHAND.exec(w.text ?? '')?.[1] ?? null;
    const targets = shorthand === null ? w.targets
      : shorthand === 'self' ? (src === null ? [] : [src])
      : shorthand === 'all-but-self' || shorthand === 'irm=1' ? vcpus.filter((c) => c !== src)
      : vcpus;
    for (const target of targets) sends.push({ write: w, src, target, vector: w.vector, t: w.t, shorthand, linked: 0 });
  }
  return sends;
}

function keyOf(target: number, vector: number): string {
  return `${target}:${vector}`;
}

function byKey(sends: QemuSend[]): Map<string, QemuSend[]> {
  const map = new Map<string, QemuSend[]>();
  for (const s of sends) {
    const key = keyOf(s.target, s.vector);
    const list = map.get(key);
    if (list) list.push(s);
    else map.set(key, [s]);
  }
  for (const list of map.values()) list.sort((x, y) => x.t! - y.t!);
  return map;
}

function srcAgrees(g: GuestSend, s: QemuSend): boolean {
  return g.src === null || s.src === null || g.src === s.src;
}

/** Index of the first element whose time is >= value (list sorted by time). */
function lowerBound<T>(list: ArrayLike<T>, value: number, time: (x: T) => number): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (time(list[mid]) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * QEMU time = a + b * guest time. The offset is the mode of (QEMU - guest) over same-key pairs of
 * a sample of guest sends; the line is then fitted on each send's nearest QEMU send, dropping outliers.
 */
function fitClock(guest: GuestSend[], sends: QemuSend[]): Fit | null {
  const keyed = byKey(sends);
  const usable = guest.filter((g) => g.vector !== null && keyed.has(keyOf(g.target, g.vector)));
  if (usable.length === 0) return null;
  // Differences lie between (first QEMU - last guest) and (last QEMU - first guest): one counter per
  // bin, bins widened for very long recordings.
  const lowest = sends.reduce((m, x) => Math.min(m, x.t!), Infinity) - usable[usable.length - 1].ts;
  const highest = sends.reduce((m, x) => Math.max(m, x.t!), -Infinity) - usable[0].ts;
  const width = Math.max(HISTOGRAM_BIN_NS, Math.ceil((highest - lowest) / MAX_BINS));
  const low = Math.floor(lowest / width);
  const histogram = new Uint32Array(Math.floor(highest / width) - low + 2);
  const step = Math.max(1, Math.floor(usable.length / HISTOGRAM_SAMPLES));
  for (let i = 0; i < usable.length; i += step) {
    const g = usable[i];
    for (const x of keyed.get(keyOf(g.target, g.vector!))!) histogram[Math.floor((x.t! - g.ts) / width) - low]++;
  }
  let best = 0;
  for (let bin = 1; bin < histogram.length - 1; bin++) {
    if (histogram[bin] + histogram[bin + 1] > histogram[best] + histogram[best + 1]) best = bin;
  }
  let fit: Fit = { a: (best + low + 1) * width, b: 1, samples: 0, spread: 0 };
  for (const tolerance of [2 * width, EARLY_NS, EARLY_NS]) {
    const pairs: [number, number][] = [];
    for (const g of usable) {
      const list = keyed.get(keyOf(g.target, g.vector!))!;
      const predicted = fit.a + fit.b * g.ts;
      const i = lowerBound(list, predicted, (x) => x.t!);
      let nearest: number | null = null;
      for (const s of [list[i - 1], list[i]]) {
        if (s && srcAgrees(g, s) && Math.abs(s.t! - predicted) <= tolerance
          && (nearest === null || Math.abs(s.t! - predicted) < Math.abs(nearest - predicted))) nearest = s.t!;
      }
      if (nearest !== null) pairs.push([g.ts, nearest]);
    }
    if (pairs.length < 2) return null;
    fit = robustLine(pairs);
  }
  return fit;
}

/** Least squares, refitted once without the pairs further than 4 MADs (at least 20 us) from the line. */
function robustLine(pairs: [number, number][]): Fit {
  let line = leastSquares(pairs);
  const residual = ([x, y]: [number, number]) => y - (line.a + line.b * x);
  const mad = quantile(pairs.map((p) => Math.abs(residual(p))), 0.5);
  const kept = pairs.filter((p) => Math.abs(residual(p)) <= Math.max(4 * 1.4826 * mad, 20_000));
  if (kept.length >= 2) line = leastSquares(kept);
  const residuals = kept.map(residual);
  return { ...line, samples: kept.length, spread: Math.max(...residuals) - Math.min(...residuals) };
}

function leastSquares(pairs: [number, number][]): { a: number; b: number } {
  const n = pairs.length;
  const mx = pairs.reduce((s, p) => s + p[0], 0) / n;
  const my = pairs.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0, sxx = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const b = sxx > 0 ? sxy / sxx : 1;
  return { a: my - b * mx, b };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length * q)] ?? 0;
}

/**
 * Links guest sends to QEMU sends in order, per guest level (stream) and key: each guest send takes
 * the first QEMU send not yet taken between EARLY_NS before its time on QEMU's clock and its
 * sender's next send of the same level (the write comes after the trace event and before the next
 * one; with tp_printk a console print, or the host descheduling the vCPU, can come in between), at
 * most MAX_DELAY_NS. QEMU sends passed over stay unlinked. The key includes the sender where the
 * guest knows it; QEMU sends of unknown sender are a fallback queue.
 */
function link(guest: GuestSend[], sends: QemuSend[], fit: Fit, withSrc: boolean): void {
  const useSrc = withSrc && guest.every((g) => g.src !== null);
  const key = (src: number | null, target: number, vector: number) => `${useSrc ? src ?? '*' : '*'}:${target}:${vector}`;
  const queues = new Map<string, QemuSend[]>();
  for (const s of [...sends].sort((x, y) => x.t! - y.t!)) {
    const k = key(s.src, s.target, s.vector);
    (queues.get(k) ?? queues.set(k, []).get(k)!).push(s);
  }
  for (const s of sends) s.linked = 0;
  for (const g of guest) g.link = g.residual = null;
  for (const stream of new Set(guest.map((g) => g.stream))) {
    const level = guest.filter((g) => g.stream === stream);
    const next = new Map<string, number>();
    const taken = new Set<QemuSend>();
    const take = (k: string, from: number, to: number): QemuSend | null => {
      const queue = queues.get(k) ?? [];
      let j = next.get(k) ?? 0;
      while (j < queue.length && (queue[j].t! < from || taken.has(queue[j]))) j++;
      next.set(k, j);
      return j < queue.length && queue[j].t! <= to ? queue[j] : null;
    };
    const following = nextSendTimes(level);
    level.forEach((g, i) => {
      if (g.vector === null) return;
      const predicted = fit.a + fit.b * g.ts + g.shift;
      const last = fit.a + fit.b * Math.min(following[i], g.ts + MAX_DELAY_NS) + g.shift + EARLY_NS;
      const s = take(key(g.src, g.target, g.vector), predicted - EARLY_NS, last)
        ?? (useSrc ? take(key(null, g.target, g.vector), predicted - EARLY_NS, last) : null);
      if (s === null) return;
      g.link = s;
      g.residual = s.t! - predicted + g.shift; // around the fitted line
      s.linked++;
      taken.add(s);
    });
  }
}

/**
 * The offset wanders by up to ~1 ms around the fitted line (host load, guest clock calibration): for
 * each guest send, the 10th percentile of the residuals of the LOCAL_LINKS linked sends nearest in
 * time (g.shift; a low percentile, as delays only ever add to the residual).
 */
function localCorrection(guest: GuestSend[]): void {
  const linked = guest.filter((g) => g.residual !== null).map((g) => g.residual!);
  const windows = new Map<number, number>(); // window start (a multiple of 8) -> its 10th percentile
  let seen = 0;
  for (const g of guest) {
    if (g.residual !== null) seen++;
    const from = Math.max(0, Math.min(Math.floor((seen - LOCAL_LINKS / 2) / 8) * 8, linked.length - LOCAL_LINKS));
    if (!windows.has(from)) windows.set(from, quantile(linked.slice(from, from + LOCAL_LINKS), 0.1));
    g.shift = windows.get(from)!;
  }
}

/** For each send (in time order), the time of its sender's next send event (Infinity: none or unknown). */
function nextSendTimes(level: GuestSend[]): number[] {
  const result = new Array<number>(level.length).fill(Infinity);
  const after = new Map<number, number>();
  for (let i = level.length - 1; i >= 0;) {
    let first = i; // the rows first..i are one event (one row per target)
    while (first > 0 && level[first - 1].eventId === level[i].eventId) first--;
    const src = level[i].src;
    if (src !== null) {
      result.fill(after.get(src) ?? Infinity, first, i + 1);
      after.set(src, level[i].ts);
    }
    i = first - 1;
  }
  return result;
}

/**
 * No timestamps: per guest level, the longest common subsequence of the guest sends (time order)
 * and the QEMU sends (file order), where elements match when their target, vector and (where both
 * know it) sender agree.
 */
function linkByOrder(guest: GuestSend[], sends: QemuSend[]): void {
  for (const stream of new Set(guest.map((g) => g.stream))) {
    const gs = guest.filter((g) => g.stream === stream && g.vector !== null);
    const n = gs.length, m = sends.length;
    if (n === 0 || (n + 1) * (m + 1) > MAX_ORDER_CELLS) continue;
    const same = (g: GuestSend, s: QemuSend) => g.target === s.target && g.vector === s.vector && srcAgrees(g, s);
    const table = new Uint16Array((n + 1) * (m + 1)); // lengths <= min(n, m) < 2^16 under the cap
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        const at = i * (m + 1) + j;
        table[at] = same(gs[i], sends[j]) ? table[at + m + 2] + 1 : Math.max(table[at + m + 1], table[at + 1]);
      }
    }
    for (let i = 0, j = 0; i < n && j < m;) {
      const at = i * (m + 1) + j;
      if (same(gs[i], sends[j]) && table[at] === table[at + m + 2] + 1) {
        gs[i].link = sends[j];
        sends[j].linked++;
        i++;
        j++;
      } else if (table[at + m + 1] >= table[at + 1]) i++;
      else j++;
    }
  }
}

/** One copy of each of the few distinct strings that SQLite hands out again for every row. */
function interner(): (text: string | null) => string | null {
  const seen = new Map<string, string>();
  return (text) => {
    if (text === null) return null;
    const known = seen.get(text);
    if (known !== undefined) return known;
    seen.set(text, text);
    return text;
  };
}

function tally<K>(pairs: [K, number][]): Map<K, Map<number, number>> {
  const result = new Map<K, Map<number, number>>();
  for (const [key, value] of pairs) {
    const votes = result.get(key) ?? result.set(key, new Map()).get(key)!;
    votes.set(value, (votes.get(value) ?? 0) + 1);
  }
  return result;
}

function majority(votes: Map<number, number>): { cpu: number; votes: number; total: number } {
  let cpu = -1, best = 0, total = 0;
  for (const [value, n] of votes) {
    total += n;
    if (n > best) [cpu, best] = [value, n];
  }
  return { cpu, votes: best, total };
}

function write(db: Db, model: BootModel, base: bigint, arch: Arch, guest: GuestSend[], sends: QemuSend[],
  tidCpu: Map<number, { cpu: number; votes: number; total: number; basis: string }>, fit: Fit | null): void {
  const { boot, universe } = model;
  // ref_ns = (qemu_ns + offset_ns) * (1 + drift_ppm / 1e6), from qemu - base = a + b * ref.
  const offset = fit === null ? null : -(base + BigInt(Math.round(fit.a)));
  const toRef = (t: number | null) => (fit === null || t === null ? null : Math.round((t - fit.a) / fit.b));
  if (fit !== null) {
    db.prepare(`INSERT INTO clock_offsets (boot, clock, ref_clock, offset_ns, method, samples, spread_ns, drift_ppm)
      VALUES (?, 'qemu-host', ?, ?, 'ipi-match', ?, ?, ?)`)
      .run(boot, model.clocks.ref, offset, fit.samples, Math.round(fit.spread), (1 / fit.b - 1) * 1e6);
  }
  const insertVcpu = db.prepare('INSERT INTO qemu_vcpus (boot, host_tid, cpu, basis, votes, samples) VALUES (?,?,?,?,?,?)');
  for (const [tid, m] of [...tidCpu].sort((x, y) => x[0] - y[0])) insertVcpu.run(boot, tid, m.cpu, m.basis, m.votes, m.total);

  const covered = coverage(db, boot, base, fit);
  const insertLink = db.prepare(`INSERT INTO qemu_links (boot, guest_event_id, target_cpu, qemu_event_id, vector, method,
    qemu_ns, residual_ns, in_qemu_log) VALUES (?,?,?,?,?,?,?,?,?)`);
  for (const g of guest) {
    const s = g.link;
    insertLink.run(boot, g.eventId, g.target, s?.write.eventId ?? null, g.vector, s === null ? null : fit === null ? 'order' : 'time',
      s === null ? null : toRef(s.t), g.residual === null ? null : Math.round(g.residual / (fit?.b ?? 1)),
      covered === null ? null : covered(g) ? 1 : 0);
  }
  const insertSend = db.prepare(`INSERT INTO qemu_sends (boot, qemu_event_id, source_id, line, host_tid, src_cpu, target_cpu,
    shorthand, vector, reason, ts_ns, has_vcpu, linked) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  for (const s of sends) {
    const hasVcpu = isNonexistent(universe, s.target) ? 0
      : (universe.present !== null && s.target < universe.present) || universe.seen.has(s.target) ? 1 : null;
    insertSend.run(boot, s.write.eventId, s.write.sourceId, s.write.line, s.write.tid, s.src, s.target, s.shorthand, s.vector,
      vectorReason(arch, s.vector), toRef(s.t), hasVcpu, s.linked);
  }
}

/** Every QEMU line's time (ns since `base`), sorted; read into one array without a row per line. */
function qemuTimes(db: Db, boot: string, base: bigint): Float64Array {
  const count = db.prepare(`SELECT count(*) FROM events e JOIN sources s USING (source_id)
    WHERE s.boot = ? AND e.format = 'qemu' AND e.ts_ns IS NOT NULL`).pluck().get(boot) as number;
  const times = new Float64Array(count);
  let i = 0;
  const rows = db.prepare(`SELECT e.ts_ns - ? FROM events e JOIN sources s USING (source_id)
    WHERE s.boot = ? AND e.format = 'qemu' AND e.ts_ns IS NOT NULL`).raw(true).pluck(true);
  for (const t of rows.iterate(base, boot) as IterableIterator<number>) if (i < count) times[i++] = t;
  return times.subarray(0, i).sort();
}

/**
 * Whether QEMU was logging around a guest send: some QEMU line within COVERAGE_NS before and after its
 * time on QEMU's clock (QEMU tracing can be switched off, e.g. while the guest dumps its trace).
 */
function coverage(db: Db, boot: string, base: bigint, fit: Fit | null): ((g: GuestSend) => boolean) | null {
  if (fit === null) return null;
  let times: Float64Array | null = null; // read only when some guest send is not linked
  return (g) => {
    if (g.link !== null) return true;
    times ??= qemuTimes(db, boot, base);
    const t = fit.a + fit.b * g.ts + g.shift;
    const lo = lowerBound(times, t, (x) => x);
    return lo > 0 && times[lo - 1] >= t - COVERAGE_NS && lo < times.length && times[lo] <= t + COVERAGE_NS;
  };
}
