// What the reader sends to its sink, packed into typed arrays so that a worker thread can parse a
// file while the main thread stores the rows (ingest/parse-worker.ts). Structured cloning the
// parsed values (measured as flat arrays, v8.serialize) cost the main thread more than parsing
// them: ~3 s to deserialize 1 M events that took 2.7 s to parse. Typed arrays are transferred, not
// copied, and each batch carries its strings once. A batch replayed into a sink makes exactly the
// calls the reader made.
import type { ReaderSink } from '../parsers/reader.js';
import type { ConsoleRecord, CpuFactRecord, EventRecord, Format, ParseIssue } from '../schema/records.js';
import type { StatName } from '../schema/stats.js';
import { grown } from '../store/typed-arrays.js';

/** Numeric event fields, one float64 slot each (NaN: null), after the line number; event() and replayEvent() use them by position. */
const NUMBER_FIELDS = ['cpu', 'pid', 'target_cpu', 'vector', 'hp_state', 'hp_step', 'hp_ret', 'host_tid'] as const;
/** String event fields, one index into the batch's strings each (-1: null), by position likewise. */
const STRING_FIELDS = [
  'format', 'clock', 'kind', 'op', 'task', 'flags', 'csd', 'func', 'callsite', 'callback', 'reason', 'text', 'args',
] as const;
const NUMBER_SLOTS = 1 + NUMBER_FIELDS.length;
const STRING_SLOTS = STRING_FIELDS.length;
/** ts_ns kinds: QEMU host times in ns are beyond a float64's exact integers and come as bigint. */
const TS_NULL = 0, TS_NUMBER = 1, TS_BIGINT = 2;

/**
 * Packs a time (events' and console messages' alike): its kind into kinds[i], a bigint into
 * bigints[i]; returns the number to store in the number column (NaN when the time is not one).
 */
function packTime(ts: number | bigint | null, kinds: Uint8Array, bigints: BigInt64Array, i: number): number {
  if (ts === null) {
    kinds[i] = TS_NULL;
    return NaN;
  }
  if (typeof ts === 'bigint') {
    kinds[i] = TS_BIGINT;
    bigints[i] = ts;
    return NaN;
  }
  kinds[i] = TS_NUMBER;
  return ts;
}

/** The time packTime packed, from its kind and both columns. */
function unpackTime(kind: number, number: number, bigint: bigint): number | bigint | null {
  return kind === TS_NULL ? null : kind === TS_NUMBER ? number : bigint;
}

/** Entries of the packer's string cache (a power of two). */
const CACHE_SIZE = 4096;
const CACHE_MASK = CACHE_SIZE - 1;

/**
 * Console message columns, Float64 slots per message (NaN: null) by position: the number of packed
 * events before it, its index among the batch's other calls (packed messages and OtherCalls), line,
 * cpu, target_cpu, seq, wait_ns, and ts_ns when a number (consoleTsKind says which).
 */
const CONSOLE_NUMBER_SLOTS = 8;
/** Console message strings (-1: null): kind, func, info, cpus (interned after the event slots), text. */
const CONSOLE_STRING_SLOTS = 5;
const ALL_STRING_SLOTS = STRING_SLOTS + CONSOLE_STRING_SLOTS - 1;

/**
 * A CPU fact, parse issue, or a console message or event the typed columns cannot hold, with the
 * number of packed events before it and its index among the batch's other calls.
 */
type OtherCall =
  | { at: number; order: number; call: 'event'; record: EventRecord; line: number }
  | { at: number; order: number; call: 'console'; record: ConsoleRecord; line: number }
  | { at: number; order: number; call: 'cpuFact'; record: CpuFactRecord; line: number }
  | { at: number; order: number; call: 'issue'; record: ParseIssue; line: number; sample: string };

export interface PackedBatch {
  events: number;
  numbers: Float64Array;
  strings: Int32Array;
  tsKind: Uint8Array;
  tsNumber: Float64Array;
  tsBigint: BigInt64Array;
  /** Per event, its number of targets; their values in order in targetValues. */
  targetCounts: Int32Array;
  targetValues: Int32Array;
  /**
   * Console messages, packed like the events (cloning them as objects cost both threads: 0.1 s per
   * 125 k messages of the console bench input).
   */
  consoles: number;
  consoleNumbers: Float64Array;
  consoleStrings: Int32Array;
  consoleTsKind: Uint8Array;
  consoleTsBigint: BigInt64Array;
  text: string[];
  others: OtherCall[];
  /** stat() calls summed per name and key, in order of first call. */
  stats: [StatName, string, number][];
  /** format() calls counted per format, in order of first call. */
  formats: [Format, number][];
}

