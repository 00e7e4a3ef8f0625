// When QEMU was logging (table qemu_log_buckets): per source and 20 ms bucket of host time that has
// QEMU lines, the first and last line time in it. Written at ingest as the lines go by, so that replay
// can tell whether QEMU was logging around a guest send without reading every QEMU row of the boot
// (a GROUP BY over millions of rows took ~0.3 s per M events at detect).
import type { Db } from './db.js';

/**
 * Bucket width: as wide as coverage's window (replay/qemu-correlate.ts, 20 ms) and no wider, which
 * keeps coverage exact with the fewest buckets (a long boot has ~50 per second of QEMU log).
 */
export const QEMU_BUCKET_NS = 20_000_000n;

/** Collects one source's QEMU line times; a row per run of lines in one bucket. */
export class QemuBucketWriter {
  private readonly insert;
  /** The current bucket [start, start + width) and its first and last time; start null: none yet. */
  private start: bigint | null = null;
  private end = 0n;
  private first = 0n;
  private last = 0n;

  constructor(db: Db, private readonly sourceId: number) {
    this.insert = db.prepare('INSERT INTO qemu_log_buckets (source_id, bucket_ns, first_ns, last_ns) VALUES (?, ?, ?, ?)');
  }

  /** A QEMU line's host time (epoch ns). Lines of several host threads may come slightly out of order. */
  push(ts: bigint): void {
    if (this.start !== null && ts >= this.start && ts < this.end) {
      if (ts < this.first) this.first = ts;
      if (ts > this.last) this.last = ts;
      return;
    }
    this.flush();
    this.start = ts - (ts % QEMU_BUCKET_NS);
    this.end = this.start + QEMU_BUCKET_NS;
    this.first = this.last = ts;
  }

  /** Writes the current bucket (once the file is read). */
  flush(): void {
    if (this.start !== null) this.insert.run(this.sourceId, this.start, this.first, this.last);
    this.start = null;
  }
}
