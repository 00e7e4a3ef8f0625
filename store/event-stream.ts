// The replay stream: what replay/ reads of each guest event, packed at ingest into chunks of columns
// (table event_chunks) with the strings in a per-source dictionary (event_strings). Replay reads
// every event of a boot twice; row by row through better-sqlite3 that cost ~0.8 us per event and
// pass, most of `ipitrace detect`. A chunk is one BLOB of typed arrays, read in one call.
//
// Only events with a time on a guest clock (ftrace, printk) are streamed: those are the ones replay
// reads. `replayFields` says which columns each op contributes; ingest encodes them from the parsed
// record, and replay's row-by-row fallback (replay/stream.ts) derives them from the events table with
// the same function, so that both paths see the same stream (test/event-stream.test.ts compares them).
import type { EventRecord } from '../schema/records.js';
import { OPS } from '../schema/vocabulary.js';
import type { Db } from './db.js';

/** Events per chunk: 4096 events are ~200 KB, so that a boot's sources each hold one chunk while merged. */
export const CHUNK_EVENTS = 4096;

/** Op codes in the stream: 0 is no op, then events.op's values (schema/records.ts). */
const STREAM_OPS = [null, ...OPS] as const;
const OP_CODES = new Map<string | null, number>(STREAM_OPS.map((op, code) => [op, code]));
export const STREAM_CLOCKS = ['ftrace', 'printk'] as const;
export type StreamClock = (typeof STREAM_CLOCKS)[number];

/** The columns of an event that replay uses besides its time, CPU and line, by op; NULL when the op does not use them. */
export interface ReplayFields {
  /** CPU the csd is queued to or the cpuhp step is for. */
  target: number | null;
  csd: string | null;
  /** csd_queue: the csd function; hp_enter: the step's callback. */
  func: string | null;
  callsite: string | null;
  /** ipi_send, ipi_entry: the IPI reason. */
  reason: string | null;
  /** ipi_send: the event name (ipi_send_cpu, ipi_raise...) and its target CPUs, comma-separated as group_concat gives them. */
  kind: string | null;
  targets: string | null;
  hpState: number | null;
  hpStep: number | null;
  hpRet: number | null;
  /** csd_entry without a csd address: the kernel printed a hashed-out pointer (ptrval). */
  hashed: boolean;
}

/** The source columns replayFields reads: an EventRecord, or an events row with `targets` as an array. */
export interface FieldSource {
  op: string | null;
  target_cpu: number | null;
  csd: string | null;
  func: string | null;
  callsite: string | null;
  reason: string | null;
  kind: string;
  targets: readonly number[];
  hp_state: number | null;
  hp_step: number | null;
  hp_ret: number | null;
  args: string;
}

const NO_FIELDS: ReplayFields = {
  target: null, csd: null, func: null, callsite: null, reason: null, kind: null, targets: null,
  hpState: null, hpStep: null, hpRet: null, hashed: false,
};

export function replayFields(e: FieldSource): ReplayFields {
  return replayFieldsInto(e, { ...NO_FIELDS });
}

/** replayFields written into `out` (every field set): the ingest writer refills one object per event instead of making one. */
export function replayFieldsInto(e: FieldSource, out: ReplayFields): ReplayFields {
  out.target = null;
  out.csd = null;
  out.func = null;
  out.callsite = null;
  out.reason = null;
  out.kind = null;
  out.targets = null;
  out.hpState = null;
  out.hpStep = null;
  out.hpRet = null;
  out.hashed = false;
  switch (e.op) {
    case 'csd_queue':
      out.target = e.target_cpu;
      out.csd = e.csd;
      out.func = e.func;
      out.callsite = e.callsite;
      break;
    case 'csd_entry':
      out.csd = e.csd;
      out.hashed = e.csd === null && e.args.includes('ptrval');
      break;
    case 'csd_exit':
      out.csd = e.csd;
      break;
    case 'ipi_send':
      out.reason = e.reason;
      out.kind = e.kind;
      out.targets = e.targets.length ? e.targets.join(',') : null;
      break;
    case 'ipi_entry':
      out.reason = e.reason;
      break;
    case 'hp_enter':
      out.target = e.target_cpu;
      out.func = e.func;
      out.hpState = e.hp_state;
      out.hpStep = e.hp_step;
      out.hpRet = e.hp_ret;
      break;
    case 'hp_exit':
      out.target = e.target_cpu;
      out.hpState = e.hp_state;
      out.hpStep = e.hp_step;
      out.hpRet = e.hp_ret;
      break;
  }
  return out;
}

/** One streamed event as replay sees it. */
export interface StreamEvent extends ReplayFields {
  eventId: number;
  sourceId: number;
  line: number;
  ts: number;
  cpu: number | null;
  op: string | null;
  clock: StreamClock;
  /** Only on the row-by-row path when a boot holds its ring buffer twice: event name and raw arguments. */
  kindName?: string;
  args?: string;
}