/** The buffers a batch transfers to the receiving thread. */
export function transferList(batch: PackedBatch): ArrayBuffer[] {
  return [batch.numbers, batch.strings, batch.tsKind, batch.tsNumber, batch.tsBigint, batch.targetCounts, batch.targetValues,
    batch.consoleNumbers, batch.consoleStrings, batch.consoleTsKind, batch.consoleTsBigint]
    .map((array) => array.buffer as ArrayBuffer);
}

/** A ReaderSink that packs the calls; take() hands over what was packed since the last take(). */
export class BatchPacker implements ReaderSink {
  private batch!: PackedBatch;
  private capacity = 0;
  private consoleCapacity = 0;
  private targetCount = 0;
  /** Other calls than events made in this batch (packed console messages and OtherCalls). */
  private calls = 0;
  private textIndex = new Map<string, number>();
  private cacheText: (string | null)[] = [];
  private readonly cacheIndex = new Int32Array(CACHE_SIZE);
  private lastText: (string | null)[] = [];
  private lastIndex = new Int32Array(ALL_STRING_SLOTS);
  private statSums = new Map<string, [StatName, string, number]>();
  private formatCounts = new Map<Format, number>();

  constructor(private readonly initialCapacity = 4096) {
    this.reset();
  }

  event(ev: EventRecord, line: number): void {
    if (!packable(ev)) {
      // Cloned as it is, in order: the typed columns would wrap it (a corrupt target or host time).
      this.batch.others.push({ at: this.batch.events, order: this.calls++, call: 'event', record: ev, line });
      return;
    }
    if (this.batch.events === this.capacity) this.grow();
    const b = this.batch;
    const i = b.events++;
    const n = i * NUMBER_SLOTS;
    const nums = b.numbers;
    nums[n] = line;
    nums[n + 1] = ev.cpu ?? NaN;
    nums[n + 2] = ev.pid ?? NaN;
    nums[n + 3] = ev.target_cpu ?? NaN;
    nums[n + 4] = ev.vector ?? NaN;
    nums[n + 5] = ev.hp_state ?? NaN;
    nums[n + 6] = ev.hp_step ?? NaN;
    nums[n + 7] = ev.hp_ret ?? NaN;
    nums[n + 8] = ev.host_tid ?? NaN;
    const s = i * STRING_SLOTS;
    const strs = b.strings;
    strs[s] = this.intern(0, ev.format);
    strs[s + 1] = this.intern(1, ev.clock);
    strs[s + 2] = this.intern(2, ev.kind);
    strs[s + 3] = this.intern(3, ev.op);
    strs[s + 4] = this.intern(4, ev.task);
    strs[s + 5] = this.intern(5, ev.flags);
    strs[s + 6] = this.intern(6, ev.csd);
    strs[s + 7] = this.intern(7, ev.func);
    strs[s + 8] = this.intern(8, ev.callsite);
    strs[s + 9] = this.intern(9, ev.callback);
    strs[s + 10] = this.intern(10, ev.reason);
    strs[s + 11] = this.intern(11, ev.text);
    strs[s + 12] = this.intern(12, ev.args);
    b.tsNumber[i] = packTime(ev.ts_ns, b.tsKind, b.tsBigint, i);
    const targets = ev.targets;
    b.targetCounts[i] = targets.length;
    if (this.targetCount + targets.length > b.targetValues.length) {
      b.targetValues = grown(b.targetValues, this.targetCount + targets.length);
    }
    for (let t = 0; t < targets.length; t++) b.targetValues[this.targetCount++] = targets[t];
  }

