// Storage of one source's rows: prepared statements made once per ingest, called inside the
// per-file transaction that ingest/ingest.ts opens. Records are checked against their zod schemas
// here, at the boundary between parsing and storage.
import {
  ConsoleRecord, CpuFactRecord, EventRecord, type Format, type ParseIssue,
} from '../schema/records.js';
import { LONG_UPTIME_FROM_NS, type StatName } from '../schema/stats.js';
import { BatchInsert, sqlLiteral } from '../store/batch-insert.js';
import { StreamWriter } from '../store/event-stream.js';
import { QemuBucketWriter } from '../store/qemu-log-buckets.js';
import { QemuWriteChunker } from '../store/qemu-writes.js';
import { SpikeFinder } from './timestamps.js';
import type { ReaderSink } from '../parsers/reader.js';
import type { Db } from '../store/db.js';

const SAMPLE_CHARS = 200;

/** Per-file counters the ingest summary reports. */
export interface SourceCounts {
  events: Map<string, number>;
  formats: Map<Format, number>;
  unparsed: { line: number; reason: string }[];
  unparsedTotal: number;
  stats: Map<string, number>;
}

/**
 * The event columns a record may leave NULL, in insert order. Each distinct combination of present
 * columns (per event kind, format, clock and op) gets its own statement that binds only those; the
 * rest are literals (source, format, clock, kind, op) or left to their NULL default. Binding is a
 * large part of the cost of an insert (every parameter crosses into C++, a string is converted and
 * copied twice), and an event binds 5 to 14 parameters this way instead of 25.
 */
const OPTIONAL_COLUMNS = [
  'ts_ns', 'cpu', 'task', 'pid', 'flags', 'target_cpu', 'csd', 'func', 'callsite', 'callback', 'reason', 'vector',
  'hp_state', 'hp_step', 'hp_ret', 'text', 'host_tid',
] as const;
/** Beyond this many statements (a trace with thousands of unknown event kinds), one generic statement. */
const MAX_SHAPES = 512;
/** event_targets rows per INSERT statement. */
const TARGET_ROWS = 64;

interface Shape {
  /** Runs the statement with this event's line, present optional columns and args; checks the id SQLite gave the row. */
  insert: ShapeInsert;
}

type ShapeInsert = (id: number, line: number, ev: EventRecord) => void;

/**
 * A function that calls `statement.run(line, ev.ts_ns, ..., ev.args)` with exactly the present
 * columns as separate arguments (event_id: see misnumbered). better-sqlite3 binds separate arguments about 20 % faster than
 * one array of them (ftrace-1M ingest ~9 % faster), and the column list differs per shape, so
 * the call is generated once per shape. The names come from OPTIONAL_COLUMNS, never from input.
 * One row per statement: buffering 32 rows per shape into one statement (as derived tables do,
 * store/batch-insert.ts) measured slower here (ftrace-1M 6.4 -> 6.7-7.5 s in the main thread), and
 * so did 64 rows of all 25 columns per statement, with or without the strings bound as buffers
 * (2026-12-07, 1 M rows: ~2.2 s of CPU each way, against 0.63 s for SQLite alone to insert them
 * from another table): the cost per bound value stays.
 */
function compileInsert(statement: Statement, present: readonly string[]): ShapeInsert {
  const args = ['line', ...present.map((column) => `ev.${column}`), 'ev.args'].join(', ');
  return new Function('statement', 'misnumbered', `return (id, line, ev) => {
    if (statement.run(${args}).lastInsertRowid !== id) misnumbered(id);
  };`)(statement, misnumbered) as ShapeInsert;
}

/**
 * The shape statements leave event_id to SQLite, which gives a row the largest id plus one: the id
 * this writer counts too (from max(event_id) + 1, one per event). Not binding it spares a value per
 * row, and SQLite appends the row without first looking the id up. Each row's id is checked.
 */
function misnumbered(id: number): never {
  throw new Error(`event ${id} was stored under another event_id`);
}

/** The statements of one (kind, format, clock, op), by mask of present optional columns. */
interface Variant {
  format: string;
  clock: string;
  op: string | null;
  shapes: Map<number, Shape>;
}

interface KindEntry {
  count: number;
  variants: Variant[];
}

type Statement = ReturnType<Db['prepare']>;

function presentMask(ev: EventRecord): number {
  let mask = 0;
  if (ev.ts_ns !== null) mask |= 1;
  if (ev.cpu !== null) mask |= 1 << 1;
  if (ev.task !== null) mask |= 1 << 2;
  if (ev.pid !== null) mask |= 1 << 3;
  if (ev.flags !== null) mask |= 1 << 4;
  if (ev.target_cpu !== null) mask |= 1 << 5;
  if (ev.csd !== null) mask |= 1 << 6;
  if (ev.func !== null) mask |= 1 << 7;
  if (ev.callsite !== null) mask |= 1 << 8;
  if (ev.callback !== null) mask |= 1 << 9;
  if (ev.reason !== null) mask |= 1 << 10;
  if (ev.vector !== null) mask |= 1 << 11;
  if (ev.hp_state !== null) mask |= 1 << 12;
  if (ev.hp_step !== null) mask |= 1 << 13;
  if (ev.hp_ret !== null) mask |= 1 << 14;
  if (ev.text !== null) mask |= 1 << 15;
  if (ev.host_tid !== null) mask |= 1 << 16;
  return mask;
}