// Column layout of a chunk of n events: Float64 ts, then Int32 id offset (from the chunk's first
// event_id), line, cpu, target, csd, func, callsite, reason, kind, targets (string ids), hp_state,
// hp_step, hp_ret, then Uint8 op, clock, flags. -1 is NULL for CPUs and string ids; the hp columns
// say NULL in flags. Native byte order (the database is a local cache of what was ingested).
const INT_COLUMNS = ['id', 'line', 'cpu', 'target', 'csd', 'func', 'callsite', 'reason', 'kind', 'targets',
  'hpState', 'hpStep', 'hpRet'] as const;
type IntColumn = (typeof INT_COLUMNS)[number];
const BYTE_COLUMNS = ['op', 'clock', 'flags'] as const;
const FLAG_HASHED = 1, FLAG_NO_STATE = 2, FLAG_NO_STEP = 4, FLAG_NO_RET = 8;
const NULL_ID = -1;
/**
 * first_event_id of the marker chunk of a source given up on (event ids start at 1, so no real chunk
 * has it); its last_event_id is one less.
 */
const MARKER_FIRST_ID = 0;

function chunkBytes(n: number): number {
  return n * (8 + 4 * INT_COLUMNS.length + BYTE_COLUMNS.length);
}

interface ChunkColumns {
  ts: Float64Array;
  ints: Record<IntColumn, Int32Array>;
  op: Uint8Array;
  clock: Uint8Array;
  flags: Uint8Array;
}

function columnsOf(buffer: ArrayBufferLike, byteOffset: number, n: number): ChunkColumns {
  let at = byteOffset;
  const ts = new Float64Array(buffer, at, n);
  at += 8 * n;
  const ints = {} as Record<IntColumn, Int32Array>;
  for (const name of INT_COLUMNS) {
    ints[name] = new Int32Array(buffer, at, n);
    at += 4 * n;
  }
  const op = new Uint8Array(buffer, at, n);
  const clock = new Uint8Array(buffer, at + n, n);
  const flags = new Uint8Array(buffer, at + 2 * n, n);
  return { ts, ints, op, clock, flags };
}

const isInt32 = (x: number) => (x | 0) === x;
const isCpu = (x: number) => isInt32(x) && x >= NULL_ID;

/**
 * Builds a source's chunks as its events are stored. A value that does not fit its column (a
 * garbled CPU number beyond 2^31, a time that is not a safe integer) gives up on the stream for that
 * source: its chunks are deleted and replay reads its rows instead.
 */
export class StreamWriter {
  private readonly strings = new Map<string, number>();
  /** The fields of the event being pushed, refilled for each (push copies them into the columns). */
  private readonly fields: ReplayFields = { ...NO_FIELDS };
  private columns = columnsOf(new ArrayBuffer(chunkBytes(CHUNK_EVENTS)), 0, CHUNK_EVENTS);
  private n = 0;
  private firstId = 0;
  private lastId = 0;
  private valid = true;
  private readonly insertChunk;

  constructor(private readonly db: Db, private readonly sourceId: number) {
    this.insertChunk = db.prepare(`INSERT INTO event_chunks (source_id, first_event_id, last_event_id, events, data)
      VALUES (?, ?, ?, ?, ?)`);
  }

  /** Streams the event if replay reads it (a time on a guest clock). */
  push(eventId: number, line: number, ev: EventRecord): void {
    if (!this.valid || ev.ts_ns === null || ev.format === 'qemu') return;
    const clock = STREAM_CLOCKS.indexOf(ev.clock as StreamClock);
    if (clock < 0) return;
    if (typeof ev.ts_ns !== 'number' || !Number.isSafeInteger(ev.ts_ns)) return this.giveUp();
    if (this.n === 0) this.firstId = eventId;
    const f = replayFieldsInto(ev, this.fields);
    const i = this.n;
    const c = this.columns;
    const { ints } = c;
    const cpu = ev.cpu ?? NULL_ID;
    const target = f.target ?? NULL_ID;
    const hpState = f.hpState ?? 0, hpStep = f.hpStep ?? 0, hpRet = f.hpRet ?? 0;
    if (!isCpu(cpu) || !isCpu(target) || !isInt32(line) || !isInt32(hpState) || !isInt32(hpStep) || !isInt32(hpRet)
      || !isInt32(eventId - this.firstId)) return this.giveUp();
    ints.id[i] = eventId - this.firstId;
    ints.line[i] = line;
    ints.cpu[i] = cpu;
    ints.target[i] = target;
    ints.csd[i] = this.id(f.csd);
    ints.func[i] = this.id(f.func);
    ints.callsite[i] = this.id(f.callsite);
    ints.reason[i] = this.id(f.reason);
    ints.kind[i] = this.id(f.kind);
    ints.targets[i] = this.id(f.targets);
    ints.hpState[i] = hpState;
    ints.hpStep[i] = hpStep;
    ints.hpRet[i] = hpRet;
    c.ts[i] = ev.ts_ns;
    c.op[i] = OP_CODES.get(ev.op) ?? 0;
    c.clock[i] = clock;
    c.flags[i] = (f.hashed ? FLAG_HASHED : 0) | (f.hpState === null ? FLAG_NO_STATE : 0) | (f.hpStep === null ? FLAG_NO_STEP : 0)
      | (f.hpRet === null ? FLAG_NO_RET : 0);
    this.lastId = eventId;
    if (++this.n === CHUNK_EVENTS) this.flush();
  }

