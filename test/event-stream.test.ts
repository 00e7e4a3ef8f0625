// The replay stream (store/event-stream.ts) must hand replay exactly what the events table says:
// for every fixture, every source and guest clock, the events read from the chunks written at ingest
// equal the events derived row by row from `events` (the fallback path of replay/stream.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingestFiles } from '../ingest/ingest.js';
import { bootSources, ChunkCursor, RowCursor, type EventCursor } from '../replay/stream.js';
import { replayBoot } from '../replay/replay.js';
import { openWritable, type Db } from '../store/db.js';
import { CHUNK_EVENTS, CHUNKS_PER_READ, copyEvent, hasStream, STREAM_CLOCKS, type StreamEvent } from '../store/event-stream.js';
import { ingestTexts } from './helpers/ingest.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

function drain(cursor: EventCursor): StreamEvent[] {
  const events: StreamEvent[] = [];
  for (let e = cursor.peek(); e !== undefined; cursor.advance(), e = cursor.peek()) events.push(copyEvent(e));
  return events;
}

function compareStreams(db: Db, boot: string): number {
  let compared = 0;
  for (const source of bootSources(db, boot)) {
    for (const clock of STREAM_CLOCKS) {
      const fromChunks = drain(new ChunkCursor(db, source.sourceId, clock));
      const fromRows = drain(new RowCursor(db, source, clock, false));
      expect(fromChunks).toEqual(fromRows);
      compared += fromRows.length;
    }
  }
  return compared;
}

describe('replay stream', () => {
  for (const name of readdirSync(FIXTURES).filter((f) => !f.includes('.')).sort()) {
    it(`${name}: the chunks hold what the events table holds`, async () => {
      const fixture = JSON.parse(readFileSync(join(FIXTURES, name, 'fixture.json'), 'utf8')) as { boot: string; files: string[] };
      const db = openWritable(':memory:');
      await ingestFiles(db, fixture.files.map((f) => join(FIXTURES, name, f)), { boot: fixture.boot });
      const sourceIds = bootSources(db, fixture.boot).map((s) => s.sourceId);
      expect(hasStream(db, sourceIds)).toBe(true);
      const streamed = compareStreams(db, fixture.boot);
      const expected = db.prepare(`SELECT count(*) FROM events WHERE ts_ns IS NOT NULL AND clock IN ('ftrace', 'printk')
        AND format != 'qemu'`).pluck().get() as number;
      expect(streamed).toBe(expected);
      db.close();
    });
  }

  it('spans more chunks than one read fetches, and a repaired time is repaired in its chunk too', async () => {
    // Events one us apart filling CHUNKS_PER_READ + 1 chunks and 10 more, then a corrupt time (a
    // doubled digit) on an early line.
    const events = CHUNK_EVENTS * (CHUNKS_PER_READ + 1) + 10;
    const lines = ['# tracer: nop'];
    for (let i = 0; i < events; i++) {
      lines.push(`  <idle>-0  [001] d.h1.  ${(1 + i / 1e6).toFixed(6)}: call_function_single_entry: vector=251`);
    }
    lines[101] = lines[101].replace('1.000100:', '11.000100:');
    const db = await ingestTexts({ 'trace.txt': lines.join('\n') + '\n' });
    expect(db.prepare('SELECT count(*) FROM event_chunks').pluck().get()).toBe(CHUNKS_PER_READ + 2);
    expect(db.prepare("SELECT count(*) FROM stats WHERE name = 'timestamp_spikes'").pluck().get()).toBe(1);
    expect(compareStreams(db, 'unit')).toBe(events);
  });

  it('a source whose values do not fit is replayed from its rows', async () => {
    const trace = [
      '  kworker/0:1-10  [000] d..1.  1.000000: csd_queue_cpu: cpu=1 callsite=a+0x0/0x1 func=f csd=00000000aaaa0000',
      // A time past 2^53 ns (a BigInt: the stream's Float64 cannot hold it exactly). A CPU beyond
      // Int32 no longer reaches the stream: it is an unparsed row (parsers/bounds.ts).
      '  kworker/0:1-10  [000] d..1.  10000000.000100: ipi_send_cpu: cpu=1 callsite=a+0x0/0x1 callback=b+0x0/0x1',
    ].join('\n') + '\n';
    const db = await ingestTexts({ 'trace.txt': trace });
    const sourceIds = bootSources(db, 'unit').map((s) => s.sourceId);
    expect(db.prepare('SELECT count(*) FROM events').pluck().get()).toBe(2);
    expect(hasStream(db, sourceIds)).toBe(false);
    replayBoot(db, 'unit');
    expect(db.prepare('SELECT target_cpu FROM csd_lifecycle').pluck().all()).toEqual([1]);
  });
});
