// The QEMU host clock mapped onto the guest's (replay/qemu-correlate.ts): QEMU time = a + b * guest
// time, from the offsets same-key pairs agree on (histogram, per-segment modes), then a robust line
// refitted on each guest send's nearest QEMU send.
import { type Guests, NONE } from './qemu-guest-sends.js';
import { byKey, EARLY_NS, firstSendAtOrAfter, guestKey, guestsWhere, type Sends, srcAgrees } from './qemu-sends.js';

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
export interface Fit { a: number; b: number; samples: number; spread: number }

/**
 * QEMU time = a + b * guest time. A first line goes through the offsets of a few time segments
 * (each the mode of QEMU - guest over same-key pairs of a sample of its guest sends); the line is
 * then fitted on each send's nearest QEMU send, dropping outliers, until that pairs no more sends.
 */
export function fitClock(guest: Guests, sends: Sends): Fit | null {
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
  const fit: Fit = segments === 1 ? { a: offsetAll, b: 1, samples: 0, spread: 0 }
    : segmentLine(guest, sends, keyed, usable, segments, offsetAll, width);
  return refineLine(guest, sends, keyed, usable, fit, 2 * width);
}

/**
 * The clock line from pairs (guest time, QEMU time) matched another way (by order: linkByOrder),
 * refitted as fitClock does: for a guest clock far from real time (a TSC calibrated on a loaded host
 * runs the guest's clocks 45 times too fast), where the offset histogram, which assumes a rate near 1,
 * finds nothing. Null when fewer than two pairs.
 */
export function fitClockFromPairs(guest: Guests, sends: Sends, xs: Float64Array, ys: Float64Array): Fit | null {
  if (xs.length < 2) return null;
  const keyed = byKey(sends);
  const usable = guestsWhere(guest, (g) => guest.vector[g] !== NONE && keyed.has(guestKey(guest, g)));
  if (usable.length === 0) return null;
  const seed = robustLine(Float64Array.from(xs), Float64Array.from(ys), new Float64Array(xs.length));
  return refineLine(guest, sends, keyed, usable, seed, Math.max(SEED_TOLERANCE_NS, 4 * seed.spread));
}

/** Least first-round tolerance around a line seeded from matched pairs. */
const SEED_TOLERANCE_NS = 2_000_000;

/**
 * Refits `fit` on each usable send's nearest same-key QEMU send (within `firstTolerance` in the first
 * round, EARLY_NS after), dropping outliers, until that pairs no more sends.
 */
function refineLine(guest: Guests, sends: Sends, keyed: Map<number, Int32Array>, usable: Int32Array, fit: Fit,
  firstTolerance: number): Fit | null {
  const t = sends.t;
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
    const tolerance = round === 0 ? firstTolerance : EARLY_NS;
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
      // The sends just before and at the lower bound (within the list: a typed array read out of its
      // bounds takes V8's slow path).
      for (let j = Math.max(i - 1, 0), end = Math.min(i, list.length - 1); j <= end; j++) {
        const s = list[j];
        if (srcAgrees(guest, g, sends, s) && Math.abs(t[s] - predicted) <= tolerance
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
  const buffer = distances.subarray(0, n);
  for (let k = 0; k < n; k++) buffer[k] = distance(k);
  const limit = Math.max(4 * 1.4826 * (n === 0 ? 0 : kthSmallest(buffer, Math.floor(n * 0.5))), 20_000);
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

/**
 * The value sorted(values)[k] would hold (values reordered in place): a quickselect, not a sort (a
 * refit sorted the distances of every pair, ~300 k at mixed-5M, five rounds or more). A NaN sorts last
 * and breaks the comparisons: then it sorts.
 */
export function kthSmallest(values: Float64Array, k: number): number {
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) {
      values.sort();
      return values[k];
    }
  }
  let lo = 0, hi = values.length - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >> 1];
    let i = lo, j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const x = values[i];
        values[i++] = values[j];
        values[j--] = x;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
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