  /** Writes the last chunk and the string dictionary (once the file is read). */
  finish(): void {
    if (!this.valid) return;
    this.flush();
    const insert = this.db.prepare('INSERT INTO event_strings (source_id, string_id, text) VALUES (?, ?, ?)');
    for (const [text, id] of this.strings) insert.run(this.sourceId, id, text);
  }

  /** Gives an event a corrected time (ingest/timestamps.ts) in whichever chunk holds it. */
  setTime(eventId: number, ts: number): void {
    if (!this.valid) return;
    if (this.n > 0 && eventId >= this.firstId) {
      const i = this.indexIn(this.columns, this.n, eventId - this.firstId);
      if (i >= 0) this.columns.ts[i] = ts;
      return;
    }
    const row = this.db.prepare(`SELECT first_event_id, events, data FROM event_chunks
      WHERE source_id = ? AND first_event_id <= ? ORDER BY first_event_id DESC LIMIT 1`).raw()
      .get(this.sourceId, eventId) as ChunkRow | undefined;
    if (row === undefined) return;
    const [first, n, data] = row;
    const copy = new Uint8Array(data).slice();
    const columns = columnsOf(copy.buffer, 0, n);
    const i = this.indexIn(columns, n, eventId - first);
    if (i < 0) return;
    columns.ts[i] = ts;
    this.db.prepare('UPDATE event_chunks SET data = ? WHERE source_id = ? AND first_event_id = ?').run(copy, this.sourceId, first);
  }

  private indexIn(columns: ChunkColumns, n: number, offset: number): number {
    const ids = columns.ints.id;
    for (let i = 0; i < n; i++) if (ids[i] === offset) return i;
    return -1;
  }

  private id(text: string | null): number {
    if (text === null) return NULL_ID;
    let id = this.strings.get(text);
    if (id === undefined) this.strings.set(text, (id = this.strings.size));
    return id;
  }

  private flush(): void {
    if (this.n === 0) return;
    const n = this.n;
    if (n === CHUNK_EVENTS) {
      // A full chunk's columns already lie in the stored layout.
      this.insertChunk.run(this.sourceId, this.firstId, this.lastId, n, new Uint8Array(this.columns.ts.buffer));
    } else {
      const packed = new Uint8Array(chunkBytes(n));
      const out = columnsOf(packed.buffer, 0, n);
      out.ts.set(this.columns.ts.subarray(0, n));
      for (const name of INT_COLUMNS) out.ints[name].set(this.columns.ints[name].subarray(0, n));
      out.op.set(this.columns.op.subarray(0, n));
      out.clock.set(this.columns.clock.subarray(0, n));
      out.flags.set(this.columns.flags.subarray(0, n));
      this.insertChunk.run(this.sourceId, this.firstId, this.lastId, n, packed);
    }
    this.n = 0;
  }

  private giveUp(): void {
    this.valid = false;
    this.db.prepare('DELETE FROM event_chunks WHERE source_id = ?').run(this.sourceId);
    this.insertChunk.run(this.sourceId, MARKER_FIRST_ID, MARKER_FIRST_ID - 1, 0, Buffer.alloc(0));
    this.strings.clear();
  }
}

/**
 * Whether every source has a replay stream: none has the marker chunk. Looked up by its key: testing
 * last_event_id < first_event_id on every chunk read each chunk's leaf cell (14-34 ms on ftrace-1M).
 */
export function hasStream(db: Db, sourceIds: number[]): boolean {
  const givenUp = db.prepare(`SELECT 1 FROM event_chunks WHERE source_id = ? AND first_event_id = ${MARKER_FIRST_ID}
    AND last_event_id < first_event_id`);
  return sourceIds.every((id) => givenUp.get(id) === undefined);
}

/**
 * Chunks fetched per query: one query per chunk cost as much again as reading the chunk (its blob),
 * and the reader cannot keep a cursor open while replay writes its tables on the same connection.
 * 8 chunks are ~2 MB.
 */
