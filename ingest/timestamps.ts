// Timestamps that a serial line corrupted (printk stamps, and ftrace event times the same way). A
// console's stamps rise line by line, with small dips (a secondary CPU's clock before it is
// synchronised) and restarts (a new boot, kexec); one line far AHEAD of both its neighbours while
// they agree with each other is a corrupted digit, not time: a real QEMU TCG boot showed
// `[    22.804794]` between two lines stamped 2.804794. Left as it is, it would stretch the boot's
// span and, where the console is the reference clock, push every later event past it (replay never
// lets time go back). Such a time is replaced by the one its doubled digit was made from, where
// that lies between the neighbours, else by the previous line's.
//
// Checked as the rows stream past (a look-back of two rows per sequence), so the cost is a few
// comparisons per row; the rare repair is an UPDATE once the file is read.

/** How far ahead of both neighbours a time must be to count as corrupt. */
const SPIKE_NS = 1_000_000_000;
/** How many kept times back a spike must be ahead of too (a restart is soon forgotten). */
const RECENT = 32;

export interface Spike {
  /** Row id (event_id or msg_id) and line of the corrupt time, and the time it takes instead. */
  id: number;
  line: number;
  replacement: number;
}

/** One time-ordered sequence (a source's console messages, or its events of one format and clock). */
export class SpikeFinder {
  /** The row before the middle one (its time), and the middle row: the one judged once its successor comes. */
  private prev: number | null = null;
  private middleId = -1;
  private middleLine = 0;
  private middleTs: number | null = null;
  /** The last RECENT kept times (spikes excluded), a ring: what "times before it" means after a restart. */
  private readonly recent = new Float64Array(RECENT).fill(Number.NEGATIVE_INFINITY);
  private recentAt = 0;
  readonly spikes: Spike[] = [];

  /** The next row of the sequence that has a time (called for every event: no allocation). */
  push(id: number, line: number, ts: number): void {
    const m = this.middleTs;
    // A corrupt digit puts a time far ahead of every time before it. A time between two lagging
    // neighbours is no spike when earlier rows reached it already: those neighbours are the ones
    // out of step (an NMI backtrace's lines keep the stale stamp of the CPU that printed them, e.g.
    // 78.717016 around a 93.960507 "got unstuck" in a 6.3 CSD-lock log).
    if (m !== null && this.prev !== null && m - this.prev > SPIKE_NS && m - ts > SPIKE_NS && ts >= this.prev && m - this.recentMax() > SPIKE_NS) {
      const replacement = undoubledTime(m, this.prev, ts) ?? this.prev;
      this.spikes.push({ id: this.middleId, line: this.middleLine, replacement });
      this.prev = replacement;
    } else if (m !== null) {
      this.prev = m;
      this.recent[this.recentAt] = m;
      this.recentAt = (this.recentAt + 1) % RECENT;
    }
    this.middleId = id;
    this.middleLine = line;
    this.middleTs = ts;
  }

  /** Only computed for a spike candidate (rare). */
  private recentMax(): number {
    let max = Number.NEGATIVE_INFINITY;
    for (const t of this.recent) if (t > max) max = t;
    return max;
  }
}

/**
 * The time a doubled digit was made from, when dropping one digit of a repeated pair gives a time
 * between the neighbours (`22804794000` between two 2804794000 is 2804794000; a dump's `4989664us`
 * between 489463 and 502806 us is 498964 us); null when none does. The candidate nearest the
 * previous time wins.
 */
function undoubledTime(ts: number, prev: number, next: number): number | null {
  const digits = String(ts);
  let best: number | null = null;
  for (let i = 0; i + 1 < digits.length; i++) {
    if (digits[i] !== digits[i + 1]) continue;
    const candidate = Number(digits.slice(0, i) + digits.slice(i + 1));
    if (candidate >= prev && candidate <= next && (best === null || candidate - prev < best - prev)) best = candidate;
  }
  return best;
}

