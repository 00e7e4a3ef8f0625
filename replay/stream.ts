// Reading one boot's events in replay order without asking SQLite to sort them. Each source's
// events are stored in file order under consecutive event_ids, and a trace file, an oops-time dump
// and a console are each written in time order: reading every source in event_id order and merging
// the sources on (ts_ns, event_id) gives exactly `ORDER BY ts_ns, event_id`. A source is read from
// its replay stream (store/event-stream.ts: chunks packed at ingest), or row by row from `events`
// where it has none or the boot needs the raw arguments (several views of one ring buffer). A
// source found out of order falls back to a sorted copy of the event ids (a TEMP table, which spills
// to disk like any sort). Either way one chunk per source is in memory at a time, and the connection
// stays free to write derived rows while the events stream past.
import { ChunkReader, replayFields, type StreamClock, type StreamEvent } from '../store/event-stream.js';
import type { Db } from '../store/db.js';

// Small enough that a chunk's rows die young (a big chunk outlives a few scavenges, and the old space it
// is promoted to grows with the input before a full collection).
const CHUNK_ROWS = 1024;

/** Thrown by a scan in time order when a source is not in time order. */
export class OutOfOrder extends Error {}

export interface BootSource {
  sourceId: number;
  /** event_id range of the source (inclusive). */
  first: number;
  last: number;
}

/** The boot's sources that have events, in source_id order, with their event_id ranges. */
export function bootSources(db: Db, boot: string): BootSource[] {
  const ids = db.prepare('SELECT source_id FROM sources WHERE boot = ? ORDER BY source_id').pluck().all(boot) as number[];
  // A source's event_ids rise with its lines: both ends are one probe of the (source_id, line) index.
  const first = db.prepare('SELECT event_id FROM events WHERE source_id = ? ORDER BY line, event_id LIMIT 1').pluck();
  const last = db.prepare('SELECT event_id FROM events WHERE source_id = ? ORDER BY line DESC, event_id DESC LIMIT 1').pluck();
  const sources: BootSource[] = [];
  for (const sourceId of ids) {
    const from = first.get(sourceId) as number | undefined;
    if (from !== undefined) sources.push({ sourceId, first: from, last: last.get(sourceId) as number });
  }
  return sources;
}

/** A source's events of one clock, in event_id order. */
export interface EventCursor {
  readonly sourceId: number;
  /** The current event, or undefined at the end. */
  peek(): StreamEvent | undefined;
  advance(): void;
}

/** Reads a source's replay stream; the event handed out is the reader itself (see ChunkReader). */
export class ChunkCursor implements EventCursor {
  private readonly reader: ChunkReader;
  private current: StreamEvent | undefined;

  constructor(db: Db, readonly sourceId: number, clock: StreamClock) {
    this.reader = new ChunkReader(db, sourceId, clock);
    this.advance();
  }

  peek(): StreamEvent | undefined {
    return this.current;
  }

  advance(): void {
    this.current = this.reader.next() ? this.reader : undefined;
  }
}

// The columns replayFields and StreamEvent need, from events (+ the ipi_send target list).
const ROW_COLUMNS = `event_id, ts_ns, cpu, op, clock, line, target_cpu, csd, func, callsite, reason, kind,
  CASE WHEN op = 'ipi_send' THEN (SELECT group_concat(t.cpu) FROM event_targets t WHERE t.event_id = events.event_id) END,
  hp_state, hp_step, hp_ret, args`;
const ROW_WHERE = "ts_ns IS NOT NULL AND clock = ? AND format != 'qemu'";
type EventRow = [number, number, number | null, string | null, StreamClock, number, number | null, string | null,
  string | null, string | null, string | null, string, string | null, number | null, number | null, number | null, string];

/** A row of ROW_COLUMNS as the replay stream has it; with `raw`, keeps the event name and arguments. */
function rowEvent(row: EventRow, sourceId: number, raw: boolean): StreamEvent {
  const [eventId, ts, cpu, op, clock, line, target_cpu, csd, func, callsite, reason, kind, targets, hp_state, hp_step, hp_ret, args] = row;
  const fields = replayFields({
    op, target_cpu, csd, func, callsite, reason, kind, targets: targets === null ? [] : targets.split(',').map(Number),
    hp_state, hp_step, hp_ret, args,
  });
  const event: StreamEvent = { eventId, sourceId, line, ts, cpu, op, clock, ...fields };
  if (raw) {
    event.kindName = kind;
    event.args = args;
  }
  return event;
}

/** Reads a source's events of one clock row by row from `events`, a chunk of rows at a time. */
export class RowCursor implements EventCursor {
  private readonly statement;
  private events: StreamEvent[] = [];
  private pos = 0;
  private after: number;
  private done = false;