export const CHUNKS_PER_READ = 8;

/** first_event_id, events, data. */
type ChunkRow = [number, number, Buffer];

/**
 * Reads a source's stream in event_id order, a few chunks in memory at a time. The reader is itself the
 * current event (fields read from the chunk's columns on access, no object per event): whoever gets it
 * uses it before calling next(), and copies it (copyEvent) to keep it.
 */
export class ChunkReader implements StreamEvent {
  private readonly strings: (string | null)[] = [];
  private readonly nextChunks;
  /** Chunks read but not reached yet, the next one last (for pop()). */
  private ahead: ChunkRow[] = [];
  private readonly wanted: number;
  private after = -Infinity;
  private c: ChunkColumns | null = null;
  private first = 0;
  private n = 0;
  private i = -1;

  constructor(db: Db, readonly sourceId: number, readonly clock: StreamClock) {
    for (const [id, text] of db.prepare('SELECT string_id, text FROM event_strings WHERE source_id = ?').raw()
      .iterate(sourceId) as IterableIterator<[number, string]>) this.strings[id] = text;
    this.nextChunks = db.prepare(`SELECT first_event_id, events, data FROM event_chunks
      WHERE source_id = ? AND first_event_id > ? ORDER BY first_event_id LIMIT ${CHUNKS_PER_READ}`).raw();
    this.wanted = STREAM_CLOCKS.indexOf(clock);
  }

  /** Moves to the next event of the reader's clock; false after the last. */
  next(): boolean {
    for (;;) {
      while (++this.i < this.n) if (this.c!.clock[this.i] === this.wanted) return true;
      if (!this.load()) return false;
    }
  }

  private load(): boolean {
    if (this.ahead.length === 0) {
      this.ahead = (this.nextChunks.all(this.sourceId, this.after) as ChunkRow[]).reverse();
      if (this.ahead.length > 0) this.after = this.ahead[0][0];
    }
    const row = this.ahead.pop();
    if (row === undefined) {
      this.n = 0;
      return false;
    }
    const [first, n, data] = row;
    this.first = first;
    // Float64Array needs 8-byte alignment: a Buffer that does not start at one is copied.
    this.c = data.byteOffset % 8 === 0 ? columnsOf(data.buffer, data.byteOffset, n) : columnsOf(new Uint8Array(data).slice().buffer, 0, n);
    this.n = n;
    this.i = -1;
    return true;
  }

  private string(id: number): string | null {
    return id === NULL_ID ? null : this.strings[id] ?? null;
  }

  private int(column: IntColumn, nullFlag = 0): number | null {
    const c = this.c!;
    if (nullFlag !== 0 && (c.flags[this.i] & nullFlag) !== 0) return null;
    const value = c.ints[column][this.i];
    return nullFlag === 0 && value === NULL_ID ? null : value;
  }

  get eventId(): number { return this.first + this.c!.ints.id[this.i]; }
  get line(): number { return this.c!.ints.line[this.i]; }
  get ts(): number { return this.c!.ts[this.i]; }
  get cpu(): number | null { return this.int('cpu'); }
  get op(): string | null { return STREAM_OPS[this.c!.op[this.i]]; }
  get target(): number | null { return this.int('target'); }
  get csd(): string | null { return this.string(this.c!.ints.csd[this.i]); }
  get func(): string | null { return this.string(this.c!.ints.func[this.i]); }
  get callsite(): string | null { return this.string(this.c!.ints.callsite[this.i]); }
  get reason(): string | null { return this.string(this.c!.ints.reason[this.i]); }
  get kind(): string | null { return this.string(this.c!.ints.kind[this.i]); }
  get targets(): string | null { return this.string(this.c!.ints.targets[this.i]); }
  get hpState(): number | null { return this.int('hpState', FLAG_NO_STATE); }
  get hpStep(): number | null { return this.int('hpStep', FLAG_NO_STEP); }
  get hpRet(): number | null { return this.int('hpRet', FLAG_NO_RET); }
  get hashed(): boolean { return (this.c!.flags[this.i] & FLAG_HASHED) !== 0; }
}

/** A plain copy of an event (of a ChunkReader's current one, say). */
export function copyEvent(e: StreamEvent): StreamEvent {
  const copy: StreamEvent = {
    eventId: e.eventId, sourceId: e.sourceId, line: e.line, ts: e.ts, cpu: e.cpu, op: e.op, clock: e.clock, target: e.target,
    csd: e.csd, func: e.func, callsite: e.callsite, reason: e.reason, kind: e.kind, targets: e.targets,
    hpState: e.hpState, hpStep: e.hpStep, hpRet: e.hpRet, hashed: e.hashed,
  };
  if (e.kindName !== undefined) copy.kindName = e.kindName;
  if (e.args !== undefined) copy.args = e.args;
  return copy;
}
