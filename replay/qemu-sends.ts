// The QEMU side of the correlation (replay/qemu-correlate.ts): QEMU's IPI writes expanded into one
// send per target (shorthands over the vCPUs), keyed by (sender, target, vector), and the small
// search helpers the clock fit and the linking share.
import type { QemuWrites as Writes } from '../store/qemu-writes.js';
import { type Guests, NONE } from './qemu-guest-sends.js';
import type { BootModel } from './replay.js';

/** How much earlier than the guest send (mapped onto QEMU's clock) its QEMU write may appear: the offset wanders. */
export const EARLY_NS = 1_000_000;
/** One QEMU send per write and target. */
export interface Sends {
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

/**
 * CPUs that have a vCPU: the present ones (or at least those when only a lower bound is known), and
 * every CPU seen working. When nothing says (tp_printk lines carry no CPU, the console no CPU count,
 * x86 QEMU logs no sender), the CPUs the guest sends IPIs to: else no shorthand write would expand.
 */
export function vcpuSet(model: BootModel, writes: Writes, guest: Guests): number[] {
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
export function expand(writes: Writes, tidCpu: Map<number, { cpu: number }>, vcpus: number[], previous?: Sends): Sends {
  const srcOf = new Int32Array(writes.count);
  let count = 0;
  for (let w = 0; w < writes.count; w++) {
    const tid = writes.tid[w];
    srcOf[w] = writes.cpu[w] !== NONE ? writes.cpu[w] : tid !== NONE ? tidCpu.get(tid)?.cpu ?? NONE : NONE;
    count += targetsOf(writes, w, srcOf[w], vcpus).length;
  }
  // A new object either way (the linking passes cache groupings per object: qemu-link.ts).
  const sends: Sends = previous?.count === count ? { ...previous } : {
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
export function keyOf(src: number, target: number, vector: number): number {
  return (src + 1) * 2 ** 36 + target * 2 ** 20 + vector;
}

/** A guest send's key in the map of QEMU sends by key (byKey): its target and vector, any sender. */
export function guestKey(guest: Guests, g: number): number {
  return keyOf(NONE, guest.target[g], guest.vector[g]);
}

/** byKey of each Sends object (expand() hands out a new one each time), grouped once: the clock fit,
 *  linkLeftovers and link()'s queues keyed without the sender share it (each grouping of 385 k sends
 *  is 1.5 MB, left as garbage by the step before). The lists are only read. */
const keyedCache = new WeakMap<Sends, Map<number, Int32Array>>();

/** QEMU sends by (target, vector), each list in time order. */
export function byKey(sends: Sends): Map<number, Int32Array> {
  let keyed = keyedCache.get(sends);
  if (keyed === undefined) keyedCache.set(sends, (keyed = groupBy(sends.byTime, (s) => keyOf(NONE, sends.target[s], sends.vector[s]))));
  return keyed;
}

/**
 * `items` grouped by `key`, each group in the order of `items`: views of one Int32Array (a list of
 * numbers per key cost twice the memory, and a boot can hold millions of QEMU sends).
 */
export function groupBy(items: Int32Array, key: (item: number) => number): Map<number, Int32Array> {
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

export const EMPTY = new Int32Array(0);

/** The guest sends (indices, in time order) that `keep` accepts. */
export function guestsWhere(guest: Guests, keep: (g: number) => boolean): Int32Array {
  let n = 0;
  for (let g = 0; g < guest.count; g++) if (keep(g)) n++;
  const picked = new Int32Array(n);
  n = 0;
  for (let g = 0; g < guest.count; g++) if (keep(g)) picked[n++] = g;
  return picked;
}

export function srcAgrees(guest: Guests, g: number, sends: Sends, s: number): boolean {
  return guest.src[g] === NONE || sends.src[s] === NONE || guest.src[g] === sends.src[s];
}

/** Index of the first of `list` (indices into `t`, in time order) whose time is >= value. */
export function firstSendAtOrAfter(t: Float64Array, list: Int32Array, value: number): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t[list[mid]] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first of `times` (in order) that is >= value. */
export function firstAtOrAfter(times: Float64Array, value: number): number {
  let lo = 0, hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
