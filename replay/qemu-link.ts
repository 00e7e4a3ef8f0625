// Linking guest IPI sends to QEMU sends (replay/qemu-correlate.ts). With QEMU timestamps, in passes:
// link (by time around the fitted line; a pass looking 5 ms early teaches localCorrection where the
// line wanders), linkInOrder (a sender's unlinked sends to its writes in program order, where the
// guest clock bends), linkLeftovers (writes no send took to the sends left over). Without timestamps,
// by order (linkByOrder). Each pass records whether QEMU named the sender (guest.senderKnown): no
// warning may rest on a link, or its absence, whose writes name no sender (QEMU 11 logs).
import type { Fit } from './qemu-clock-fit.js';
import { type Guests, NONE } from './qemu-guest-sends.js';
import { byKey, EARLY_NS, EMPTY, firstSendAtOrAfter, groupBy, guestsWhere, keyOf, type Sends, srcAgrees } from './qemu-sends.js';

/** Cap on how much later, on QEMU's clock: the write follows the trace event by us, or by ~30-60 ms when
 *  tp_printk prints each event first or the host deschedules the vCPU thread. */
const MAX_DELAY_NS = 1_000_000_000;
const LOCAL_LINKS = 50;
/** How much earlier than the fitted line the pass that localCorrection learns from looks: where the
 *  guest clock bends (TSC recalibrated during boot) the writes run ms ahead of a line fitted on all. */
export const EXPLORE_EARLY_NS = 5_000_000;
/** An interrupt taken between a send's trace event and its ICR write can send IPIs of its own, whose
 *  writes then come first: a write of the same sender, target and vector this soon after the send is
 *  still its own, even past the next linked send's write (QEMU 10, x2APIC cluster recording: a
 *  softirq's ttwu IPI between flush_tlb_mm_range's ipi_send_cpu and its write, 4 ms). */
const NESTED_NS = 20_000_000;
/** Least delay bound for a link to a QEMU send of unknown sender (QEMU 11 logs have no thread id):
 *  a host that deschedules a vCPU thread for a few ms must not cost the link. */
const UNKNOWN_SENDER_MIN_NS = 20_000_000;
/** ... else this many times the fitted line's residual spread. */
const UNKNOWN_SENDER_SPREADS = 8;
/** Order alignment (no timestamps) is quadratic: larger boots are left uncorrelated. */
const MAX_ORDER_CELLS = 20_000_000;

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
 * guest knows it; QEMU sends of unknown sender are a fallback queue. Nothing ties a QEMU send of
 * unknown sender to this guest sender, so such a link is bounded by the delays the fitted line shows
 * (unknownSenderBound; with `bounded`), not by the sender's next send: a send whose own write is
 * missing must not take another CPU's write 100 ms later.
 * Also sets guest.senderKnown: 1 when the link's QEMU send names its sender or, for a send left
 * unlinked, when no QEMU send of unknown sender with its target and vector lies in its window, so
 * that the missing link speaks for this sender; 0 otherwise.
 */