  console(record: ConsoleRecord, line: number): void {
    if (!packableConsole(record)) {
      this.batch.others.push({ at: this.batch.events, order: this.calls++, call: 'console', record, line });
      return;
    }
    if (this.batch.consoles === this.consoleCapacity) this.growConsoles();
    const b = this.batch;
    const i = b.consoles++;
    const n = i * CONSOLE_NUMBER_SLOTS;
    const nums = b.consoleNumbers;
    nums[n] = b.events;
    nums[n + 1] = this.calls++;
    nums[n + 2] = line;
    nums[n + 3] = record.cpu ?? NaN;
    nums[n + 4] = record.target_cpu ?? NaN;
    nums[n + 5] = record.seq ?? NaN;
    nums[n + 6] = record.wait_ns ?? NaN;
    nums[n + 7] = packTime(record.ts_ns, b.consoleTsKind, b.consoleTsBigint, i);
    const s = i * CONSOLE_STRING_SLOTS;
    const strs = b.consoleStrings;
    strs[s] = this.intern(STRING_SLOTS, record.kind);
    strs[s + 1] = this.intern(STRING_SLOTS + 1, record.func);
    strs[s + 2] = this.intern(STRING_SLOTS + 2, record.info);
    strs[s + 3] = this.intern(STRING_SLOTS + 3, record.cpus);
    // The whole message: hardly ever twice in a batch, so not looked up (hashing it cost more than cloning it twice).
    strs[s + 4] = b.text.push(record.text) - 1;
  }

  cpuFact(record: CpuFactRecord, line: number): void {
    this.batch.others.push({ at: this.batch.events, order: this.calls++, call: 'cpuFact', record, line });
  }

  issue(record: ParseIssue, line: number, sample: string): void {
    this.batch.others.push({ at: this.batch.events, order: this.calls++, call: 'issue', record, line, sample });
  }

  stat(name: StatName, key: string, add: number): void {
    const id = `${name}\u0000${key}`;
    const sum = this.statSums.get(id);
    if (sum) sum[2] += add;
    else this.statSums.set(id, [name, key, add]);
  }

  format(format: Format): void {
    this.formatCounts.set(format, (this.formatCounts.get(format) ?? 0) + 1);
  }

  /** The calls packed since the last take(); the packer starts a new batch. */
  take(): PackedBatch {
    const batch = this.batch;
    batch.stats = [...this.statSums.values()];
    batch.formats = [...this.formatCounts];
    this.reset();
    return batch;
  }

  /**
   * The index of `text` in the batch's strings, each string stored once per batch (cloning them
   * costs the main thread). A field often repeats its previous value (format, clock, kind, task):
   * checking that first spares most lookups. Then a direct-mapped cache keyed by a few of the
   * string's characters: the parser's strings are fresh slices of the line, and a Map lookup must
   * hash every one of them whole (a quarter of this thread's time, measured on ftrace-1M); an equal
   * string found in the cache is compared, never hashed. The Map holds what the cache misses.
   */
  private intern(slot: number, text: string | null): number {
    if (text === null) return -1;
    if (this.lastText[slot] === text) return this.lastIndex[slot];
    const length = text.length;
    const key = length === 0 ? 0
      : (length * 31 + text.charCodeAt(length - 1) * 7 + text.charCodeAt(length >> 1) * 131 + text.charCodeAt(length >> 2) * 17
        + slot * 977) & CACHE_MASK;
    let index: number;
    if (this.cacheText[key] === text) index = this.cacheIndex[key];
    else {
      let known = this.textIndex.get(text);
      if (known === undefined) {
        known = this.batch.text.length;
        this.batch.text.push(text);
        this.textIndex.set(text, known);
      }
      index = known;
      this.cacheText[key] = text;
      this.cacheIndex[key] = index;
    }
    this.lastText[slot] = text;
    this.lastIndex[slot] = index;
    return index;
  }

