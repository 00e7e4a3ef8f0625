// QEMU's IPI writes as the correlation reads them (store/qemu-writes.ts, packed at ingest) must be
// what the events table says: for every fixture, the packed writes equal the rows of the query the
// correlation ran before (kept here as the definition).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingestFiles } from '../ingest/ingest.js';
import { openWritable, type Db } from '../store/db.js';
import { readQemuWrites, WRITES_PER_CHUNK, type QemuWrites } from '../store/qemu-writes.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

interface Write {
  eventId: number; sourceId: number; line: number; tid: number; cpu: number; vector: number; t: number;
  shorthand: string | null; x86: boolean; targets: number[];
}

/** The writes as rows of `events`: fixed-mode ICR writes on x86, every GIC SGI write. */
function writesFromRows(db: Db, boot: string, base: bigint): Write[] {
  const rows = db.prepare(`SELECT e.event_id, e.source_id, e.line, e.host_tid, e.cpu, e.vector, e.text, e.ts_ns - ?,
      CASE WHEN e.target_cpu IS NOT NULL THEN e.target_cpu
        ELSE (SELECT group_concat(t.cpu) FROM event_targets t WHERE t.event_id = e.event_id) END
    FROM events e JOIN sources s USING (source_id)
    WHERE s.boot = ? AND e.format = 'qemu' AND e.op = 'ipi_send' AND (substr(e.kind, 1, 5) != 'apic_' OR e.text LIKE 'fixed%')
    ORDER BY e.event_id`).raw().all(base, boot) as [number, number, number, number | null, number | null, number | null,
      string | null, number | null, number | string | null][];
  return rows.map(([eventId, sourceId, line, tid, cpu, vector, text, t, targets]) => ({
    eventId, sourceId, line, tid: tid ?? -1, cpu: cpu ?? -1, vector: vector ?? -1, t: t ?? Number.NaN,
    shorthand: /(all-but-self|all|self|broadcast|irm=1|filter=3)$/.exec(text ?? '')?.[1] ?? null,
    x86: text !== null && /^(fixed|lowest)/.test(text),
    targets: targets === null ? [] : String(targets).split(',').map(Number),
  }));
}

function unpacked(w: QemuWrites): { writes: Omit<Write, 'x86'>[]; x86: boolean } {
  const writes = Array.from({ length: w.count }, (_, i) => ({
    eventId: w.eventId[i], sourceId: w.sourceId[i], line: w.line[i], tid: w.tid[i], cpu: w.cpu[i], vector: w.vector[i],
    t: w.t[i], shorthand: w.shorthand[i], targets: Array.from(w.targets.subarray(w.firstTarget[i], w.firstTarget[i + 1])),
  }));
  return { writes, x86: w.x86 };
}

describe('QEMU IPI writes packed at ingest', () => {
  // Every fixture: QEMU logs of their own, CI logs that mix QEMU lines in, and none (no writes either way).
  const fixtures = readdirSync(FIXTURES).filter((f) => !f.includes('.')).sort();
  let largest = 0;
  let withWrites = 0;

  it.each(fixtures)('%s: the chunks hold what the events table holds', async (name) => {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, name, 'fixture.json'), 'utf8')) as { boot: string; files: string[] };
    const db = openWritable(':memory:');
    await ingestFiles(db, fixture.files.map((f) => join(FIXTURES, name, f)), { boot: fixture.boot });
    const base = (db.prepare(`SELECT e.ts_ns FROM events e WHERE e.format = 'qemu' AND e.op = 'ipi_send' AND e.ts_ns IS NOT NULL
      ORDER BY e.event_id LIMIT 1`).pluck().safeIntegers(true).get() as bigint | undefined) ?? 0n;
    const rows = writesFromRows(db, fixture.boot, base);
    expect(unpacked(readQemuWrites(db, fixture.boot, base))).toEqual({
      writes: rows.map(({ x86: _, ...w }) => w), x86: rows.some((w) => w.x86),
    });
    largest = Math.max(largest, rows.length);
    if (rows.length > 0) withWrites++;
  });

  it('the fixtures have writes (x86 APIC, GICv2, GICv3), in more than one chunk in one of them', () => {
    expect(withWrites).toBeGreaterThanOrEqual(10);
    expect(largest).toBeGreaterThan(WRITES_PER_CHUNK);
  });
});
