// Long uptimes (issue 22 item 1): a server up for more than 104 days stamps its printk and ftrace
// lines with more than 2^53 ns, beyond a float64's exact integers. Ingest stores such times exactly
// (SQLite INTEGER, bound as BigInt), but replay and the detectors compute on JavaScript numbers. So
// that they stay exact without slowing down every boot, a boot whose guest times reach EPOCH_FROM_NS
// is replayed on times relative to its epoch (its first whole second): inside detect's transaction
// the boot's guest times are shifted down by the epoch, replay and the detectors run (spans below
// 104 days stay exact), and then the inputs and every derived time are shifted back up, exactly, in
// SQLite. A failure rolls the transaction back, shift included. Boots below the bound (all
// real boots but the long-running servers) are not touched.
import { LONG_UPTIME_FROM_NS } from '../schema/stats.js';
import type { Db } from '../store/db.js';

/** Boots with guest times from here on (52 days) are replayed relative to their epoch. */
export const EPOCH_FROM_NS = BigInt(LONG_UPTIME_FROM_NS);

/** Derived times (the boot's reference clock) that replay writes: shifted back by the epoch. Durations are not here. */
const DERIVED_TIMES: Record<string, string[]> = {
  cpu_states: ['start_ns', 'end_ns'],
  cpu_coverage: ['start_ns', 'end_ns'],
  ipi_sends: ['ts_ns'],
  csd_lifecycle: ['queued_ns', 'ipi_ns', 'entry_ns', 'exit_ns', 'flush_ns', 'released_ns', 'next_offline_ns'],
  offline_callbacks: ['ts_ns', 'offline_since_ns'],
  csd_episodes: ['first_ns', 'last_ns'],
  console_reports: ['ts_ns'],
  qemu_sends: ['ts_ns'],
  qemu_links: ['qemu_ns'],
};

const SOURCES = 'source_id IN (SELECT source_id FROM sources WHERE boot = :boot)';

/** The boot's epoch: 0n when its guest times stay below EPOCH_FROM_NS, else its first whole second in ns. */
export function bootEpoch(db: Db, boot: string): bigint {
  // Ingest counts the guest times from EPOCH_FROM_NS on (stat long_uptime_times): without one, the
  // epoch is 0 and the min/max scan over every event of the boot is not needed.
  const flagged = db.prepare(`SELECT EXISTS (SELECT 1 FROM stats WHERE ${SOURCES} AND name = 'long_uptime_times') AS n`)
    .pluck().get({ boot }) as number;
  if (flagged === 0) return 0n;
  const row = db.prepare(`SELECT max(hi) AS hi, min(lo) AS lo FROM (
      SELECT max(ts_ns) AS hi, min(ts_ns) AS lo FROM events WHERE ${SOURCES} AND clock IN ('ftrace', 'printk')
      UNION ALL SELECT max(ts_ns), min(ts_ns) FROM console_messages WHERE ${SOURCES})`).safeIntegers(true)
    .get({ boot }) as { hi: bigint | null; lo: bigint | null };
  if (row.hi === null || row.lo === null || row.hi < EPOCH_FROM_NS || row.lo < 0n) return 0n;
  return (row.lo / 1_000_000_000n) * 1_000_000_000n;
}

/**
 * Shifts the boot's guest times by -epoch and makes replay read them from `events` (the packed replay
 * stream holds them unshifted). Returns the function that shifts everything back.
 */
export function enterEpoch(db: Db, boot: string, epoch: bigint): () => void {
  shiftInputs(db, boot, -epoch);
  // A marker chunk (store/event-stream.ts) sends replay to the rows; added where none is, removed after.
  const added = db.prepare(`INSERT INTO event_chunks (source_id, first_event_id, last_event_id, events, data)
    SELECT source_id, 0, -1, 0, x'' FROM sources WHERE boot = :boot
      AND NOT EXISTS (SELECT 1 FROM event_chunks c WHERE c.source_id = sources.source_id AND c.first_event_id = 0)
    RETURNING source_id`).pluck().all({ boot }) as number[];
  return () => {
    shiftInputs(db, boot, epoch);
    const remove = db.prepare('DELETE FROM event_chunks WHERE source_id = ? AND first_event_id = 0 AND last_event_id = -1');
    for (const id of added) remove.run(id);
    for (const [table, columns] of Object.entries(DERIVED_TIMES)) {
      db.prepare(`UPDATE ${table} SET ${columns.map((c) => `${c} = ${c} + :epoch`).join(', ')} WHERE boot = :boot`).run({ boot, epoch });
    }
    // ref = (qemu + offset) * (1 + d): with ref shifted by E, offset shifts by E / (1 + d).
    db.prepare(`UPDATE clock_offsets SET offset_ns = offset_ns + :epoch
        - CAST(round(CAST(:epoch AS REAL) * coalesce(drift_ppm, 0) / (1e6 + coalesce(drift_ppm, 0))) AS INTEGER)
      WHERE boot = :boot AND clock = 'qemu-host'`).run({ boot, epoch });
  };
}

function shiftInputs(db: Db, boot: string, by: bigint): void {
  db.prepare(`UPDATE events SET ts_ns = ts_ns + :by WHERE ${SOURCES} AND clock IN ('ftrace', 'printk') AND ts_ns IS NOT NULL`).run({ boot, by });
  db.prepare(`UPDATE console_messages SET ts_ns = ts_ns + :by WHERE ${SOURCES} AND ts_ns IS NOT NULL`).run({ boot, by });
}

/** A relative time made absolute: a number where exact, else a BigInt. */
export function absoluteNs(ns: number | bigint | null, epoch: bigint): number | bigint | null {
  if (ns === null || epoch === 0n) return ns;
  const exact = BigInt(ns) + epoch;
  return exact <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(exact) : exact;
}
