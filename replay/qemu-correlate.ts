// Guest <-> QEMU correlation: each guest IPI send (ipi_sends) is linked to the QEMU write that sent
// it (x86 ICR-low write, GICv3 gicv3_icc_generate_sgi, GICv2 GICD_SGIR write), and QEMU's host clock
// is mapped onto the boot's reference clock (clock_offsets row 'qemu-host').
//
// Keys: the target CPU and the interrupt number the guest's IPI type uses (x86 vectors 0xfb/0xfc/0xfd;
// ARM SGI = IPI index, arm64 or arm32 numbering chosen by which one the data agrees with), plus the
// sender where both sides know it. QEMU names the sender on GIC; on x86 the vCPU of each host thread
// is learned from the matches (table qemu_vcpus).
// With timestamps: a histogram of (QEMU - guest) over same-key pairs gives the offset, a robust line
// fit on nearest pairs gives offset and drift (where that pairs under half the sends, e.g. a guest
// clock running 45x real time after a TSC miscalibrated on a loaded host, the line is also sought
// through the pairs of an order alignment, fitFromOrder), then the guest sends of each key are linked in order
// to the QEMU sends of that key that follow them (before the sender's next send; qemu-link.ts for
// the passes). Without timestamps: longest common subsequence of the two key sequences (guest time
// order, QEMU file order). QEMU 11 logs carry no thread id: x86 and GICv2 writes then name no sender,
// links rest on target, vector and time, and qemu_links.sender_known keeps them out of the warnings.
// On ARM a send shows twice in the guest (ipi_send_cpu/_cpumask, then the arch's ipi_raise): the two
// levels are linked independently, each one-to-one, so both can point at the same QEMU write.
import { BatchInsert, ROWS_PER_STATEMENT } from '../store/batch-insert.js';
import type { Db } from '../store/db.js';
import { type QemuWrites as Writes, readQemuWrites } from '../store/qemu-writes.js';
import { grown } from '../store/typed-arrays.js';
import { type Fit, fitClock, fitClockFromPairs } from './qemu-clock-fit.js';
import { type Arch, chooseArch, type Guests, GuestSends, guestVector, NONE, vectorReason } from './qemu-guest-sends.js';
import { EXPLORE_EARLY_NS, link, linkByOrder, linkInOrder, linkLeftovers, localCorrection } from './qemu-link.js';
import { expand, firstAtOrAfter, type Sends, vcpuSet } from './qemu-sends.js';
import type { BootModel } from './replay.js';
import { isNonexistent } from './universe.js';

/** A guest send is inside the QEMU log's coverage when QEMU logged something within this before and after it. */
const COVERAGE_NS = 20_000_000;
/** Below this share of the guest sends with a vector on the fitted line, the line is looked for by order too. */
const ORDER_SEED_BELOW = 0.5;
/** The order alignment behind that seed: at most this many table cells (2 bytes each: 128 MB). */
const ORDER_SEED_CELLS = 64_000_000;
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
    let withVector = 0;
    for (let g = 0; g < guest.count; g++) if (guest.vector[g] !== NONE) withVector++;
    if (fit === null || fit.samples < ORDER_SEED_BELOW * withVector) {
      const seeded = fitFromOrder(guest, sends);
      if (seeded !== null && (fit === null || seeded.samples > fit.samples)) fit = seeded;
    }
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
    letGoOfLinkInputs(writes);
    if (fit !== null) {
      link(guest, sends, fit, true, true, EXPLORE_EARLY_NS);
      localCorrection(guest);
      link(guest, sends, fit, true, true);
      linkInOrder(guest, sends, fit);
      linkLeftovers(guest, sends, fit);
    }
  } else {
    sends = expand(writes, tidCpu, vcpus);
    letGoOfLinkInputs(writes);
    linkByOrder(guest, sends);
  }
  write(db, model, base, arch, writes, guest, sends, tidCpu, fit);
}

/**
 * Drops the columns of the writes that only expand() reads (times, CPUs, vectors, targets: the sends
 * hold their copies), once the sends are final: what write() reads stays. The linking passes are
 * when the correlation holds most (mixed-5M: ~6 MB fewer through them).
 */
function letGoOfLinkInputs(writes: Writes): void {
  writes.t = new Float64Array(0);
  writes.cpu = new Int32Array(0);
  writes.vector = new Int32Array(0);
  writes.firstTarget = new Int32Array(0);
  writes.targets = new Int32Array(0);
}

/**
 * The clock line through the pairs an order alignment finds (linkByOrder, which needs no clock), then
 * refitted: for a guest clock whose rate is far from QEMU's (a TSC miscalibrated on a loaded host,
 * "tsc: Detected 46.878 MHz processor" on a 2.1 GHz host: the guest clocks run 45 times too fast), which
 * the offset histogram of fitClock, looking for one offset at a rate near 1, cannot find. The links
 * it made are dropped: the passes after the fit link again by time.
 */
function fitFromOrder(guest: Guests, sends: Sends): Fit | null {
  linkByOrder(guest, sends, ORDER_SEED_CELLS);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let g = 0; g < guest.count; g++) {
    if (guest.link[g] !== NONE) {
      xs.push(guest.ts[g]);
      ys.push(sends.t[guest.link[g]]);
    }
  }
  guest.link.fill(NONE);
  sends.linked.fill(0);
  return fitClockFromPairs(guest, sends, Float64Array.from(xs), Float64Array.from(ys));
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

export function write(db: Db, model: BootModel, base: bigint, arch: Arch, writes: Writes, guest: Guests, sends: Sends,
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
    'method', 'qemu_ns', 'residual_ns', 'in_qemu_log', 'sender_known'], ROWS_PER_STATEMENT, { boot });
  for (let g = 0; g < guest.count; g++) {
    const s = guest.link[g];
    const residual = guest.residual[g];
    insertLink.add(guest.eventId[g], guest.target[g], s === NONE ? null : writes.eventId[sends.write[s]],
      orNull(guest.vector[g]), s === NONE ? null : fit === null ? 'order' : 'time', s === NONE ? null : toRef(sends.t[s]),
      Number.isNaN(residual) ? null : Math.round(residual / (fit?.b ?? 1)),
      covered === null ? null : covered(guest, g) ? 1 : 0, fit === null ? null : guest.senderKnown[g]);
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
