// Lines up a boot's clocks. The guest's ftrace clock and its printk clock differ by a fixed offset
// per boot (0.15-1.7 s in the corpus); the same text written to trace_marker and /dev/kmsg, or a
// CPU's takedown seen both as a cpuhp event and as the console's "CPU N is now offline", gives it.
import type { Db } from '../store/db.js';

export type RefClock = 'ftrace' | 'printk';

export interface ClockMap {
  ref: RefClock;
  /** ref_ns = printk_ns + printkOffset. */
  printkOffset: number;
  method: 'identity' | 'markers' | 'hotplug' | 'buffer reset' | 'assumed';
  samples: number;
  spread: number | null;
}

export function mapClocks(db: Db, boot: string): ClockMap {
  // Events on the ftrace clock come only from ftrace lines: without any, no walk of the events
  // (which finds nothing only after reading every row).
  const hasFtrace = ftraceViews(db, boot) > 0 && db.prepare(`SELECT 1 FROM events JOIN sources USING (source_id)
    WHERE boot = ? AND clock = 'ftrace' LIMIT 1`).get(boot) !== undefined;
  if (!hasFtrace) return { ref: 'printk', printkOffset: 0, method: 'identity', samples: 0, spread: null };
  for (const [method, differences] of [['markers', markerDifferences(db, boot)], ['hotplug', hotplugDifferences(db, boot)]] as const) {
    if (differences.length > 0) {
      const sorted = [...differences].sort((a, b) => a - b);
      return {
        ref: 'ftrace', printkOffset: sorted[Math.floor(sorted.length / 2)], method,
        samples: sorted.length, spread: sorted[sorted.length - 1] - sorted[0],
      };
    }
  }
  const reset = dumpBufferReset(db, boot);
  if (reset !== null) return { ref: 'ftrace', printkOffset: -reset, method: 'buffer reset', samples: 1, spread: null };
  return { ref: 'ftrace', printkOffset: 0, method: 'assumed', samples: 0, spread: null };
}

/**
 * Views of one ring buffer that a boot holds more than once: the trace file and an oops-time dump
 * (a CI script that cats the trace and then crashes prints both on one console), or several files.
 * Counted from the lines each source has per ftrace format (sources.format_counts).
 */
export function ftraceViews(db: Db, boot: string): number {
  const counts = db.prepare('SELECT format_counts FROM sources WHERE boot = ?').pluck().all(boot) as string[];
  let views = 0;
  for (const json of counts) {
    const formats = JSON.parse(json) as Record<string, number>;
    for (const format of ['ftrace', 'trace-cmd', 'ftrace-dump']) if ((formats[format] ?? 0) > 0) views++;
  }
  return views;
}

/**
 * The printk time of the ring-buffer reset that an oops-time dump counts from, when the boot's only
 * ftrace events come from dumps. The dump prints `ts - time_start` (lat_print_timestamp), and
 * time_start is 0 until the buffer is reset; the reset a booting kernel does by itself is the switch
 * to the "global" clock when sched_clock is unstable (common under QEMU TCG), which it announces
 * just before. A trace file read later prints absolute times, so with one the reset is not used.
 */
function dumpBufferReset(db: Db, boot: string): number | null {
  if (!consoleHas(db, boot, 'trace_clock_reset')) return null;
  const formats = db.prepare(`SELECT DISTINCT e.format FROM events e JOIN sources s USING (source_id)
    WHERE s.boot = ? AND e.clock = 'ftrace'`).pluck().all(boot) as string[];
  if (formats.length !== 1 || formats[0] !== 'ftrace-dump') return null;
  const row = db.prepare(`SELECT c.ts_ns FROM console_messages c JOIN sources s USING (source_id)
    WHERE s.boot = ? AND c.kind = 'trace_clock_reset' AND c.ts_ns IS NOT NULL
      AND (c.source_id, c.line) < (SELECT d.source_id, d.line FROM console_messages d JOIN sources t USING (source_id)
                                   WHERE t.boot = ? AND d.kind = 'dump_begin' ORDER BY d.source_id, d.line LIMIT 1)
    ORDER BY c.source_id DESC, c.line DESC LIMIT 1`).get(boot, boot) as { ts_ns: number } | undefined;
  return row?.ts_ns ?? null;
}

/** ftrace - printk for each trace_marker text also printed on the console (n-th copy with n-th copy). */
function markerDifferences(db: Db, boot: string): number[] {
  if (!consoleHas(db, boot, 'text')) return [];
  const rows = db.prepare(`
    WITH m AS (SELECT DISTINCT e.text, e.ts_ns FROM events e JOIN sources s USING (source_id)
               WHERE s.boot = ? AND e.op = 'marker' AND e.clock = 'ftrace' AND e.ts_ns IS NOT NULL),
         mn AS (SELECT text, ts_ns, row_number() OVER (PARTITION BY text ORDER BY ts_ns) AS n FROM m),
         c AS (SELECT c.text, c.ts_ns, row_number() OVER (PARTITION BY c.text ORDER BY c.ts_ns, c.line) AS n
               FROM console_messages c JOIN sources s USING (source_id)
               WHERE s.boot = ? AND c.kind = 'text' AND c.ts_ns IS NOT NULL)
    SELECT mn.ts_ns - c.ts_ns AS d FROM mn JOIN c ON c.text = mn.text AND c.n = mn.n`).all(boot, boot) as { d: number }[];
  return rows.map((r) => r.d);
}

/** ftrace - printk between the takedown_cpu exit of CPU N and the console's "CPU N is now offline". */
function hotplugDifferences(db: Db, boot: string): number[] {
  if (!consoleHas(db, boot, 'cpu_offline')) return [];
  const rows = db.prepare(`
    WITH t AS (SELECT e.target_cpu AS cpu, e.ts_ns, row_number() OVER (PARTITION BY e.target_cpu ORDER BY e.ts_ns) AS n
               FROM events e JOIN sources s USING (source_id)
               WHERE s.boot = ? AND e.op = 'hp_exit' AND e.clock = 'ftrace' AND e.hp_step IN
                 (SELECT DISTINCT hp_step FROM events WHERE op = 'hp_enter' AND func = 'takedown_cpu')),
         c AS (SELECT c.cpu, c.ts_ns, row_number() OVER (PARTITION BY c.cpu ORDER BY c.ts_ns) AS n
               FROM console_messages c JOIN sources s USING (source_id)
               WHERE s.boot = ? AND c.kind = 'cpu_offline' AND c.ts_ns IS NOT NULL)
    SELECT t.ts_ns - c.ts_ns AS d FROM t JOIN c USING (cpu, n)`).all(boot, boot) as { d: number }[];
  return rows.map((r) => r.d);
}

/**
 * Whether the boot's console has a message of this kind (timed): each clock pairing needs its console
 * side, and the event side is a walk of scattered rows (hundreds of ms on a large trace without console).
 */
function consoleHas(db: Db, boot: string, kind: string): boolean {
  return db.prepare(`SELECT 1 FROM console_messages c JOIN sources s USING (source_id)
    WHERE s.boot = ? AND c.kind = ? AND c.ts_ns IS NOT NULL LIMIT 1`).get(boot, kind) !== undefined;
}
