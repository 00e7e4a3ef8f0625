// The QEMU IPI writes of a file (events with format 'qemu' and op 'ipi_send' that carry an IPI),
// packed at ingest into chunks of columns (table qemu_write_chunks), in the form replay's QEMU
// correlation reads them. Found among all ipi_send events through events_op and read row by row,
// they took 0.7-1 s at mixed-5M (257 k writes), a tenth of detect; the chunks are read in one go.
import type { EventRecord } from '../schema/records.js';
import type { Db } from './db.js';

/** Writes per chunk. */
export const WRITES_PER_CHUNK = 4096;

/** A boot's QEMU IPI writes in event_id order, as columns indexed by write (-1 or NaN: NULL). */
export interface QemuWrites {
  count: number;
  eventId: Float64Array;
  sourceId: Int32Array;
  line: Int32Array;
  tid: Int32Array;
  cpu: Int32Array;
  vector: Int32Array;
  /** ns since the `base` given to readQemuWrites; NaN: the line had no time. */
  t: Float64Array;
  /** The destination shorthand of the write (events.text), null: an explicit target list. */
  shorthand: (string | null)[];
  /** Write i's targets are targets[firstTarget[i]] .. targets[firstTarget[i + 1] - 1]. */
  firstTarget: Int32Array;
  targets: Int32Array;
  /** Some write is an x86 ICR write (fixed or lowest-priority delivery). */
  x86: boolean;
}

const NONE = -1;
/** Destination shorthands in events.text (parsers/qemu-trace.ts, qemu-apic.ts): x86 ICR, GICv3 IRM=1,
 *  GICD_SGIR filter, and an x86 destination the log cannot decode ('undecoded': taken as any vCPU). */
const SHORTHANDS = [null, 'all-but-self', 'all', 'self', 'broadcast', 'irm=1', 'filter=3', 'undecoded'] as const;
/** The shorthand a write's text ends with (the names hold no regex metacharacters). */
const SHORTHAND = new RegExp(`(${SHORTHANDS.slice(1).join('|')})$`);
const FLAG_X86 = 1;

/**
 * Whether an ipi_send event of QEMU's is an IPI the correlation links: on x86 fixed-mode ICR writes
 * only (INIT, SIPI and NMI carry no IPI vector). Case-insensitive, as the SQL it replaced (text LIKE
 * 'fixed%', kept in test/qemu-writes.test.ts as the definition).
 */
function carriesIpi(ev: EventRecord): boolean {
  return !ev.kind.startsWith('apic_') || /^fixed/i.test(ev.text ?? '');
}

// Chunk layout for n writes with m targets, Float64 (every value an integer or NaN, so no value
// can overflow a column): ts - base_ns, event_id - first_event_id, line, host_tid, cpu, vector
// (n each), firstTarget (n + 1), targets (m); then Uint8 flags (n): FLAG_X86 | shorthand index << 1.
const NUMBER_COLUMNS = 6;

const numberCount = (n: number, m: number) => NUMBER_COLUMNS * n + n + 1 + m;
const chunkBytes = (n: number, m: number) => 8 * numberCount(n, m) + n;

/** Packs one source's QEMU IPI writes as they are stored (SqliteSink). */
export class QemuWriteChunker {
  private readonly columns = {
    id: new Float64Array(WRITES_PER_CHUNK), line: new Float64Array(WRITES_PER_CHUNK), tid: new Float64Array(WRITES_PER_CHUNK),
    cpu: new Float64Array(WRITES_PER_CHUNK), vector: new Float64Array(WRITES_PER_CHUNK), flags: new Uint8Array(WRITES_PER_CHUNK),
  };
  private times: (bigint | null)[] = [];
  private firstTarget = [0];
  private targets: number[] = [];
  private n = 0;
  private firstId = 0;
  private readonly insert;

  constructor(db: Db, private readonly sourceId: number) {
    this.insert = db.prepare(`INSERT INTO qemu_write_chunks (source_id, first_event_id, writes, targets, base_ns, data)
      VALUES (?, ?, ?, ?, ?, ?)`);
  }

  /** An event of the source: kept when it is a QEMU IPI write. */
  push(eventId: number, line: number, ev: EventRecord): void {
    if (ev.format !== 'qemu' || ev.op !== 'ipi_send' || !carriesIpi(ev)) return;
    if (this.n === 0) this.firstId = eventId;
    const i = this.n;
    const c = this.columns;
    c.id[i] = eventId - this.firstId;
    c.line[i] = line;
    c.tid[i] = ev.host_tid ?? Number.NaN;
    c.cpu[i] = ev.cpu ?? Number.NaN;
    c.vector[i] = ev.vector ?? Number.NaN;
    const shorthand = SHORTHANDS.indexOf((SHORTHAND.exec(ev.text ?? '')?.[1] ?? null) as (typeof SHORTHANDS)[number]);
    c.flags[i] = (ev.text !== null && /^(fixed|lowest)/.test(ev.text) ? FLAG_X86 : 0) | (shorthand << 1);
    this.times.push(ev.ts_ns === null ? null : BigInt(ev.ts_ns));
    if (ev.target_cpu !== null) this.targets.push(ev.target_cpu);
    else for (const target of ev.targets) this.targets.push(target);
    this.firstTarget.push(this.targets.length);
    if (++this.n === WRITES_PER_CHUNK) this.flush();
  }

