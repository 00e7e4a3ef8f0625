// Reading one boot's events in replay order without asking SQLite to sort them. Each source's
// events are stored in file order under consecutive event_ids, and a trace file, an oops-time dump
// and a console are each written in time order: reading every source by event_id in chunks and
// merging the sources on (ts_ns, event_id) gives exactly `ORDER BY ts_ns, event_id`, at the cost of
// a table scan. A source found out of order falls back to a sorted copy of the event ids (a TEMP
// table, which spills to disk like any sort). Reading in chunks (not a live iterator) leaves the
// connection free to write derived rows while the events stream past, so memory stays flat.
import type { Db } from '../store/db.js';

/** A row as better-sqlite3 returns it in raw mode; column positions are the caller's. */
export type Row = unknown[];

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
  const range = db.prepare('SELECT min(event_id), max(event_id) FROM events WHERE source_id = ?').raw();
  const sources: BootSource[] = [];
  for (const sourceId of ids) {
    const [first, last] = range.get(sourceId) as [number | null, number | null];
    if (first !== null && last !== null) sources.push({ sourceId, first, last });
  }
  return sources;
}

/**
 * One scan definition: `columns` must start with `event_id, ts_ns`; `where` filters events (no
 * alias; may use ? parameters given in `params`). Rows come as arrays in column order.
 */
export interface ScanSpec {
  columns: string;
  where: string;
  params: unknown[];
}

/** Reads one source's matching events in event_id order, a chunk at a time. */
class SourceCursor {
  private rows: Row[] = [];
  private pos = 0;
  private after: number;
  private done = false;

  constructor(private readonly statement: ReturnType<Db['prepare']>, readonly source: BootSource, private readonly spec: ScanSpec) {
    this.after = source.first - 1;
  }

  /** The current row, or undefined at the end. */
  peek(): Row | undefined {
    if (this.pos < this.rows.length) return this.rows[this.pos];
    if (this.done) return undefined;
    this.rows = this.statement.all([this.source.sourceId, this.after, this.source.last, ...this.spec.params]) as Row[];
    this.pos = 0;
    if (this.rows.length < CHUNK_ROWS) this.done = true;
    if (this.rows.length === 0) return undefined;
    this.after = this.rows[this.rows.length - 1][0] as number;
    return this.rows[0];
  }

  advance(): void {
    this.pos++;
  }
}

function prepareChunk(db: Db, spec: ScanSpec): ReturnType<Db['prepare']> {
  // `+source_id`: a scan of the rowid range, not a walk of the (source_id, line) index.
  return db.prepare(`SELECT ${spec.columns} FROM events
    WHERE +source_id = ? AND event_id > ? AND event_id <= ? AND (${spec.where})
    ORDER BY event_id LIMIT ${CHUNK_ROWS}`).raw();
}

/** Every matching event of the sources, source after source, each in event_id order. */
export function scanBySource(db: Db, sources: BootSource[], spec: ScanSpec, onRow: (row: Row, sourceId: number) => void): void {
  const statement = prepareChunk(db, spec);
  for (const source of sources) {
    const cursor = new SourceCursor(statement, source, spec);
    for (let row = cursor.peek(); row !== undefined; cursor.advance(), row = cursor.peek()) onRow(row, source.sourceId);
  }
}

/**
 * Every matching event in (ts_ns, event_id) order, merging the sources. `ordered(row)` tells which
 * rows must be in time order within their source (the others, e.g. rows only counted, are handed
 * out as soon as they are read); throws OutOfOrder when one is not.
 */
export function scanByTime(db: Db, sources: BootSource[], spec: ScanSpec, ordered: (row: Row) => boolean,
  onRow: (row: Row, sourceId: number) => void): void {
  const statement = prepareChunk(db, spec);
  const cursors = sources.map((source) => new SourceCursor(statement, source, spec));
  const lastTs = cursors.map(() => -Infinity);
  // The next row of a cursor that takes part in the order (the others are handed out on the way).
  const head = (i: number): Row | undefined => {
    const cursor = cursors[i];
    for (let row = cursor.peek(); row !== undefined; row = cursor.peek()) {
      if (ordered(row)) {
        const ts = row[1] as number;
        if (!(ts >= lastTs[i])) throw new OutOfOrder(`source ${cursor.source.sourceId}: event ${row[0]} goes back in time`);
        lastTs[i] = ts;
        return row;
      }
      onRow(row, cursor.source.sourceId);
      cursor.advance();
    }
    return undefined;
  };
  const heads = cursors.map((_, i) => head(i));
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const row = heads[i];
      if (row === undefined) continue;
      if (best === -1) {
        best = i;
        continue;
      }
      const other = heads[best]!;
      const ts = row[1] as number;
      const otherTs = other[1] as number;
      if (ts < otherTs || (ts === otherTs && (row[0] as number) < (other[0] as number))) best = i;
    }
    if (best === -1) return;
    onRow(heads[best]!, cursors[best].source.sourceId);
    cursors[best].advance();
    heads[best] = head(best);
  }
}

/**
 * The fallback: the matching events of `boot` sorted by SQLite on (ts_ns, event_id) into a TEMP
 * table of event ids, then read back in chunks in that order. Only rows that take part in the
 * order are sorted (`orderedWhere`); the caller handles the others separately.
 */
export function scanSorted(db: Db, boot: string, spec: ScanSpec, orderedWhere: string,
  onRow: (row: Row, sourceId: number) => void): void {
  db.exec('DROP TABLE IF EXISTS temp.replay_order');
  db.prepare(`CREATE TEMP TABLE replay_order AS SELECT event_id FROM events
    WHERE source_id IN (SELECT source_id FROM sources WHERE boot = ?) AND (${spec.where}) AND (${orderedWhere})
    ORDER BY ts_ns, event_id`).run([boot, ...spec.params]);
  // Rows were inserted in sorted order: rowids 1, 2, 3... are the order.
  const statement = db.prepare(`SELECT ${spec.columns}, source_id FROM temp.replay_order o JOIN events USING (event_id)
    WHERE o.rowid > ? ORDER BY o.rowid LIMIT ${CHUNK_ROWS}`).raw();
  try {
    let after = 0;
    for (;;) {
      const rows = statement.all(after) as Row[];
      after += rows.length;
      for (const row of rows) onRow(row, row[row.length - 1] as number);
      if (rows.length < CHUNK_ROWS) break;
    }
  } finally {
    db.exec('DROP TABLE IF EXISTS temp.replay_order');
  }
}