  private reset(): void {
    this.capacity = this.initialCapacity;
    this.consoleCapacity = CONSOLE_CAPACITY;
    this.targetCount = 0;
    this.calls = 0;
    this.textIndex = new Map();
    this.cacheText = new Array<string | null>(CACHE_SIZE).fill(null);
    this.lastText = new Array<string | null>(ALL_STRING_SLOTS).fill(null);
    this.statSums = new Map();
    this.formatCounts = new Map();
    this.batch = {
      events: 0,
      numbers: new Float64Array(this.capacity * NUMBER_SLOTS),
      strings: new Int32Array(this.capacity * STRING_SLOTS),
      tsKind: new Uint8Array(this.capacity),
      tsNumber: new Float64Array(this.capacity),
      tsBigint: new BigInt64Array(this.capacity),
      targetCounts: new Int32Array(this.capacity),
      targetValues: new Int32Array(this.capacity),
      consoles: 0,
      consoleNumbers: new Float64Array(this.consoleCapacity * CONSOLE_NUMBER_SLOTS),
      consoleStrings: new Int32Array(this.consoleCapacity * CONSOLE_STRING_SLOTS),
      consoleTsKind: new Uint8Array(this.consoleCapacity),
      consoleTsBigint: new BigInt64Array(this.consoleCapacity),
      text: [], others: [], stats: [], formats: [],
    };
  }

  private grow(): void {
    const b = this.batch;
    this.capacity *= 2;
    b.numbers = grown(b.numbers, this.capacity * NUMBER_SLOTS);
    b.strings = grown(b.strings, this.capacity * STRING_SLOTS);
    b.tsKind = grown(b.tsKind, this.capacity);
    b.tsNumber = grown(b.tsNumber, this.capacity);
    b.tsBigint = grown(b.tsBigint, this.capacity);
    b.targetCounts = grown(b.targetCounts, this.capacity);
  }

  private growConsoles(): void {
    const b = this.batch;
    this.consoleCapacity *= 2;
    b.consoleNumbers = grown(b.consoleNumbers, this.consoleCapacity * CONSOLE_NUMBER_SLOTS);
    b.consoleStrings = grown(b.consoleStrings, this.consoleCapacity * CONSOLE_STRING_SLOTS);
    b.consoleTsKind = grown(b.consoleTsKind, this.consoleCapacity);
    b.consoleTsBigint = grown(b.consoleTsBigint, this.consoleCapacity);
  }
}

/** Console messages a batch holds room for at first (it doubles as needed). */
const CONSOLE_CAPACITY = 256;

/** True when the message's numbers fit the typed columns: numbers (NaN is their null), a time within int64. */
function packableConsole(msg: ConsoleRecord): boolean {
  const ts = msg.ts_ns;
  if (typeof ts === 'bigint') {
    if (BigInt.asIntN(64, ts) !== ts) return false;
  } else if (!numberOrNull(ts)) return false;
  return numberOrNull(msg.cpu) && numberOrNull(msg.target_cpu) && numberOrNull(msg.seq) && numberOrNull(msg.wait_ns);
}

function numberOrNull(value: unknown): boolean {
  return value === null || (typeof value === 'number' && value === value);
}

/** True when the event's times and targets fit the typed columns (int64 and int32). */
function packable(ev: EventRecord): boolean {
  if (typeof ev.ts_ns === 'bigint' && BigInt.asIntN(64, ev.ts_ns) !== ev.ts_ns) return false;
  for (const target of ev.targets) if ((target | 0) !== target) return false;
  return true;
}

/** Makes on `sink` the calls that were packed into `batch`, in the order the reader made them. */
export function replayBatch(batch: PackedBatch, sink: ReaderSink): void {
  // A sink that only reads a record during its call gets one record object, refilled per event:
  // a fresh object per event cost this thread its allocation and, as its fields came in changing
  // order, megamorphic property loads in the writer.
  const reused = sink.borrowsRecords === true ? blankRecord() : null;
  let next = 0;
  let target = 0;
  let message = 0;
  let o = 0;
  const others = batch.others;
  const calls = others.length + batch.consoles;
  for (let k = 0; k < calls; k++) {
    if (message < batch.consoles && batch.consoleNumbers[message * CONSOLE_NUMBER_SLOTS + 1] === k) {
      const at = batch.consoleNumbers[message * CONSOLE_NUMBER_SLOTS];
      for (; next < at; next++) target = replayEvent(batch, next, target, sink, reused);
      replayConsole(batch, message++, sink);
      continue;
    }
    const other = others[o++];
    for (; next < other.at; next++) target = replayEvent(batch, next, target, sink, reused);
    if (other.call === 'event') sink.event(other.record, other.line);
    else if (other.call === 'console') sink.console(other.record, other.line);
    else if (other.call === 'cpuFact') sink.cpuFact(other.record, other.line);
    else sink.issue(other.record, other.line, other.sample);
  }
  for (; next < batch.events; next++) target = replayEvent(batch, next, target, sink, reused);
  for (const [name, key, add] of batch.stats) sink.stat(name, key, add);
  for (const [format, count] of batch.formats) {
    for (let k = 0; k < count; k++) sink.format(format);
  }
}

