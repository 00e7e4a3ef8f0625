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
import { BatchInsert, ROWS_PER_STATEMENT } from '../store/batch-insert.js';
import type { Db } from '../store/db.js';
import { readQemuWrites, type QemuWrites as Writes } from '../store/qemu-writes.js';
import { grown } from '../store/typed-arrays.js';
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
// Offset segments of a long recording (fitClock), each of this many guest sends at least.
const OFFSET_SEGMENTS = 8;
const SEGMENT_MIN_SENDS = 1000;
/** A segment's offset is looked for this close to the whole recording's (300 ppm over 24 min is 0.43 s). */
const SEGMENT_WINDOW_NS = 1_000_000_000;
/** Refits of the clock line (at least 3), each on the pairs the one before finds, while they grow (mixed-5M: 5). */
const MAX_FIT_ROUNDS = 16;
const LOCAL_LINKS = 50;
/** Order alignment (no timestamps) is quadratic: larger boots are left uncorrelated. */
const MAX_ORDER_CELLS = 20_000_000;

const X86_VECTORS: Record<number, string> = { 0xfb: 'call_function_single', 0xfc: 'call_function', 0xfd: 'reschedule' };
// IPI names by index (= SGI number): parsers/ftrace-events.ts.
const ARM_IPIS: Record<'arm64' | 'arm32', readonly string[]> = ARM_IPI_NAMES;
const GENERIC_REASON: Record<string, string> = { reschedule: 'Rescheduling interrupts', call_function: 'Function call interrupts' };

// A boot's QEMU writes, guest sends and QEMU sends are held as columns (typed arrays indexed by row;
// -1 or NaN for NULL): a boot can hold millions of them, and an object per row cost ~250 MB at 5 M events.
const NONE = -1;

/** The boot's guest sends (ipi_sends rows), in (ts_ns, event_id, target_cpu) order. */
interface Guests {
  count: number;
  eventId: Float64Array;
  ts: Float64Array;
  src: Int32Array;
  target: Int32Array;
  /** The send's event name and IPI reason, as an index into `types`. */
  type: Int32Array;
  types: SendType[];
  /** The interrupt number QEMU shows for it, NONE: not known. */
  vector: Int32Array;
  /** 1: the arch level (ipi_raise), 0: the generic one (ipi_send_cpu/_cpumask). */
  arch: Uint8Array;
  /** Index of the QEMU send it is linked to, NONE: none. */
  link: Int32Array;
  /** QEMU time minus predicted time of the link, NaN: not linked. */
  residual: Float64Array;
  /** Local correction of the fitted offset (localCorrection), ns. */
  shift: Float64Array;
}

interface SendType {
  kind: string;
  reason: string | null;
}

/** One QEMU send per write and target. */
interface Sends {
  count: number;
  write: Int32Array;
  src: Int32Array;
  target: Int32Array;
  vector: Int32Array;
  t: Float64Array;
  /** Guest sends linked to it. */
  linked: Int32Array;
  /** Send indices in time order (ties in index order). */
  byTime: Int32Array;
}

interface Fit { a: number; b: number; samples: number; spread: number }

type Arch = 'x86' | 'arm64' | 'arm32';
type VcpuOf = Map<number, { cpu: number; votes: number; total: number; basis: string }>;

/**
 * Correlates a replayed boot's guest IPI sends with its QEMU log, if it has one: writes the
 * clock_offsets row 'qemu-host' (when QEMU logged times), qemu_vcpus, qemu_sends and qemu_links.
 * `guestSends`: collected by replay, undefined when the boot has no QEMU log (hasQemuLog).
 */