export function link(guest: Guests, sends: Sends, fit: Fit, withSrc: boolean, bounded = false, early = EARLY_NS): void {
  const useSrc = withSrc && !guest.src.includes(NONE);
  const key = (src: number, target: number, vector: number) => keyOf(useSrc ? src : NONE, target, vector);
  const { queues, unknown } = queuesOf(sends, useSrc);
  const bound = bounded ? unknownSenderBound(fit) : Infinity;
  sends.linked.fill(0);
  guest.link.fill(NONE);
  guest.residual.fill(Number.NaN);
  guest.senderKnown.fill(0);
  for (const { level, following } of levelsOf(guest)) {
    const next = new Map<number, number>();
    const taken = takenFlags(sends);
    const take = (k: number, from: number, to: number, unknownTo: number): number => {
      const queue = queues.get(k) ?? EMPTY;
      let j = next.get(k) ?? 0;
      while (j < queue.length && (sends.t[queue[j]] < from || taken[queue[j]])) j++;
      next.set(k, j);
      // The first one not taken; one of unknown sender beyond its bound is passed over, not taken.
      for (; j < queue.length && sends.t[queue[j]] <= to; j++) {
        const s = queue[j];
        if (!taken[s] && (sends.src[s] !== NONE || sends.t[s] <= unknownTo)) return s;
      }
      return NONE;
    };
    level.forEach((g, i) => {
      const vector = guest.vector[g];
      if (vector === NONE) return;
      const shift = guest.shift[g];
      const predicted = fit.a + fit.b * guest.ts[g] + shift;
      const from = predicted - early;
      // The end is not moved earlier by a negative shift: mislinks of the pass it was learned from
      // (a crash dump with lost events) can pull it below where the writes are.
      const last = lastOnLine(fit, guest.ts[g], following[i]) + Math.max(shift, 0) + early;
      const unknownTo = Math.min(last, predicted + bound);
      let s = take(key(guest.src[g], guest.target[g], vector), from, last, unknownTo);
      if (s === NONE && useSrc) s = take(key(NONE, guest.target[g], vector), from, last, unknownTo);
      if (s === NONE) {
        const list = unknown.get(keyOf(NONE, guest.target[g], vector)) ?? EMPTY;
        const j = firstSendAtOrAfter(sends.t, list, from);
        guest.senderKnown[g] = j < list.length && sends.t[list[j]] <= last ? 0 : 1;
        return;
      }
      guest.link[g] = s;
      guest.residual[g] = sends.t[s] - predicted + shift; // around the fitted line
      guest.senderKnown[g] = sends.src[s] === NONE ? 0 : 1;
      sends.linked[s]++;
      taken[s] = 1;
    });
  }
}

/** Taken flags, one per QEMU send: one buffer per Sends object, cleared for each pass and level (each
 *  of the 10 passes and levels at mixed-5M left 385 kB of garbage). */
const takenCache = new WeakMap<Sends, Uint8Array>();

function takenFlags(sends: Sends): Uint8Array {
  let taken = takenCache.get(sends);
  if (taken === undefined) takenCache.set(sends, (taken = new Uint8Array(sends.count)));
  else taken.fill(0);
  return taken;
}

// What every link() pass of a boot groups the same way, computed once: per guest level (generic,
// arch), its sends in time order and each one's sender's next send (guest columns fixed before the
// passes); per expansion of the QEMU sends (expand() hands out a new object each time), the queues
// by key and those of unknown sender.
const levels = new WeakMap<Guests, { level: Int32Array; following: Float64Array }[]>();
const queueCache = new WeakMap<Sends, Map<boolean, { queues: Map<number, Int32Array>; unknown: Map<number, Int32Array> }>>();

function levelsOf(guest: Guests): { level: Int32Array; following: Float64Array }[] {
  let result = levels.get(guest);
  if (result === undefined) {
    result = [0, 1].map((stream) => {
      const level = guestsWhere(guest, (g) => guest.arch[g] === stream);
      return { level, following: nextSendTimes(guest, level) };
    });
    levels.set(guest, result);
  }
  return result;
}

function queuesOf(sends: Sends, useSrc: boolean): { queues: Map<number, Int32Array>; unknown: Map<number, Int32Array> } {
  const bySrcUse = queueCache.get(sends) ?? queueCache.set(sends, new Map()).get(sends)!;
  let result = bySrcUse.get(useSrc);
  if (result === undefined) {
    const key = (src: number, target: number, vector: number) => keyOf(useSrc ? src : NONE, target, vector);
    // Keyed without the sender, or when no send names one (x86 before the vCPU map, QEMU 11), both
    // groupings are byKey's: shared, not grouped again.
    const allUnknown = sends.src.every((src) => src === NONE);
    const keyed = byKey(sends);
    result = {
      queues: !useSrc || allUnknown ? keyed : groupBy(sends.byTime, (s) => key(sends.src[s], sends.target[s], sends.vector[s])),
      unknown: allUnknown ? keyed
        : groupBy(sends.byTime.filter((s) => sends.src[s] === NONE), (s) => keyOf(NONE, sends.target[s], sends.vector[s])),
    };
    bySrcUse.set(useSrc, result);
  }
  return result;
}