export class SqliteSink implements ReaderSink {
  /** event() copies what it stores (rows, the replay stream, QEMU's writes, spike candidates). */
  readonly borrowsRecords = true;
  readonly counts: SourceCounts = {
    events: new Map(), formats: new Map(), unparsed: [], unparsedTotal: 0, stats: new Map(),
  };
  private nextEventId: number;
  private readonly kinds = new Map<string, KindEntry>();
  private readonly eventSpikes = new Map<string, SpikeFinder>();
  private readonly consoleSpikes = new SpikeFinder();
  /** Guest times of LONG_UPTIME_FROM_NS or more (stat long_uptime_times: detect/epoch.ts reads it instead of scanning every time). */
  private longUptimeTimes = 0;
  private shapeCount = 0;
  private readonly insertEvent;
  private readonly targets: BatchInsert;
  private readonly insertConsole;
  private readonly insertFact;
  private readonly insertUnparsed;
  private readonly stream: StreamWriter;
  private readonly qemuBuckets: QemuBucketWriter;
  private readonly qemuWrites: QemuWriteChunker;

  constructor(private readonly db: Db, private readonly sourceId: number, private readonly validate: boolean) {
    this.nextEventId = ((db.prepare('SELECT max(event_id) AS m FROM events').get() as { m: number | null }).m ?? 0) + 1;
    this.insertEvent = db.prepare(`INSERT INTO events (event_id, source_id, line, format, clock, ts_ns, cpu,
      task, pid, flags, kind, op, target_cpu, csd, func, callsite, callback, reason, vector, hp_state, hp_step,
      hp_ret, text, host_tid, args) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
    this.targets = new BatchInsert(db, 'event_targets', ['event_id', 'cpu'], TARGET_ROWS);
    this.insertConsole = db.prepare(`INSERT INTO console_messages (source_id, line, ts_ns, kind, cpu, target_cpu,
      seq, wait_ns, func, info, cpus, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`);
    this.insertFact = db.prepare('INSERT INTO cpu_facts (source_id, line, fact, count, cpus, text) VALUES (?,?,?,?,?,?)');
    this.insertUnparsed = db.prepare('INSERT INTO unparsed (source_id, line, format, reason, sample) VALUES (?,?,?,?,?)');
    this.stream = new StreamWriter(db, sourceId);
    this.qemuBuckets = new QemuBucketWriter(db, sourceId);
    this.qemuWrites = new QemuWriteChunker(db, sourceId);
  }

  event(ev: EventRecord, line: number): void {
    if (this.validate) EventRecord.parse(ev);
    const id = this.nextEventId++;
    if (ev.format === 'qemu') {
      if (ev.ts_ns !== null) this.qemuBuckets.push(BigInt(ev.ts_ns));
      this.qemuWrites.push(id, line, ev);
    } else if (ev.ts_ns !== null && (ev.clock === 'printk' || ev.clock === 'ftrace')) {
      if (typeof ev.ts_ns === 'number') {
        this.spikeFinder(ev.format).push(id, line, ev.ts_ns);
        if (ev.ts_ns >= LONG_UPTIME_FROM_NS) this.longUptimeTimes++;
      } else this.longUptimeTimes++;
    }
    let entry = this.kinds.get(ev.kind);
    if (entry === undefined) {
      entry = { count: 0, variants: [] };
      this.kinds.set(ev.kind, entry);
    }
    entry.count++;
    this.stream.push(id, line, ev);
    const shape = this.shapeFor(entry, ev);
    if (shape === null) {
      this.insertEvent.run(id, this.sourceId, line, ev.format, ev.clock, ev.ts_ns, ev.cpu, ev.task, ev.pid, ev.flags,
        ev.kind, ev.op, ev.target_cpu, ev.csd, ev.func, ev.callsite, ev.callback, ev.reason, ev.vector, ev.hp_state,
        ev.hp_step, ev.hp_ret, ev.text, ev.host_tid, ev.args);
    } else {
      shape.insert(id, line, ev);
    }
    const targets = ev.targets;
    for (let t = 0; t < targets.length; t++) this.targets.add(id, targets[t]);
  }

  /** The statement for this event's kind, format, clock, op and present columns; null: the generic one. */
  private shapeFor(entry: KindEntry, ev: EventRecord): Shape | null {
    let variant: Variant | undefined;
    for (const v of entry.variants) {
      if (v.format === ev.format && v.clock === ev.clock && v.op === ev.op) {
        variant = v;
        break;
      }
    }
    if (variant === undefined) {
      variant = { format: ev.format, clock: ev.clock, op: ev.op, shapes: new Map() };
      entry.variants.push(variant);
    }
    const mask = presentMask(ev);
    let shape = variant.shapes.get(mask);
    if (shape === undefined) {
      if (this.shapeCount >= MAX_SHAPES) return null;
      const present = OPTIONAL_COLUMNS.filter((_, bit) => (mask & (1 << bit)) !== 0);
      const columns = ['line', ...present, 'args', 'source_id', 'format', 'clock', 'kind', 'op'];
      const values = ['?', ...present.map(() => '?'), '?',
        ...[this.sourceId, ev.format, ev.clock, ev.kind, ev.op].map(sqlLiteral)];
      const statement = this.db.prepare(`INSERT INTO events (${columns.join(', ')}) VALUES (${values.join(', ')})`);
      shape = { insert: compileInsert(statement, present) };
      variant.shapes.set(mask, shape);
      this.shapeCount++;
    }
    return shape;
  }

  console(msg: ConsoleRecord, line: number): void {
    if (this.validate) ConsoleRecord.parse(msg);
    const result = this.insertConsole.run(this.sourceId, line, msg.ts_ns, msg.kind, msg.cpu, msg.target_cpu, msg.seq, msg.wait_ns,
      msg.func, msg.info, msg.cpus, msg.text);
    if (typeof msg.ts_ns === 'number') {
      this.consoleSpikes.push(Number(result.lastInsertRowid), line, msg.ts_ns);
      if (msg.ts_ns >= LONG_UPTIME_FROM_NS) this.longUptimeTimes++;
    } else if (msg.ts_ns !== null) this.longUptimeTimes++;
  }

  /** The spike finder of one event format: each format (trace file, dump, tp_printk) is its own time order. */
  private spikeFinder(format: string): SpikeFinder {
    let finder = this.eventSpikes.get(format);
    if (finder === undefined) this.eventSpikes.set(format, (finder = new SpikeFinder()));
    return finder;
  }

  /** Gives corrupt times their predecessor's (ingest/timestamps.ts) and counts them by line. */
  private repairSpikes(): void {
    const fixEvent = this.db.prepare('UPDATE events SET ts_ns = ? WHERE event_id = ?');
    const fixConsole = this.db.prepare('UPDATE console_messages SET ts_ns = ? WHERE msg_id = ?');
    const lines = new Set<number>();
    for (const finder of this.eventSpikes.values()) {
      for (const spike of finder.spikes) {
        fixEvent.run(spike.replacement, spike.id);
        this.stream.setTime(spike.id, spike.replacement);
        lines.add(spike.line);
      }
    }
    for (const spike of this.consoleSpikes.spikes) {
      fixConsole.run(spike.replacement, spike.id);
      lines.add(spike.line);
    }
    for (const line of lines) this.stat('timestamp_spikes', String(line), 1);
  }

  cpuFact(fact: CpuFactRecord, line: number): void {
    if (this.validate) CpuFactRecord.parse(fact);
    this.insertFact.run(this.sourceId, line, fact.fact, fact.count, fact.cpus, fact.text);
  }

  issue(issue: ParseIssue, line: number, sample: string): void {
    this.insertUnparsed.run(this.sourceId, line, issue.format, issue.reason, sample.slice(0, SAMPLE_CHARS));
    this.counts.unparsedTotal++;
    if (this.counts.unparsed.length < 20) this.counts.unparsed.push({ line, reason: issue.reason });
  }

  stat(name: StatName, key: string, add: number): void {
    const id = `${name}\u0000${key}`;
    this.counts.stats.set(id, (this.counts.stats.get(id) ?? 0) + add);
  }

  format(format: Format): void {
    this.counts.formats.set(format, (this.counts.formats.get(format) ?? 0) + 1);
  }

  /** Writes what is still buffered (event targets, repaired times, the replay stream, QEMU's writes) and fills counts.events, once the file is read. */
  finish(): void {
    if (this.longUptimeTimes > 0) this.stat('long_uptime_times', '', this.longUptimeTimes);
    this.repairSpikes();
    this.stream.finish();
    this.qemuBuckets.flush();
    this.qemuWrites.flush();
    this.targets.flush();
    // In order of first appearance, as the summary's tie order depends on it.
    for (const [kind, entry] of this.kinds) this.counts.events.set(kind, entry.count);
  }

  /** Writes the counters kept in memory (stats table) once the file is read. */
  flushStats(): void {
    const insert = this.db.prepare('INSERT INTO stats (source_id, name, key, value) VALUES (?, ?, ?, ?)');
    for (const [id, value] of this.counts.stats) {
      const [name, key] = id.split('\u0000');
      insert.run(this.sourceId, name, key, value);
    }
  }
}