  /** Writes the last chunk (once the file is read). */
  flush(): void {
    const n = this.n;
    if (n === 0) return;
    const m = this.targets.length;
    const data = new Uint8Array(chunkBytes(n, m));
    const out = new Float64Array(data.buffer, 0, numberCount(n, m));
    const base = this.times.find((t) => t !== null) ?? null;
    // Offsets from the chunk's first time are exact doubles (below 2^53 ns, 104 days).
    this.times.forEach((t, i) => { out[i] = t === null || base === null ? Number.NaN : Number(t - base); });
    const c = this.columns;
    [c.id, c.line, c.tid, c.cpu, c.vector].forEach((column, k) => out.set(column.subarray(0, n), (k + 1) * n));
    out.set(this.firstTarget, NUMBER_COLUMNS * n);
    out.set(this.targets, NUMBER_COLUMNS * n + n + 1);
    data.set(c.flags.subarray(0, n), 8 * out.length);
    this.insert.run(this.sourceId, this.firstId, n, m, base, data);
    this.n = 0;
    this.times = [];
    this.firstTarget = [0];
    this.targets = [];
  }
}

/** The QEMU IPI writes of a boot's files, with times as ns since `base` (epoch ns). */
export function readQemuWrites(db: Db, boot: string, base: bigint): QemuWrites {
  const from = 'FROM qemu_write_chunks c JOIN sources s USING (source_id) WHERE s.boot = ?';
  const sizes = db.prepare(`SELECT coalesce(sum(c.writes), 0) AS writes, coalesce(sum(c.targets), 0) AS targets ${from}`)
    .get(boot) as { writes: number; targets: number };
  const count = sizes.writes;
  const writes: QemuWrites = {
    count, eventId: new Float64Array(count), sourceId: new Int32Array(count), line: new Int32Array(count),
    tid: new Int32Array(count), cpu: new Int32Array(count), vector: new Int32Array(count), t: new Float64Array(count),
    shorthand: new Array<string | null>(count), firstTarget: new Int32Array(count + 1), targets: new Int32Array(sizes.targets),
    x86: false,
  };
  // The chunks' keys in order first, then each chunk's blob by its key: ordered with their blobs, the
  // rows went through a temporary b-tree, a copy of every blob (16 MB at mixed-5M) besides the ones
  // handed out, at the correlation's start.
  const keys = db.prepare(`SELECT c.source_id, c.first_event_id, c.writes, c.targets, c.base_ns - ? ${from}
    ORDER BY c.first_event_id`).raw().all(base, boot) as [number, number, number, number, number | null][];
  const blob = db.prepare('SELECT data FROM qemu_write_chunks WHERE source_id = ? AND first_event_id = ?').pluck();
  let w = 0;
  let k = 0;
  for (const [sourceId, firstId, n, m, offset] of keys) {
    const data = blob.get(sourceId, firstId) as Buffer;
    const numbers = float64View(data, numberCount(n, m));
    const flags = data.subarray(8 * numbers.length);
    for (let i = 0; i < n; i++, w++) {
      writes.t[w] = offset === null ? Number.NaN : offset + numbers[i];
      writes.eventId[w] = firstId + numbers[n + i];
      writes.sourceId[w] = sourceId;
      writes.line[w] = numbers[2 * n + i];
      writes.tid[w] = orNone(numbers[3 * n + i]);
      writes.cpu[w] = orNone(numbers[4 * n + i]);
      writes.vector[w] = orNone(numbers[5 * n + i]);
      writes.shorthand[w] = SHORTHANDS[flags[i] >> 1];
      if (flags[i] & FLAG_X86) writes.x86 = true;
      writes.firstTarget[w] = k + numbers[NUMBER_COLUMNS * n + i];
    }
    for (let j = 0; j < m; j++) writes.targets[k + j] = numbers[NUMBER_COLUMNS * n + n + 1 + j];
    k += m;
  }
  writes.firstTarget[w] = k;
  return writes;
}

const orNone = (value: number) => (Number.isNaN(value) ? NONE : value);

/** The blob's numbers (a copy when SQLite's buffer is not 8-byte aligned). */
function float64View(data: Buffer, length: number): Float64Array {
  if (data.byteOffset % 8 === 0) return new Float64Array(data.buffer, data.byteOffset, length);
  return new Float64Array(new Uint8Array(data).buffer, 0, length);
}