/**
 * The latest QEMU time a write of the guest send at `ts` (guest clock) can have: before the time
 * `following` (the sender's next send, guest clock) maps to, at most MAX_DELAY_NS after the send on
 * QEMU's clock. The delay is the host's (a vCPU thread descheduled): bounded in QEMU's time, not the
 * guest's, which runs 45 times too fast on a miscalibrated TSC.
 */
function lastOnLine(fit: Fit, ts: number, following: number): number {
  const onLine = fit.a + fit.b * ts;
  return Math.min(fit.a + fit.b * following, onLine + MAX_DELAY_NS);
}

/** How much later than the fitted line a QEMU send of unknown sender may be linked. */
function unknownSenderBound(fit: Fit): number {
  return Math.max(UNKNOWN_SENDER_MIN_NS, UNKNOWN_SENDER_SPREADS * fit.spread);
}

/**
 * Fills the gaps link() leaves where the guest clock leaves the fitted line for a while (early boot:
 * the TSC recalibrated, sched_clock unstable; QEMU writes then come 100s of ms off the line, past the
 * sender's next send on the line). A vCPU's writes are in its program order, and the guest's sends of
 * that CPU are in the same order: so a run of a sender's unlinked guest sends, between the QEMU
 * sends its linked neighbours took, is matched in order (the first same-key send not taken) to that
 * sender's QEMU sends that lie between those two (or within NESTED_NS after it), within MAX_DELAY_NS
 * of the line. Only where both sides know the sender. A send QEMU never received in a run where the
 * line holds stays unlinked: its neighbours' writes bracket it closely, and no write of its sender,
 * target and vector that no other send took follows within NESTED_NS.
 */
export function linkInOrder(guest: Guests, sends: Sends, fit: Fit): void {
  // QEMU sends of each sender in time order.
  const bySrc = groupBy(sends.byTime.filter((s) => sends.src[s] !== NONE), (s) => sends.src[s]);
  for (const stream of [0, 1]) {
    const level = guestsWhere(guest, (g) => guest.arch[g] === stream && guest.src[g] !== NONE);
    const taken = takenFlags(sends);
    for (const g of level) if (guest.link[g] !== NONE) taken[guest.link[g]] = 1;
    const perSrc = groupBy(level, (g) => guest.src[g]);
    for (const [src, gs] of perSrc) {
      const qs = bySrc.get(src);
      if (qs === undefined) continue;
      let pointer = 0; // index into qs: candidates start here
      for (let i = 0; i < gs.length;) {
        if (guest.link[gs[i]] !== NONE) {
          pointer = Math.max(pointer, firstSendAtOrAfter(sends.t, qs, sends.t[guest.link[gs[i]]]) + 1);
          i++;
          continue;
        }
        // A run of unlinked sends gs[i..j), bracketed by the next linked one's QEMU send.
        let j = i;
        while (j < gs.length && guest.link[gs[j]] === NONE) j++;
        const upper = j < gs.length ? sends.t[guest.link[gs[j]]] : Infinity;
        for (let k = i; k < j;) {
          let end = k + 1; // the rows k..end-1 are one event: each searches from the event's start
          while (end < j && guest.eventId[gs[end]] === guest.eventId[gs[k]]) end++;
          // Writes more than MAX_DELAY_NS before this send's line are out of reach of it and of every
          // later one: passed for good (a long run, e.g. QEMU's tracing off, stays linear).
          const earliest = fit.a + fit.b * guest.ts[gs[k]] + guest.shift[gs[k]] - MAX_DELAY_NS;
          while (pointer < qs.length && sends.t[qs[pointer]] < earliest) pointer++;
          let next = pointer;
          for (let r = k; r < end; r++) {
            const g = gs[r];
            if (guest.vector[g] === NONE) continue;
            const predicted = fit.a + fit.b * guest.ts[g] + guest.shift[g];
            for (let q = pointer; q < qs.length; q++) {
              const s = qs[q];
              const t = sends.t[s];
              if (t >= Math.max(upper, predicted + NESTED_NS) || t > predicted + MAX_DELAY_NS) break;
              if (taken[s] || t < predicted - MAX_DELAY_NS || sends.target[s] !== guest.target[g] || sends.vector[s] !== guest.vector[g]) continue;
              guest.link[g] = s;
              guest.residual[g] = t - predicted + guest.shift[g];
              guest.senderKnown[g] = 1;
              sends.linked[s]++;
              taken[s] = 1;
              next = Math.max(next, q + 1);
              break;
            }
          }
          pointer = next;
          k = end;
        }
        i = j;
      }
    }
  }
}

