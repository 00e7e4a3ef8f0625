// Timestamps that a serial line corrupted (printk stamps, and ftrace event times the same way). A console's stamps rise line by line, with small dips
// (a secondary CPU's clock before it is synchronised) and restarts (a new boot, kexec); one line far
// AHEAD of both its neighbours while they agree with each other is a corrupted digit, not time: a
// real QEMU TCG boot showed `[    22.804794]` between two lines stamped 2.804794. Left as it is, it
// would stretch the boot's span and, where the console is the reference clock, push every later
// event past it (replay never lets time go back). Such a stamp is replaced by the previous line's.
import type { Db } from '../store/db.js';

/** How far ahead of both neighbours a stamp must be to count as corrupt. */
const SPIKE_NS = 1_000_000_000;

/**
 * Repairs the spikes of one source's console messages, printk-clock events and ftrace events (a trace
 * file and an oops-time dump are each in time order, so each format is its own sequence); returns
 * their lines.
 */
export function repairTimestampSpikes(db: Db, sourceId: number): number[] {
  const lines: number[] = [];
  for (const [table, key, where, partition] of [
    ['console_messages', 'msg_id', '', ''],
    ['events', 'event_id', "AND clock = 'printk'", ''],
    ['events', 'event_id', "AND clock = 'ftrace'", 'PARTITION BY format'],
  ] as const) {
    const spikes = db.prepare(`WITH w AS (
        SELECT ${key} AS id, line, ts_ns, lag(ts_ns) OVER (${partition} ORDER BY line) AS prev,
               lead(ts_ns) OVER (${partition} ORDER BY line) AS next
        FROM ${table} WHERE source_id = ? AND ts_ns IS NOT NULL ${where})
      SELECT id, line, prev FROM w WHERE ts_ns - prev > ? AND ts_ns - next > ? AND next >= prev`)
      .all(sourceId, SPIKE_NS, SPIKE_NS) as { id: number; line: number; prev: number }[];
    const update = db.prepare(`UPDATE ${table} SET ts_ns = ? WHERE ${key} = ?`);
    for (const spike of spikes) {
      update.run(spike.prev, spike.id);
      lines.push(spike.line);
    }
  }
  return [...new Set(lines)].sort((a, b) => a - b);
}