export function correlateQemu(db: Db, model: BootModel, guestSends: GuestSends | undefined): void {
  const { boot } = model;
  if (guestSends === undefined) return;
  // QEMU times are epoch ns (> 2^53): they are handled as ns since `base`, one of them.
  const base = firstSendTime(db, boot);
  const writes = readQemuWrites(db, boot, base);
  if (writes.count === 0) return;
  const guest = guestSends.guests();
  const arch = chooseArch(writes, guest);
  for (let g = 0; g < guest.count; g++) {
    const { kind, reason } = guest.types[guest.type[g]];
    guest.vector[g] = guestVector(arch, kind, reason) ?? NONE;
    guest.arch[g] = kind === 'ipi_raise' ? 1 : 0;
  }
  const timed = !writes.t.some(Number.isNaN);
  const vcpus = vcpuSet(model, writes, guest);
  const gicVotes = new Map<number, Map<number, number>>();
  for (let w = 0; w < writes.count; w++) if (writes.cpu[w] !== NONE && writes.tid[w] !== NONE) vote(gicVotes, writes.tid[w], writes.cpu[w]);
  const tidCpu: VcpuOf = new Map();
  for (const [tid, votes] of gicVotes) tidCpu.set(tid, { ...majority(votes), basis: 'gic interface' });

  let fit: Fit | null = null;
  let sends: Sends;
  if (timed) {
    // Offset first (the sender plays no part yet: x86 does not log it), then the thread -> vCPU map.
    sends = expand(writes, tidCpu, vcpus);
    fit = fitClock(guest, sends);
    if (fit !== null && arch === 'x86') {
      link(guest, sends, fit, false);
      const matchVotes = new Map<number, Map<number, number>>();
      for (let g = 0; g < guest.count; g++) {
        const s = guest.link[g];
        const tid = s === NONE ? NONE : writes.tid[sends.write[s]];
        if (tid !== NONE && guest.src[g] !== NONE) vote(matchVotes, tid, guest.src[g]);
      }
      for (const [tid, votes] of matchVotes) tidCpu.set(tid, { ...majority(votes), basis: 'ipi match' });
      sends = expand(writes, tidCpu, vcpus, sends);
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
  write(db, model, base, arch, writes, guest, sends, tidCpu, fit);
}

/**
 * The time of the boot's first QEMU ipi_send line (smallest event_id), 0 when none has one. Each
 * QEMU file is read from its start in line order (= event_id order), through events_source_line:
 * through events_op the search walked every guest ipi_send of files ingested before it (55-78 ms
 * for an ftrace file of 1 M events).
 */
export function firstSendTime(db: Db, boot: string): bigint {
  const first = db.prepare(`SELECT event_id, ts_ns FROM events WHERE source_id = ? AND format = 'qemu' AND +op = 'ipi_send'
    AND ts_ns IS NOT NULL ORDER BY line LIMIT 1`).safeIntegers(true);
  let found: { event_id: bigint; ts_ns: bigint } | undefined;
  for (const sourceId of qemuSources(db, boot)) {
    const row = first.get(sourceId) as { event_id: bigint; ts_ns: bigint } | undefined;
    if (row !== undefined && (found === undefined || row.event_id < found.event_id)) found = row;
  }
  return found?.ts_ns ?? 0n;
}

/** The boot's files that have QEMU trace lines (sources.format_counts). */
function qemuSources(db: Db, boot: string): number[] {
  return db.prepare(`SELECT source_id FROM sources WHERE boot = ? AND json_extract(format_counts, '$.qemu') > 0`)
    .pluck().all(boot) as number[];
}

/** Whether some file of the boot has QEMU trace lines. */
export function hasQemuLog(db: Db, boot: string): boolean {
  return qemuSources(db, boot).length > 0;
}

/**
 * The boot's guest sends, collected as replay writes them to ipi_sends: reading them back cost
 * ~1 us per row with the sort (0.34 s at 5 M events). NaN times are left out, as SQLite stores
 * them as NULL.
 */
export class GuestSends {
  private n = 0;
  private eventId = new Float64Array(1024);
  private ts = new Float64Array(1024);
  private src = new Int32Array(1024);
  private target = new Int32Array(1024);
  private type = new Int32Array(1024);
  private readonly types: SendType[] = [];
  private readonly typeIds = new Map<string, number>();
  /** Every send came after the one before in (ts, event_id, target) order. */
  private inOrder = true;

  add(eventId: number, ts: number, src: number | null, target: number, kind: string, reason: string | null): void {
    if (Number.isNaN(ts)) return;
    const n = this.n;
    if (n === this.ts.length) {
      this.eventId = grown(this.eventId, n + 1);
      this.ts = grown(this.ts, n + 1);
      this.src = grown(this.src, n + 1);
      this.target = grown(this.target, n + 1);
      this.type = grown(this.type, n + 1);
    }
    if (n > 0 && this.inOrder && compareSends(this.ts[n - 1], this.eventId[n - 1], this.target[n - 1], ts, eventId, target) > 0) {
      this.inOrder = false;
    }
    this.eventId[n] = eventId;
    this.ts[n] = ts;
    this.src[n] = src ?? NONE;
    this.target[n] = target;
    this.type[n] = this.typeId(kind, reason);
    this.n = n + 1;
  }

  private typeId(kind: string, reason: string | null): number {
    const key = reason === null ? kind : `${kind}\u0000${reason}`;
    let id = this.typeIds.get(key);
    if (id === undefined) {
      this.typeIds.set(key, (id = this.types.length));
      this.types.push({ kind, reason });
    }
    return id;
  }

  /** The sends in (ts, event_id, target) order, with room for the correlation's results; call once. */
  guests(): Guests {
    const count = this.n;
    const columns = { eventId: this.eventId.subarray(0, count), ts: this.ts.subarray(0, count), src: this.src.subarray(0, count),
      target: this.target.subarray(0, count), type: this.type.subarray(0, count) };
    return {
      count, ...(this.inOrder ? columns : sortedSends(columns)), types: this.types,
      vector: new Int32Array(count), arch: new Uint8Array(count), link: new Int32Array(count).fill(NONE),
      residual: new Float64Array(count).fill(Number.NaN), shift: new Float64Array(count),
    };
  }
}

type SendColumns = Pick<Guests, 'eventId' | 'ts' | 'src' | 'target' | 'type'>;

/** Copies of the columns in (ts, event_id, target) order. */
function sortedSends(c: SendColumns): SendColumns {
  const order = Int32Array.from({ length: c.ts.length }, (_, i) => i);
  order.sort((x, y) => compareSends(c.ts[x], c.eventId[x], c.target[x], c.ts[y], c.eventId[y], c.target[y]));
  return {
    eventId: Float64Array.from(order, (i) => c.eventId[i]), ts: Float64Array.from(order, (i) => c.ts[i]),
    src: Int32Array.from(order, (i) => c.src[i]), target: Int32Array.from(order, (i) => c.target[i]),
    type: Int32Array.from(order, (i) => c.type[i]),
  };
}

function compareSends(tsA: number, idA: number, targetA: number, tsB: number, idB: number, targetB: number): number {
  return tsA - tsB || idA - idB || targetA - targetB;
}

/** x86 when QEMU logs APIC writes; on GIC the ARM numbering under which guest and QEMU counts agree best. */
function chooseArch(writes: Writes, guest: Guests): Arch {
  if (writes.x86) return 'x86';
  const qemuCounts = new Map<number, number>();
  for (let w = 0; w < writes.count; w++) {
    const v = writes.vector[w];
    qemuCounts.set(v, (qemuCounts.get(v) ?? 0) + Math.max(1, writes.firstTarget[w + 1] - writes.firstTarget[w]));
  }
  const score = (arch: Arch) => {
    const counts = new Map<number, number>();
    for (let g = 0; g < guest.count; g++) {
      const { kind, reason } = guest.types[guest.type[g]];
      if (kind !== 'ipi_raise') continue;
      const v = guestVector(arch, kind, reason);
      if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
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

/**
 * CPUs that have a vCPU: the present ones (or at least those when only a lower bound is known), and
 * every CPU seen working. When nothing says (tp_printk lines carry no CPU, the console no CPU count,
 * x86 QEMU logs no sender), the CPUs the guest sends IPIs to: else no shorthand write would expand.
 */
function vcpuSet(model: BootModel, writes: Writes, guest: Guests): number[] {
  const cpus = new Set<number>(model.universe.seen);
  for (let cpu = 0; cpu < (model.universe.present ?? 0); cpu++) cpus.add(cpu);
  for (let w = 0; w < writes.count; w++) if (writes.cpu[w] !== NONE) cpus.add(writes.cpu[w]);
  for (let g = 0; g < guest.count; g++) if (guest.src[g] !== NONE) cpus.add(guest.src[g]);
  if (cpus.size === 0) for (let g = 0; g < guest.count; g++) cpus.add(guest.target[g]);
  return [...cpus].sort((a, b) => a - b);
}

/**
 * One QEMU send per target; shorthands (all, all-but-self, self, broadcast) expanded over the vCPUs.
 * Written into `previous` when that has room for exactly as many (x86 expands twice, a boot can
 * have millions of sends).
 */
function expand(writes: Writes, tidCpu: Map<number, { cpu: number }>, vcpus: number[], previous?: Sends): Sends {
  const srcOf = new Int32Array(writes.count);
  let count = 0;
  for (let w = 0; w < writes.count; w++) {
    const tid = writes.tid[w];
    srcOf[w] = writes.cpu[w] !== NONE ? writes.cpu[w] : tid !== NONE ? tidCpu.get(tid)?.cpu ?? NONE : NONE;
    count += targetsOf(writes, w, srcOf[w], vcpus).length;
  }
  const sends: Sends = previous?.count === count ? previous : {
    count, write: new Int32Array(count), src: new Int32Array(count), target: new Int32Array(count),
    vector: new Int32Array(count), t: new Float64Array(count), linked: new Int32Array(count), byTime: new Int32Array(count),
  };
  let s = 0;
  for (let w = 0; w < writes.count; w++) {
    for (const target of targetsOf(writes, w, srcOf[w], vcpus)) {
      sends.write[s] = w;
      sends.src[s] = srcOf[w];
      sends.target[s] = target;
      sends.vector[s] = writes.vector[w];
      sends.t[s] = writes.t[w];
      s++;
    }
  }
  for (let i = 0; i < count; i++) sends.byTime[i] = i;
  // QEMU logs its writes in time order as a rule: then the index order is the sorted order already
  // (ties in index order), and the comparator sort (12 ms per 76 k sends, twice on x86) is skipped.
  if (!inTimeOrder(sends.t, count)) sends.byTime.sort((x, y) => sends.t[x] - sends.t[y] || x - y);
  return sends;
}

/** t[0..count) never goes back (false when a time is NaN: QEMU without timestamps). */
function inTimeOrder(t: Float64Array, count: number): boolean {
  for (let i = 1; i < count; i++) if (!(t[i - 1] <= t[i])) return false;
  return count === 0 || !Number.isNaN(t[0]);
}

function targetsOf(writes: Writes, w: number, src: number, vcpus: number[]): Int32Array | number[] {
  const shorthand = writes.shorthand[w];
  if (shorthand === null) return writes.targets.subarray(writes.firstTarget[w], writes.firstTarget[w + 1]);
  if (shorthand === 'self') return src === NONE ? [] : [src];
  if (shorthand === 'all-but-self' || shorthand === 'irm=1') return vcpus.filter((c) => c !== src);
  return vcpus;
}

/** Map key of a (sender, target, vector) triple; sender NONE: any. */
function keyOf(src: number, target: number, vector: number): number {
  return (src + 1) * 2 ** 36 + target * 2 ** 20 + vector;
}

/** A guest send's key in the map of QEMU sends by key (byKey): its target and vector, any sender. */
function guestKey(guest: Guests, g: number): number {
  return keyOf(NONE, guest.target[g], guest.vector[g]);
}

/** QEMU sends by (target, vector), each list in time order. */
function byKey(sends: Sends): Map<number, Int32Array> {
  return groupBy(sends.byTime, (s) => keyOf(NONE, sends.target[s], sends.vector[s]));
}

/**
 * `items` grouped by `key`, each group in the order of `items`: views of one Int32Array (a list of
 * numbers per key cost twice the memory, and a boot can hold millions of QEMU sends).
 */
function groupBy(items: Int32Array, key: (item: number) => number): Map<number, Int32Array> {
  const sizes = new Map<number, { list: Int32Array; n: number }>();
  for (const item of items) {
    const k = key(item);
    const group = sizes.get(k);
    if (group) group.n++;
    else sizes.set(k, { list: EMPTY, n: 1 });
  }
  const all = new Int32Array(items.length);
  let at = 0;
  for (const group of sizes.values()) {
    group.list = all.subarray(at, at + group.n);
    at += group.n;
    group.n = 0;
  }
  for (const item of items) {
    const group = sizes.get(key(item))!;
    group.list[group.n++] = item;
  }
  return new Map(Array.from(sizes, ([k, { list }]) => [k, list]));
}

const EMPTY = new Int32Array(0);

/** The guest sends (indices, in time order) that `keep` accepts. */
function guestsWhere(guest: Guests, keep: (g: number) => boolean): Int32Array {
  let n = 0;
  for (let g = 0; g < guest.count; g++) if (keep(g)) n++;
  const picked = new Int32Array(n);
  n = 0;
  for (let g = 0; g < guest.count; g++) if (keep(g)) picked[n++] = g;
  return picked;
}

function srcAgrees(guest: Guests, g: number, sends: Sends, s: number): boolean {
  return guest.src[g] === NONE || sends.src[s] === NONE || guest.src[g] === sends.src[s];
}

/** Index of the first of `list` (indices into `t`, in time order) whose time is >= value. */
function firstSendAtOrAfter(t: Float64Array, list: Int32Array, value: number): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t[list[mid]] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first of `times` (in order) that is >= value. */
function firstAtOrAfter(times: Float64Array, value: number): number {
  let lo = 0, hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * QEMU time = a + b * guest time. A first line goes through the offsets of a few time segments
 * (each the mode of QEMU - guest over same-key pairs of a sample of its guest sends); the line is
 * then fitted on each send's nearest QEMU send, dropping outliers, until that pairs no more sends.
 */
function fitClock(guest: Guests, sends: Sends): Fit | null {
  const keyed = byKey(sends);
  const usable = guestsWhere(guest, (g) => guest.vector[g] !== NONE && keyed.has(guestKey(guest, g)));
  if (usable.length === 0) return null;
  // Differences lie between (first QEMU - last guest) and (last QEMU - first guest): one counter per
  // bin, bins widened for very long recordings.
  const t = sends.t;
  const lowest = t.reduce((m, x) => Math.min(m, x), Infinity) - guest.ts[usable[usable.length - 1]];
  const highest = t.reduce((m, x) => Math.max(m, x), -Infinity) - guest.ts[usable[0]];
  const width = Math.max(HISTOGRAM_BIN_NS, Math.ceil((highest - lowest) / MAX_BINS));
  const low = Math.floor(lowest / width);
  const step = Math.max(1, Math.floor(usable.length / HISTOGRAM_SAMPLES));
  const samples = Array.from(usable.filter((_, i) => i % step === 0), (g) => ({ ts: guest.ts[g], sends: keyed.get(guestKey(guest, g))! }));
  const offsetAll = histogramOffset(t, samples, width, low, Math.floor(highest / width) - low + 2);
  // Over a long recording the drift moves the offset by more than the match window (8 ppm over
  // 24 min is 12 ms): the first line then goes through the offsets of a few time segments.
  const segments = Math.max(1, Math.min(OFFSET_SEGMENTS, Math.floor(usable.length / SEGMENT_MIN_SENDS)));
  let fit: Fit = segments === 1 ? { a: offsetAll, b: 1, samples: 0, spread: 0 }
    : segmentLine(guest, sends, keyed, usable, segments, offsetAll, width);
  const xs = new Float64Array(usable.length);
  const ys = new Float64Array(usable.length);
  const distances = new Float64Array(usable.length);
  // Each usable send's key list, by index, and a cursor per list: the sends come in time order, so
  // with b > 0 a round's lower bounds in a list only move forward (else a binary search finds them).
  const lists = [...keyed.values()];
  const listIndex = new Map([...keyed.keys()].map((key, k) => [key, k]));
  const listOf = Int32Array.from(usable, (g) => listIndex.get(guestKey(guest, g))!);
  const cursors = new Int32Array(lists.length);
  let previous = 0;
  for (let round = 0; round < MAX_FIT_ROUNDS; round++) {
    const tolerance = round === 0 ? 2 * width : EARLY_NS;
    const forward = fit.b > 0;
    cursors.fill(0);
    let n = 0;
    for (let u = 0; u < usable.length; u++) {
      const g = usable[u];
      const list = lists[listOf[u]];
      const predicted = fit.a + fit.b * guest.ts[g];
      let i: number;
      if (forward) {
        i = cursors[listOf[u]];
        while (i < list.length && t[list[i]] < predicted) i++;
        cursors[listOf[u]] = i;
      } else i = firstSendAtOrAfter(t, list, predicted);
      let nearest: number | null = null;
      for (let j = i - 1; j <= i; j++) {
        const s = list[j];
        if (s !== undefined && srcAgrees(guest, g, sends, s) && Math.abs(t[s] - predicted) <= tolerance
          && (nearest === null || Math.abs(t[s] - predicted) < Math.abs(nearest - predicted))) nearest = t[s];
      }
      if (nearest !== null) {
        xs[n] = guest.ts[g];
        ys[n++] = nearest;
      }
    }
    if (n < 2) return null;
    fit = robustLine(xs.subarray(0, n), ys.subarray(0, n), distances);
    if (round >= 2 && n <= previous) break;
    previous = n;
  }
  return fit;
}

/**
 * A line through the offsets (QEMU - guest) of `segments` runs of the usable guest sends, each the
 * mode within SEGMENT_WINDOW_NS of the whole recording's offset (farther, a copy of a periodic
 * workload can match as well).
 */
function segmentLine(guest: Guests, sends: Sends, keyed: Map<number, Int32Array>, usable: Int32Array, segments: number,
  offsetAll: number, width: number): Fit {
  const t = sends.t;
  const near = new Uint32Array(Math.ceil((2 * SEGMENT_WINDOW_NS) / width) + 2);
  const nearLow = Math.floor((offsetAll - SEGMENT_WINDOW_NS) / width);
  const xs = new Float64Array(segments);
  const ys = new Float64Array(segments);
  for (let k = 0; k < segments; k++) {
    const from = Math.floor((k * usable.length) / segments);
    const to = Math.floor(((k + 1) * usable.length) / segments);
    near.fill(0);
    const every = Math.max(1, Math.floor((to - from) / HISTOGRAM_SAMPLES));
    for (let i = from; i < to; i += every) {
      const g = usable[i];
      const list = keyed.get(guestKey(guest, g))!;
      for (let j = firstSendAtOrAfter(t, list, guest.ts[g] + offsetAll - SEGMENT_WINDOW_NS); j < list.length; j++) {
        const bin = Math.floor((t[list[j]] - guest.ts[g]) / width) - nearLow;
        if (bin >= near.length) break;
        if (bin >= 0) near[bin]++;
      }
    }
    xs[k] = guest.ts[usable[(from + to) >> 1]];
    ys[k] = (modeBin(near) + nearLow + 1) * width;
  }
  return theilSen(xs, ys);
}

/** Bins of the offset histogram counted at a time: a long recording spans millions of them. */
const SLAB_BINS = 1 << 18;

/** A guest send of the offset histogram: its time, and its key's QEMU sends (indices into `t`, in time order). */
export interface HistogramSample {
  ts: number;
  sends: Int32Array;
}

/**
 * The offset (QEMU - guest) that most same-key pairs of the samples agree on: the middle of the
 * fullest pair of neighbouring bins (`width` ns, bin 0 starting at `low` * width, `bins` of them),
 * the first such pair on a tie. Counted one slab of bins after the other: a sample's sends are in
 * time order, so its pairs in a slab are found by a binary search. Typed arrays, no callbacks: it
 * runs once per boot, cold, over every same-key pair of 200 samples (millions at 5 M events).
 */
export function histogramOffset(t: Float64Array, samples: HistogramSample[], width: number, low: number, bins: number,
  slabBins = SLAB_BINS): number {
  const counts = new Uint32Array(slabBins + 1);
  let best = 0, bestCount = -1;
  for (let from = 0; from < bins - 1; from += slabBins) {
    const to = Math.min(from + slabBins, bins - 1); // pairs (bin, bin + 1) for bins from .. to - 1
    counts.fill(0);
    for (const { ts, sends } of samples) countSlab(counts, t, sends, ts, width, low, from, to);
    for (let bin = from; bin < to; bin++) {
      const pair = counts[bin - from] + counts[bin - from + 1];
      if (pair > bestCount) {
        best = bin;
        bestCount = pair;
      }
    }
  }
  return (best + low + 1) * width;
}

/** Adds one sample's pairs in bins from .. to (the slab starting at `from`) to `counts`. */
function countSlab(counts: Uint32Array, t: Float64Array, sends: Int32Array, ts: number, width: number, low: number,
  from: number, to: number): void {
  for (let j = firstSendAtOrAfter(t, sends, ts + (from + low - 1) * width); j < sends.length; j++) {
    const bin = Math.floor((t[sends[j]] - ts) / width) - low;
    if (bin > to) break;
    if (bin >= from) counts[bin - from]++;
  }
}

/** The bin starting the fullest pair of neighbouring bins. */
function modeBin(histogram: Uint32Array): number {
  let best = 0;
  for (let bin = 1; bin < histogram.length - 1; bin++) {
    if (histogram[bin] + histogram[bin + 1] > histogram[best] + histogram[best + 1]) best = bin;
  }
  return best;
}

/** QEMU = a + b * guest through segment offsets (QEMU - guest) `ys` at guest times `xs`: median slope and intercept. */
function theilSen(xs: Float64Array, ys: Float64Array): Fit {
  const slopes: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    for (let j = i + 1; j < xs.length; j++) if (xs[j] !== xs[i]) slopes.push((ys[j] - ys[i]) / (xs[j] - xs[i]));
  }
  const median = (values: number[]) => values.sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;
  const slope = median(slopes);
  const a = median(Array.from(xs, (x, k) => ys[k] - slope * x));
  return { a, b: 1 + slope, samples: 0, spread: 0 };
}

/**
 * Least squares, refitted once without the pairs further than 4 MADs (at least 20 us) from the line.
 * Works in place, as a boot can give it millions of pairs: the kept pairs are moved to the front of
 * `xs` and `ys`, and `distances` (at least as long) is the buffer the median is sorted in.
 */
function robustLine(xs: Float64Array, ys: Float64Array, distances: Float64Array): Fit {
  let line = leastSquares(xs, ys);
  const n = xs.length;
  const distance = (k: number) => Math.abs(ys[k] - (line.a + line.b * xs[k]));
  const sorted = distances.subarray(0, n);
  for (let k = 0; k < n; k++) sorted[k] = distance(k);
  sorted.sort();
  const limit = Math.max(4 * 1.4826 * (sorted[Math.floor(n * 0.5)] ?? 0), 20_000);
  let kept = 0;
  for (let k = 0; k < n; k++) {
    if (distance(k) <= limit) {
      xs[kept] = xs[k];
      ys[kept++] = ys[k];
    }
  }
  const kx = xs.subarray(0, kept);
  const ky = ys.subarray(0, kept);
  if (kept >= 2) line = leastSquares(kx, ky);
  let lo = Infinity, hi = -Infinity;
  for (let k = 0; k < kept; k++) {
    const r = ky[k] - (line.a + line.b * kx[k]);
    if (r < lo) lo = r;
    if (r > hi) hi = r;
  }
  return { ...line, samples: kept, spread: hi - lo };
}

function leastSquares(xs: Float64Array, ys: Float64Array): { a: number; b: number } {
  const n = xs.length;
  let sx = 0, sy = 0;
  for (let k = 0; k < n; k++) {
    sx += xs[k];
    sy += ys[k];
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0, sxx = 0;
  for (let k = 0; k < n; k++) {
    sxy += (xs[k] - mx) * (ys[k] - my);
    sxx += (xs[k] - mx) ** 2;
  }
  const b = sxx > 0 ? sxy / sxx : 1;
  return { a: my - b * mx, b };
}

/** Sorted copies of small windows reuse one buffer (localCorrection takes one per 8 guest sends). */
let scratch = new Float64Array(64);

function quantile(values: Float64Array, q: number): number {
  if (scratch.length < values.length) scratch = new Float64Array(values.length);
  const sorted = scratch.subarray(0, values.length);
  sorted.set(values);
  sorted.sort();
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
function link(guest: Guests, sends: Sends, fit: Fit, withSrc: boolean): void {
  const useSrc = withSrc && !guest.src.includes(NONE);
  const key = (src: number, target: number, vector: number) => keyOf(useSrc ? src : NONE, target, vector);
  const queues = groupBy(sends.byTime, (s) => key(sends.src[s], sends.target[s], sends.vector[s]));
  sends.linked.fill(0);
  guest.link.fill(NONE);
  guest.residual.fill(Number.NaN);
  for (const stream of [0, 1]) {
    const level = guestsWhere(guest, (g) => guest.arch[g] === stream);
    const next = new Map<number, number>();
    const taken = new Uint8Array(sends.count);
    const take = (k: number, from: number, to: number): number => {
      const queue = queues.get(k) ?? EMPTY;
      let j = next.get(k) ?? 0;
      while (j < queue.length && (sends.t[queue[j]] < from || taken[queue[j]])) j++;
      next.set(k, j);
      return j < queue.length && sends.t[queue[j]] <= to ? queue[j] : NONE;
    };
    const following = nextSendTimes(guest, level);
    level.forEach((g, i) => {
      const vector = guest.vector[g];
      if (vector === NONE) return;
      const shift = guest.shift[g];
      const predicted = fit.a + fit.b * guest.ts[g] + shift;
      const last = fit.a + fit.b * Math.min(following[i], guest.ts[g] + MAX_DELAY_NS) + shift + EARLY_NS;
      let s = take(key(guest.src[g], guest.target[g], vector), predicted - EARLY_NS, last);
      if (s === NONE && useSrc) s = take(key(NONE, guest.target[g], vector), predicted - EARLY_NS, last);
      if (s === NONE) return;
      guest.link[g] = s;
      guest.residual[g] = sends.t[s] - predicted + shift; // around the fitted line
      sends.linked[s]++;
      taken[s] = 1;
    });
  }
}

/**
 * The offset wanders by up to ~1 ms around the fitted line (host load, guest clock calibration): for
 * each guest send, the 10th percentile of the residuals of the LOCAL_LINKS linked sends nearest in
 * time (guest.shift; a low percentile, as delays only ever add to the residual).
 */
function localCorrection(guest: Guests): void {
  const linked = guest.residual.filter((r) => !Number.isNaN(r));
  const windows = new Map<number, number>(); // window start (a multiple of 8) -> its 10th percentile
  let seen = 0;
  for (let g = 0; g < guest.count; g++) {
    if (!Number.isNaN(guest.residual[g])) seen++;
    const from = Math.max(0, Math.min(Math.floor((seen - LOCAL_LINKS / 2) / 8) * 8, linked.length - LOCAL_LINKS));
    if (!windows.has(from)) windows.set(from, quantile(linked.subarray(from, from + LOCAL_LINKS), 0.1));
    guest.shift[g] = windows.get(from)!;
  }
}

/** For each send of `level` (guest indices in time order), the time of its sender's next send event (Infinity: none or unknown). */
function nextSendTimes(guest: Guests, level: Int32Array): Float64Array {
  const result = new Float64Array(level.length).fill(Infinity);
  const after = new Map<number, number>();
  for (let i = level.length - 1; i >= 0;) {
    let first = i; // the rows first..i are one event (one row per target)
    while (first > 0 && guest.eventId[level[first - 1]] === guest.eventId[level[i]]) first--;
    const src = guest.src[level[i]];
    if (src !== NONE) {
      result.fill(after.get(src) ?? Infinity, first, i + 1);
      after.set(src, guest.ts[level[i]]);
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
function linkByOrder(guest: Guests, sends: Sends): void {
  for (const stream of [0, 1]) {
    const gs: number[] = [];
    for (let g = 0; g < guest.count; g++) if (guest.arch[g] === stream && guest.vector[g] !== NONE) gs.push(g);
    const n = gs.length, m = sends.count;
    if (n === 0 || (n + 1) * (m + 1) > MAX_ORDER_CELLS) continue;
    const same = (g: number, s: number) => guest.target[g] === sends.target[s] && guest.vector[g] === sends.vector[s]
      && srcAgrees(guest, g, sends, s);
    const table = new Uint16Array((n + 1) * (m + 1)); // lengths <= min(n, m) < 2^16 under the cap
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        const at = i * (m + 1) + j;
        table[at] = same(gs[i], j) ? table[at + m + 2] + 1 : Math.max(table[at + m + 1], table[at + 1]);
      }
    }
    for (let i = 0, j = 0; i < n && j < m;) {
      const at = i * (m + 1) + j;
      if (same(gs[i], j) && table[at] === table[at + m + 2] + 1) {
        guest.link[gs[i]] = j;
        sends.linked[j]++;
        i++;
        j++;
      } else if (table[at + m + 1] >= table[at + 1]) i++;
      else j++;
    }
  }
}

function vote(tally: Map<number, Map<number, number>>, key: number, value: number): void {
  const votes = tally.get(key) ?? tally.set(key, new Map()).get(key)!;
  votes.set(value, (votes.get(value) ?? 0) + 1);
}

function majority(votes: Map<number, number>): { cpu: number; votes: number; total: number } {
  let cpu = -1, best = 0, total = 0;
  for (const [value, n] of votes) {
    total += n;
    if (n > best) [cpu, best] = [value, n];
  }
  return { cpu, votes: best, total };
}

const orNull = (value: number) => (value === NONE ? null : value);

function write(db: Db, model: BootModel, base: bigint, arch: Arch, writes: Writes, guest: Guests, sends: Sends,
  tidCpu: VcpuOf, fit: Fit | null): void {
  const { boot, universe } = model;
  // ref_ns = (qemu_ns + offset_ns) * (1 + drift_ppm / 1e6), from qemu - base = a + b * ref.
  const offset = fit === null ? null : -(base + BigInt(Math.round(fit.a)));
  const toRef = (t: number) => (fit === null || Number.isNaN(t) ? null : Math.round((t - fit.a) / fit.b));
  if (fit !== null) {
    db.prepare(`INSERT INTO clock_offsets (boot, clock, ref_clock, offset_ns, method, samples, spread_ns, drift_ppm)
      VALUES (?, 'qemu-host', ?, ?, 'ipi-match', ?, ?, ?)`)
      .run(boot, model.clocks.ref, offset, fit.samples, Math.round(fit.spread), (1 / fit.b - 1) * 1e6);
  }
  const insertVcpu = db.prepare('INSERT INTO qemu_vcpus (boot, host_tid, cpu, basis, votes, samples) VALUES (?,?,?,?,?,?)');
  for (const [tid, m] of [...tidCpu].sort((x, y) => x[0] - y[0])) insertVcpu.run(boot, tid, m.cpu, m.basis, m.votes, m.total);

  const covered = coverage(db, boot, base, fit);
  const insertLink = new BatchInsert(db, 'qemu_links', ['guest_event_id', 'target_cpu', 'qemu_event_id', 'vector',
    'method', 'qemu_ns', 'residual_ns', 'in_qemu_log'], ROWS_PER_STATEMENT, { boot });
  for (let g = 0; g < guest.count; g++) {
    const s = guest.link[g];
    const residual = guest.residual[g];
    insertLink.add(guest.eventId[g], guest.target[g], s === NONE ? null : writes.eventId[sends.write[s]],
      orNull(guest.vector[g]), s === NONE ? null : fit === null ? 'order' : 'time', s === NONE ? null : toRef(sends.t[s]),
      Number.isNaN(residual) ? null : Math.round(residual / (fit?.b ?? 1)),
      covered === null ? null : covered(guest, g) ? 1 : 0);
  }
  insertLink.flush();
  const insertSend = new BatchInsert(db, 'qemu_sends', ['qemu_event_id', 'source_id', 'line', 'host_tid', 'src_cpu',
    'target_cpu', 'shorthand', 'vector', 'reason', 'ts_ns', 'has_vcpu', 'linked'], ROWS_PER_STATEMENT, { boot });
  for (let s = 0; s < sends.count; s++) {
    const w = sends.write[s];
    const target = sends.target[s];
    const hasVcpu = isNonexistent(universe, target) ? 0
      : (universe.present !== null && target < universe.present) || universe.seen.has(target) ? 1 : null;
    insertSend.add(writes.eventId[w], writes.sourceId[w], writes.line[w], orNull(writes.tid[w]), orNull(sends.src[s]),
      target, writes.shorthand[w], orNull(sends.vector[s]), vectorReason(arch, sends.vector[s]), toRef(sends.t[s]), hasVcpu,
      sends.linked[s]);
  }
  insertSend.flush();
}

/** When QEMU logged in a boot: per bucket with lines, its first and last line time (ns since `base`), in time order. */
interface QemuBuckets {
  first: Float64Array;
  last: Float64Array;
}

/** The boot's buckets (store/qemu-log-buckets.ts), merged over its sources and a bucket's rows (lines out of order). */
function readQemuBuckets(db: Db, boot: string, base: bigint): QemuBuckets {
  const rows = db.prepare(`SELECT min(b.first_ns - ?), max(b.last_ns - ?) FROM qemu_log_buckets b JOIN sources s USING (source_id)
    WHERE s.boot = ? GROUP BY b.bucket_ns ORDER BY b.bucket_ns`).raw();
  let first = new Float64Array(1024);
  let last = new Float64Array(1024);
  let n = 0;
  for (const [lo, hi] of rows.iterate(base, base, boot) as IterableIterator<[number, number]>) {
    if (n === first.length) {
      first = grown(first, n + 1);
      last = grown(last, n + 1);
    }
    first[n] = lo;
    last[n++] = hi;
  }
  return { first: first.subarray(0, n), last: last.subarray(0, n) };
}

/**
 * Whether QEMU was logging around a guest send: some QEMU line within COVERAGE_NS before and after its
 * time on QEMU's clock (QEMU tracing can be switched off, e.g. while the guest dumps its trace).
 * From the buckets of the QEMU log (store/qemu-log-buckets.ts) exactly: a bucket spans no more than
 * COVERAGE_NS, so a line in t's own bucket is near enough; else the nearest line before t is the last
 * of an earlier bucket, and the nearest at or after t the first of a later one.
 */
function coverage(db: Db, boot: string, base: bigint, fit: Fit | null): ((guest: Guests, g: number) => boolean) | null {
  if (fit === null) return null;
  let buckets: QemuBuckets | null = null; // read only when some guest send is not linked
  return (guest, g) => {
    if (guest.link[g] !== NONE) return true;
    buckets ??= readQemuBuckets(db, boot, base);
    const { first, last } = buckets;
    const t = fit.a + fit.b * guest.ts[g] + guest.shift[g];
    // Buckets are disjoint and in order: k is the first bucket whose last line is at or after t.
    const k = firstAtOrAfter(last, t);
    const before = k < first.length && first[k] < t ? first[k] : k > 0 ? last[k - 1] : -Infinity;
    const atOrAfter = k < first.length ? (first[k] >= t ? first[k] : last[k]) : Infinity;
    return before >= t - COVERAGE_NS && atOrAfter <= t + COVERAGE_NS;
  };
}
