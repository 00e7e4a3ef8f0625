// Storage of one source's rows: prepared statements made once per ingest, called inside the
// per-file transaction that ingest/ingest.ts opens. Records are checked against their zod schemas
// here, at the boundary between parsing and storage.
import {
  ConsoleRecord, CpuFactRecord, EventRecord, type Format, type ParseIssue,
} from '../schema/records.js';
import type { StatName } from '../schema/stats.js';
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

export class SqliteSink implements ReaderSink {
  readonly counts: SourceCounts = {
    events: new Map(), formats: new Map(), unparsed: [], unparsedTotal: 0, stats: new Map(),
  };
  private nextEventId: number;
  private readonly insertEvent;
  private readonly insertTarget;
  private readonly insertConsole;
  private readonly insertFact;
  private readonly insertUnparsed;

  constructor(private readonly db: Db, private readonly sourceId: number, private readonly validate: boolean) {
    this.nextEventId = ((db.prepare('SELECT max(event_id) AS m FROM events').get() as { m: number | null }).m ?? 0) + 1;
    this.insertEvent = db.prepare(`INSERT INTO events (event_id, source_id, line, format, clock, ts_ns, cpu,
      task, pid, flags, kind, op, target_cpu, csd, func, callsite, callback, reason, vector, hp_state, hp_step,
      hp_ret, text, host_tid, args) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
    this.insertTarget = db.prepare('INSERT INTO event_targets (event_id, cpu) VALUES (?, ?)');
    this.insertConsole = db.prepare(`INSERT INTO console_messages (source_id, line, ts_ns, kind, cpu, target_cpu,
      seq, wait_ns, func, info, cpus, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`);
    this.insertFact = db.prepare('INSERT INTO cpu_facts (source_id, line, fact, count, cpus, text) VALUES (?,?,?,?,?,?)');
    this.insertUnparsed = db.prepare('INSERT INTO unparsed (source_id, line, format, reason, sample) VALUES (?,?,?,?,?)');
  }

  event(ev: EventRecord, line: number): void {
    if (this.validate) EventRecord.parse(ev);
    const id = this.nextEventId++;
    this.insertEvent.run(id, this.sourceId, line, ev.format, ev.clock, ev.ts_ns, ev.cpu, ev.task, ev.pid, ev.flags,
      ev.kind, ev.op, ev.target_cpu, ev.csd, ev.func, ev.callsite, ev.callback, ev.reason, ev.vector, ev.hp_state,
      ev.hp_step, ev.hp_ret, ev.text, ev.host_tid, ev.args);
    for (const cpu of ev.targets) this.insertTarget.run(id, cpu);
    this.counts.events.set(ev.kind, (this.counts.events.get(ev.kind) ?? 0) + 1);
  }

  console(msg: ConsoleRecord, line: number): void {
    if (this.validate) ConsoleRecord.parse(msg);
    this.insertConsole.run(this.sourceId, line, msg.ts_ns, msg.kind, msg.cpu, msg.target_cpu, msg.seq, msg.wait_ns,
      msg.func, msg.info, msg.cpus, msg.text);
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

  /** Writes the counters kept in memory (stats table) once the file is read. */
  flushStats(): void {
    const insert = this.db.prepare('INSERT INTO stats (source_id, name, key, value) VALUES (?, ?, ?, ?)');
    for (const [id, value] of this.counts.stats) {
      const [name, key] = id.split('\u0000');
      insert.run(this.sourceId, name, key, value);
    }
  }
}