/**
 * Last, the sends still unlinked take the QEMU sends no guest send took, in time order: the first of
 * the same target and vector (and sender, where both sides know it) from EARLY_NS before the send
 * until its sender's next send of the same target and vector (at most MAX_DELAY_NS), without the
 * unknown-sender bound. Such a write is QEMU receiving that IPI from that sender after this send and
 * before the next like it: this send's, delayed. Bounded, link() keeps a send whose write is missing
 * from taking a later send's write of unknown sender; what is left over claims no one's write. Seen:
 * an interrupt taken between flush_tlb_mm_range's ipi_send_cpu and its ICR write sent an IPI of its
 * own, and the interrupted write came 59 ms later (QEMU 10, x2APIC physical); a write of unknown
 * sender 40 ms late on a loaded host (QEMU 11).
 */
export function linkLeftovers(guest: Guests, sends: Sends, fit: Fit): void {
  const keyed = byKey(sends);
  for (const stream of [0, 1]) {
    const level = guestsWhere(guest, (g) => guest.arch[g] === stream);
    const taken = takenFlags(sends);
    for (const g of level) if (guest.link[g] !== NONE) taken[guest.link[g]] = 1;
    const following = nextSameKeyTimes(guest, level);
    level.forEach((g, i) => {
      if (guest.link[g] !== NONE || guest.vector[g] === NONE) return;
      const list = keyed.get(keyOf(NONE, guest.target[g], guest.vector[g]));
      if (list === undefined) return;
      const shift = guest.shift[g];
      const predicted = fit.a + fit.b * guest.ts[g] + shift;
      const last = lastOnLine(fit, guest.ts[g], following[i]) + Math.max(shift, 0) + EARLY_NS;
      for (let j = firstSendAtOrAfter(sends.t, list, predicted - EARLY_NS); j < list.length && sends.t[list[j]] <= last; j++) {
        const s = list[j];
        if (taken[s] || !srcAgrees(guest, g, sends, s)) continue;
        guest.link[g] = s;
        guest.residual[g] = sends.t[s] - predicted + shift;
        guest.senderKnown[g] = sends.src[s] === NONE ? 0 : 1;
        sends.linked[s]++;
        taken[s] = 1;
        return;
      }
    });
  }
}

/**
 * The offset wanders by up to ~1 ms around the fitted line (host load, guest clock calibration): for
 * each guest send, the 10th percentile of the residuals of the LOCAL_LINKS linked sends nearest in
 * time (guest.shift; a low percentile, as delays only ever add to the residual).
 */
export function localCorrection(guest: Guests): void {
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

/** For each send of `level`, the time of its sender's next send with the same target and vector (Infinity: none). */
function nextSameKeyTimes(guest: Guests, level: Int32Array): Float64Array {
  const result = new Float64Array(level.length).fill(Infinity);
  const after = new Map<number, number>();
  for (let i = level.length - 1; i >= 0; i--) {
    const g = level[i];
    const k = keyOf(guest.src[g], guest.target[g], guest.vector[g]);
    result[i] = after.get(k) ?? Infinity;
    after.set(k, guest.ts[g]); // the rows of one event have different targets: different keys
  }
  return result;
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
 * know it) sender agree. Up to `maxCells` cells of the table (2 bytes each).
 */
export function linkByOrder(guest: Guests, sends: Sends, maxCells = MAX_ORDER_CELLS): void {
  for (const stream of [0, 1]) {
    const gs: number[] = [];
    for (let g = 0; g < guest.count; g++) if (guest.arch[g] === stream && guest.vector[g] !== NONE) gs.push(g);
    const n = gs.length, m = sends.count;
    if (n === 0 || (n + 1) * (m + 1) > maxCells) continue;
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