/** Sends packed console message i to the sink (a new record: the writer does not keep it, other sinks may). */
function replayConsole(b: PackedBatch, i: number, sink: ReaderSink): void {
  const n = i * CONSOLE_NUMBER_SLOTS;
  const s = i * CONSOLE_STRING_SLOTS;
  const nums = b.consoleNumbers, strs = b.consoleStrings, text = b.text;
  const kind = b.consoleTsKind[i];
  const record: ConsoleRecord = {
    ts_ns: unpackTime(kind, nums[n + 7], b.consoleTsBigint[i]),
    kind: text[strs[s]] as ConsoleRecord['kind'],
    cpu: orNull(nums[n + 3]),
    target_cpu: orNull(nums[n + 4]),
    seq: orNull(nums[n + 5]),
    wait_ns: orNull(nums[n + 6]),
    func: textOrNull(text, strs[s + 1]),
    info: textOrNull(text, strs[s + 2]),
    cpus: textOrNull(text, strs[s + 3]),
    text: text[strs[s + 4]],
  };
  sink.console(record, nums[n + 2]);
}

function blankRecord(): EventRecord {
  return {
    format: 'ftrace', clock: 'none', ts_ns: null, cpu: null, task: null, pid: null, flags: null, kind: '', op: null,
    target_cpu: null, targets: [], csd: null, func: null, callsite: null, callback: null, reason: null, vector: null,
    hp_state: null, hp_step: null, hp_ret: null, text: null, host_tid: null, args: '',
  };
}

/**
 * Sends event i to the sink, in `reused` when given (else in a new record); returns the index of
 * the next event's first target.
 */
function replayEvent(b: PackedBatch, i: number, target: number, sink: ReaderSink, reused: EventRecord | null): number {
  const n = i * NUMBER_SLOTS;
  const s = i * STRING_SLOTS;
  const nums = b.numbers, strs = b.strings, text = b.text;
  const kind = b.tsKind[i];
  const count = b.targetCounts[i];
  const ev = reused ?? blankRecord();
  const targets = ev.targets as number[];
  targets.length = count;
  for (let t = 0; t < count; t++) targets[t] = b.targetValues[target + t];
  ev.format = text[strs[s]] as EventRecord['format'];
  ev.clock = text[strs[s + 1]] as EventRecord['clock'];
  ev.ts_ns = unpackTime(kind, b.tsNumber[i], b.tsBigint[i]);
  ev.cpu = orNull(nums[n + 1]);
  ev.task = textOrNull(text, strs[s + 4]);
  ev.pid = orNull(nums[n + 2]);
  ev.flags = textOrNull(text, strs[s + 5]);
  ev.kind = text[strs[s + 2]];
  ev.op = textOrNull(text, strs[s + 3]) as EventRecord['op'];
  ev.target_cpu = orNull(nums[n + 3]);
  ev.csd = textOrNull(text, strs[s + 6]);
  ev.func = textOrNull(text, strs[s + 7]);
  ev.callsite = textOrNull(text, strs[s + 8]);
  ev.callback = textOrNull(text, strs[s + 9]);
  ev.reason = textOrNull(text, strs[s + 10]);
  ev.vector = orNull(nums[n + 4]);
  ev.hp_state = orNull(nums[n + 5]);
  ev.hp_step = orNull(nums[n + 6]);
  ev.hp_ret = orNull(nums[n + 7]);
  ev.text = textOrNull(text, strs[s + 11]);
  ev.host_tid = orNull(nums[n + 8]);
  ev.args = text[strs[s + 12]];
  sink.event(ev, nums[n]);
  return target + count;
}

function orNull(value: number): number | null {
  return value !== value ? null : value;
}

function textOrNull(text: string[], index: number): string | null {
  return index < 0 ? null : text[index];
}