  constructor(db: Db, private readonly source: BootSource, private readonly clock: StreamClock, private readonly raw: boolean) {
    this.after = source.first - 1;
    // `+source_id`: a scan of the rowid range, not a walk of the (source_id, line) index.
    this.statement = db.prepare(`SELECT ${ROW_COLUMNS} FROM events
      WHERE +source_id = ? AND event_id > ? AND event_id <= ? AND ${ROW_WHERE} ORDER BY event_id LIMIT ${CHUNK_ROWS}`).raw();
  }

  get sourceId(): number {
    return this.source.sourceId;
  }

  peek(): StreamEvent | undefined {
    if (this.pos < this.events.length) return this.events[this.pos];
    if (this.done) return undefined;
    const rows = this.statement.all(this.source.sourceId, this.after, this.source.last, this.clock) as EventRow[];
    if (rows.length < CHUNK_ROWS) this.done = true;
    if (rows.length === 0) return undefined;
    this.after = rows[rows.length - 1][0];
    this.events = rows.map((row) => rowEvent(row, this.source.sourceId, this.raw));
    this.pos = 0;
    return this.events[0];
  }

  advance(): void {
    this.pos++;
  }
}

/** Which events a scan hands out, and which of those must be in time order within their source. */
export interface ScanFilter {
  include: (event: StreamEvent) => boolean;
  /** Events not ordered (only counted, e.g. markers) are handed out as soon as they are read. */
  ordered: (event: StreamEvent) => boolean;
}

/** Every included event, source after source, each in event_id order. */
export function scanBySource(cursors: EventCursor[], filter: ScanFilter, onEvent: (event: StreamEvent) => void): void {
  for (const cursor of cursors) {
    for (let event = cursor.peek(); event !== undefined; cursor.advance(), event = cursor.peek()) {
      if (filter.include(event)) onEvent(event);
    }
  }
}

/** Every included event in (ts_ns, event_id) order, merging the sources; throws OutOfOrder when an ordered one is not. */
export function scanByTime(cursors: EventCursor[], filter: ScanFilter, onEvent: (event: StreamEvent) => void): void {
  const lastTs = cursors.map(() => -Infinity);
  // The next event of a cursor that takes part in the order (the others are handed out on the way).
  // A filter whose `ordered` is its `include` (replay's second pass) is asked once per event.
  const orderedIsIncluded = filter.ordered === filter.include;
  const head = (i: number): StreamEvent | undefined => {
    const cursor = cursors[i];
    for (let event = cursor.peek(); event !== undefined; event = cursor.peek()) {
      if (filter.include(event)) {
        if (orderedIsIncluded || filter.ordered(event)) {
          if (!(event.ts >= lastTs[i])) throw new OutOfOrder(`source ${cursor.sourceId}: event ${event.eventId} goes back in time`);
          lastTs[i] = event.ts;
          return event;
        }
        onEvent(event);
      }
      cursor.advance();
    }
    return undefined;
  };
  const heads = cursors.map((_, i) => head(i));
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const event = heads[i];
      if (event === undefined) continue;
      if (best === -1) {
        best = i;
        continue;
      }
      const other = heads[best]!;
      if (event.ts < other.ts || (event.ts === other.ts && event.eventId < other.eventId)) best = i;
    }
    if (best === -1) return;
    onEvent(heads[best]!);
    cursors[best].advance();
    heads[best] = head(best);
  }
}

/**
 * The fallback: the events of `boot` that take part in the order (`orderedWhere`, on events)
 * sorted by SQLite on (ts_ns, event_id) into a TEMP table of event ids, then read back in chunks in
 * that order; the included ones are handed out. The caller handles the others separately.
 */
export function scanSorted(db: Db, boot: string, clock: StreamClock, orderedWhere: string, raw: boolean,
  include: (event: StreamEvent) => boolean, onEvent: (event: StreamEvent) => void): void {
  db.exec('DROP TABLE IF EXISTS temp.replay_order');
  db.prepare(`CREATE TEMP TABLE replay_order AS SELECT event_id FROM events
    WHERE source_id IN (SELECT source_id FROM sources WHERE boot = ?) AND ${ROW_WHERE} AND (${orderedWhere})
    ORDER BY ts_ns, event_id`).run(boot, clock);
  // Rows were inserted in sorted order: rowids 1, 2, 3... are the order.
  const statement = db.prepare(`SELECT ${ROW_COLUMNS}, source_id FROM temp.replay_order o JOIN events USING (event_id)
    WHERE o.rowid > ? ORDER BY o.rowid LIMIT ${CHUNK_ROWS}`).raw();
  try {
    let after = 0;
    for (;;) {
      const rows = statement.all(after) as [...EventRow, number][];
      after += rows.length;
      for (const row of rows) {
        const event = rowEvent(row.slice(0, -1) as EventRow, row[row.length - 1] as number, raw);
        if (include(event)) onEvent(event);
      }
      if (rows.length < CHUNK_ROWS) break;
    }
  } finally {
    db.exec('DROP TABLE IF EXISTS temp.replay_order');
  }
}
