// Replay of one boot: streams its guest events in time order through the trackers and writes the
// derived tables (schema/replay.sql). Two passes over the events: the first builds hotplug state and
// what each CPU's trace covers, the second replays queues and locks against that state.
import { parseCpuList, squeezeRepeats } from '../parsers/patterns.js';
import { BatchInsert, ROWS_PER_STATEMENT } from '../store/batch-insert.js';
import { ensureIndexes, type Db } from '../store/db.js';
import { ftraceViews, mapClocks, type ClockMap } from './clocks.js';
import { buildCoverage, type Coverage, type CoverageRow, type Silence } from './coverage.js';
import { CsdTracker, RELEASE_HOWS } from './csd.js';
import { writeConsoleSnapshots } from './console-snapshots.js';
import { writeEpisodes } from './episodes.js';
import { CPU_STATES, HotplugTracker, type CpuState, type Interval } from './hotplug.js';
import { LIFECYCLE_COLUMNS, lifecycleWriter, OUTCOMES, releaseByOfflineWarnings } from './lifecycle.js';
import { correlateQemu, hasQemuLog } from './qemu-correlate.js';
import { GuestSends } from './qemu-guest-sends.js';
import { hasStream, type StreamEvent } from '../store/event-stream.js';
import {
  bootSources, ChunkCursor, OutOfOrder, RowCursor, scanBySource, scanByTime, scanSorted, type BootSource, type EventCursor,
  type ScanFilter,
} from './stream.js';
import { intervalBefore, TARGET_STATES, targetState, type TargetState } from './states.js';
import { computeUniverse, garbledCpus, writeUniverse, type Universe } from './universe.js';
import { holdYoungGeneration } from './young-generation.js';

export interface ReplayOptions {
  /** Number of CPUs that exist, when the user knows better than the logs (--cpus). */
  cpus?: number;
  /**
   * A csd queued to an online CPU counts as never released only if the trace goes on at least this
   * long after it without a flush on the target (shorter: 'in_flight_at_end').
   */
  graceNs?: number;
}

export const DEFAULT_GRACE_NS = 1_000_000_000;

// The derived tables' fixed text vocabularies, the types derived from them (BatchInsert binds them as codes).


export interface BootModel {
  boot: string;
  clocks: ClockMap;
  universe: Universe;
  states: Map<number, Interval[]>;
  /** CPUs online after boot ("smp: Brought up 1 node, N CPUs"), null when the console does not say. */
  broughtUp: number | null;
}

/** The tables replay and detect derive, each with a boot column. */
export const DERIVED_TABLES = ['clock_offsets', 'cpu_universe', 'cpu_states', 'cpu_coverage', 'ipi_sends', 'csd_lifecycle', 'offline_callbacks', 'csd_episodes', 'console_reports', 'console_snapshots', 'findings',
  'qemu_vcpus', 'qemu_sends', 'qemu_links'];

export function listBoots(db: Db): string[] {
  return (db.prepare('SELECT DISTINCT boot FROM sources ORDER BY boot').all() as { boot: string }[]).map((r) => r.boot);
}

export function replayBoot(db: Db, boot: string, options: ReplayOptions = {}): BootModel {
  ensureIndexes(db);
  clearDerived(db, boot);
  const clocks = mapClocks(db, boot);
  db.prepare('INSERT INTO clock_offsets (boot, clock, ref_clock, offset_ns, method, samples, spread_ns) VALUES (?,?,?,?,?,?,?)')
    .run(boot, 'printk', clocks.ref, clocks.printkOffset, clocks.method, clocks.samples, clocks.spread);

  // Before the hotplug replay: a CPU that crashed in its own bring-up never came online.
  writeConsoleSnapshots(db, {
    boot, toRef: (ts) => (ts === null ? null : ts + (clocks.ref === 'ftrace' ? clocks.printkOffset : 0)),
  });
  const plan = planStream(db, boot, clocks);
  const { hotplug, seen, eventsPerCpu, coverageRows, silences } = replayActivity(db, plan);
  const garbled = garbledCpus(db, boot, eventsPerCpu);
  for (const cpu of garbled) seen.delete(cpu);
  const { bootCpus, broughtUp } = addConsoleHotplug(db, boot, clocks, hotplug, seen);
  const universe = computeUniverse(db, boot, seen, options.cpus);
  const states = hotplug.finish(bootCpus);
  for (const cpu of garbled) states.delete(cpu);
  writeStates(db, boot, states);

  const coverage = buildCoverage(db, boot, clocks, universe, coverageRows, silences);
  const model: BootModel = { boot, clocks, universe, states, broughtUp };
  holdYoungGeneration();
  const guestSends = hasQemuLog(db, boot) ? new GuestSends() : undefined;
  const targets = replayQueues(db, model, plan, coverage, options.graceNs ?? DEFAULT_GRACE_NS, guestSends);
  writeUniverse(db, boot, universe, targets);
  writeEpisodes(db, model);
  releaseByOfflineWarnings(db, boot);
  correlateQemu(db, model, guestSends);
  return model;
}

/**
 * Removes what an earlier replay of the boot derived. When the database holds no other boot (in
 * `sources`), every derived row is the boot's (or an orphan whose boot has no file left) and the
 * tables are emptied whole, which SQLite does without visiting each row: deleting row by row took
 * 0.7 s when detect ran again on a database of 5 M events.
 */
function clearDerived(db: Db, boot: string): void {
  const onlyBoot = listBoots(db).every((other) => other === boot);
  for (const table of DERIVED_TABLES) {
    if (onlyBoot) db.prepare(`DELETE FROM ${table}`).run();
    else db.prepare(`DELETE FROM ${table} WHERE boot = ?`).run(boot);
  }
}

/**
 * How the boot's guest events are streamed in reference-clock order: with an ftrace reference, by
 * (ts_ns, event_id), merging the sources; with a printk reference, source after source in line
 * order. tp_printk copies are skipped when the boot has ftrace events (they are the same events);
 * an event present in two ftrace sources (trace file and oops-time dump) is replayed once.
 */
interface StreamPlan {
  boot: string;
  sources: BootSource[];
  clock: 'ftrace' | 'printk';
  byTime: boolean;
  /** The boot holds the ring buffer more than once (ftraceViews): drop an event seen again at the same time. */
  multiple: boolean;
  /** printk stamps are not monotonic across console lines, but the console's line order is the log's
   *  sequence order: printk-clock boots are replayed in line order, times clamped to never go back. */
  clamp: boolean;
  /** Set when a source turned out not to be in time order: SQLite sorts the events instead. */
  sorted: boolean;
  /** Every source has a replay stream (store/event-stream.ts) and the raw arguments are not needed. */
  fromStream: boolean;
}

function planStream(db: Db, boot: string, clocks: ClockMap): StreamPlan {
  const sources = bootSources(db, boot);
  const byTime = clocks.ref === 'ftrace';
  const multiple = ftraceViews(db, boot) > 1;
  const fromStream = !multiple && hasStream(db, sources.map((s) => s.sourceId));
  return { boot, sources, clock: byTime ? 'ftrace' : 'printk', byTime, multiple, clamp: !byTime, sorted: false, fromStream };
}

/**
 * Hands out the plan's events in its order. `orderedWhere` is `filter.ordered` as SQL on events,
 * for the sorted fallback (which hands out only those).
 */
function scanPlan(db: Db, plan: StreamPlan, filter: ScanFilter, orderedWhere: string, onEvent: (event: StreamEvent) => void): void {
  if (plan.sorted) return scanSorted(db, plan.boot, plan.clock, orderedWhere, plan.multiple, filter.include, onEvent);
  const cursors: EventCursor[] = plan.sources.map((source) => (plan.fromStream
    ? new ChunkCursor(db, source.sourceId, plan.clock) : new RowCursor(db, source, plan.clock, plan.multiple)));
  if (plan.byTime) scanByTime(cursors, filter, onEvent);
  else scanBySource(cursors, filter, onEvent);
}

/** The per-pass state of the stream: time clamp (printk) and duplicate events (several ftrace sources). */
class StreamFilter {
  private latest = -Infinity;
  private currentTs = Number.NaN;
  private readonly keys = new Set<string>();

  constructor(private readonly plan: StreamPlan) {}

  /** The event's replay time, or null when the event is a duplicate to skip. */
  time(ts: number, cpu: unknown, kind: unknown, args: unknown): number | null {
    if (this.plan.clamp) ts = this.latest = Math.max(this.latest, ts);
    if (this.plan.multiple) {
      if (ts !== this.currentTs) {
        this.currentTs = ts;
        this.keys.clear();
      }
      // The same event in two views of the buffer (a trace file and a dump) has the same CPU, name and
      // arguments; runs of repeated characters are squeezed, as a serial line may repeat one in either.
      const key = `${cpu}|${kind}|${squeezeRepeats(String(args))}`;
      if (this.keys.has(key)) return null;
      this.keys.add(key);
    }
    return ts;
  }
}

// First pass: every guest event in the reference clock (CPU activity, cpuhp steps). Also reads the
// other events of that clock (markers, lost-event notes), which only count for coverage.
const notReplayed = (event: StreamEvent) => event.op === 'marker' || event.op === 'lost';

interface Activity {
  hotplug: HotplugTracker;
  /** CPUs that recorded events. */
  seen: Set<number>;
  /** Events recorded per CPU. */
  eventsPerCpu: Map<number, number>;
  /** What coverage needs (first and last time per source and CPU); undefined: coverage queries it. */
  coverageRows: CoverageRow[] | undefined;
  /** Per source, the spans of at least SILENCE_NS in which no CPU recorded anything (tracing off?). */
  silences: Map<number, Silence[]>;
}

/**
 * A stretch this long in which no CPU of a stream records any event is taken as a gap of every CPU's
 * window: the trace may have been switched off (tracing_on=0 while a script copies the buffer, seen in
 * x86-q11-k73-oops-dump-logbuf4m: 22.8 s), and nothing in the stream can tell that from a quiet system.
 * 5 s: the kernel's default csd_lock_timeout, below which nothing is called held too long anyway.
 */
const SILENCE_NS = 5_000_000_000;

/** Feeds the hotplug tracker with every replayed event. */
function replayActivity(db: Db, plan: StreamPlan): Activity {
  let hotplug = new HotplugTracker();
  const seen = new Set<number>();
  const eventsPerCpu = new Map<number, number>();
  const scan: ScanFilter = { include: () => true, ordered: (event) => !notReplayed(event) };
  const orderedWhere = "op IS NULL OR op NOT IN ('marker', 'lost')";
  let span = new Map<number, Map<number | null, { first: number; last: number }>>();
  const lastBySource = new Map<number, number>();
  const silences = new Map<number, Silence[]>();
  // The span map of the source of the event before (a boot's events mostly come from one source).
  let spanSourceId = Number.NaN;
  let spanOfSource = new Map<number | null, { first: number; last: number }>();
  const onEvent = (event: StreamEvent) => {
    // Each field once: the stream's fields are getters on its chunk's columns.
    const rawTs = event.ts, cpu = event.cpu, sourceId = event.sourceId, op = event.op;
    const replayed = op !== 'marker' && op !== 'lost'; // !notReplayed(event)
    if (replayed) {
      const last = lastBySource.get(sourceId);
      if (last !== undefined && rawTs - last >= SILENCE_NS) {
        const list = silences.get(sourceId);
        if (list) list.push({ from: last, to: rawTs });
        else silences.set(sourceId, [{ from: last, to: rawTs }]);
      }
      if (last === undefined || rawTs > last) lastBySource.set(sourceId, rawTs);
    }
    if (sourceId !== spanSourceId) {
      let bySource = span.get(sourceId);
      if (bySource === undefined) span.set(sourceId, (bySource = new Map()));
      spanSourceId = sourceId;
      spanOfSource = bySource;
    }
    const s = spanOfSource.get(cpu);
    if (s === undefined) spanOfSource.set(cpu, { first: rawTs, last: rawTs });
    else {
      if (rawTs < s.first) s.first = rawTs;
      if (rawTs > s.last) s.last = rawTs;
    }
    if (!replayed) return;
    const ts = filter.time(rawTs, cpu, event.kindName, event.args);
    if (ts === null) return;
    const line = event.line;
    if (cpu !== null) {
      const n = eventsPerCpu.get(cpu);
      if (n === undefined) {
        seen.add(cpu);
        eventsPerCpu.set(cpu, 1);
      } else eventsPerCpu.set(cpu, n + 1);
      hotplug.onCpuActive(cpu, ts, sourceId, line);
    }
    if (op === 'hp_enter' || op === 'hp_exit') {
      const { target } = event;
      if (target === null) return;
      const at = { sourceId, line };
      if (op === 'hp_enter') hotplug.onEnter(target, ts, event.hpState ?? 0, event.hpStep ?? 0, event.func, at);
      else hotplug.onExit(target, ts, event.hpStep ?? 0, event.hpRet, at, event.hpState);
    }
  };
  let filter = new StreamFilter(plan);
  try {
    scanPlan(db, plan, scan, orderedWhere, onEvent);
  } catch (error) {
    if (!(error instanceof OutOfOrder)) throw error;
    // Start again from a sorted copy; coverage then comes from its own query.
    plan.sorted = true;
    hotplug = new HotplugTracker();
    seen.clear();
    eventsPerCpu.clear();
    silences.clear();
    lastBySource.clear();
    spanSourceId = Number.NaN;
    filter = new StreamFilter(plan);
    scanPlan(db, plan, scan, orderedWhere, onEvent);
    return { hotplug, seen, eventsPerCpu, coverageRows: undefined, silences };
  }
  // A sorted scan hands out only the replayed events: coverage then comes from its own query.
  if (plan.sorted) return { hotplug, seen, eventsPerCpu, coverageRows: undefined, silences };
  const rows: CoverageRow[] = [];
  for (const sourceId of [...span.keys()].sort((a, b) => a - b)) {
    const bySource = span.get(sourceId)!;
    // GROUP BY source_id, cpu order: NULL first.
    const cpus = [...bySource.keys()].sort((a, b) => (a === null ? -1 : b === null ? 1 : a - b));
    for (const cpu of cpus) rows.push({ source_id: sourceId, cpu, ...bySource.get(cpu)! });
  }
  span = new Map();
  return { hotplug, seen, eventsPerCpu, coverageRows: rows, silences };
}

/** Console hotplug messages (mapped onto the reference clock). Returns CPUs online after boot. */
function addConsoleHotplug(db: Db, boot: string, clocks: ClockMap, hotplug: HotplugTracker, seen: Set<number>):
  { bootCpus: Set<number>; broughtUp: number | null } {
  const rows = db.prepare(`SELECT c.source_id, c.line, c.ts_ns, c.kind, c.cpu, c.cpus FROM console_messages c
    JOIN sources s USING (source_id) WHERE s.boot = ? AND c.kind IN ('cpu_offline', 'cpu_dying', 'cpu_online', 'cpu_up_failed')
    UNION ALL
    -- A CPU that oopsed or panicked in its own bring-up (start_secondary ...): it never came online.
    SELECT source_id, line, ts_ns - ?, 'cpu_up_failed', cpu, NULL FROM console_snapshots
     WHERE boot = ? AND in_bringup = 1 AND report_kind IN ('oops', 'bug', 'panic') AND cpu IS NOT NULL AND ts_ns IS NOT NULL
    ORDER BY 1, 2`).all(boot, clocks.ref === 'ftrace' ? clocks.printkOffset : 0, boot) as { source_id: number; line: number; ts_ns: number | null; kind: string; cpu: number | null; cpus: string | null }[];
  const bootCpus = new Set<number>(seen);
  const stateFor: Record<string, CpuState> = { cpu_offline: 'offline', cpu_dying: 'dying', cpu_online: 'online', cpu_up_failed: 'offline' };
  const dumpEnds = clocks.ref === 'ftrace' ? dumpEndsBySource(db, boot) : new Map<number, { line: number; ts: number }>();
  // Per source and CPU: time of the last console transition placed, in line order.
  const lastTs = new Map<string, number>();
  for (const row of rows) {
    const cpus = row.cpu !== null ? [row.cpu] : parseCpuList(row.cpus ?? '') ?? [];
    for (const cpu of cpus) {
      if (row.ts_ns === null) continue;
      let ts = row.ts_ns + (clocks.ref === 'ftrace' ? clocks.printkOffset : 0);
      // A hotplug line printed after an oops-time dump happened after the dump's last event, whatever
      // the mapped printk time says: never replayed into the dump's window.
      const dump = dumpEnds.get(row.source_id);
      if (dump !== undefined && row.line > dump.line && ts <= dump.ts) ts = dump.ts + 1;
      // A CPU that fails in its own bring-up prints with its own clock, not yet synchronised (x86 checks
      // the TSC after ap_starting(): a 6.12 AP's oops read 0.027720 s after the boot CPU's 0.326384 s
      // "#1 #2 #3"). Its failure comes after the line that announced its bring-up, never before it.
      const key = `${row.source_id}:${cpu}`;
      const last = lastTs.get(key);
      if (row.kind === 'cpu_up_failed' && last !== undefined && ts < last) ts = last;
      lastTs.set(key, ts);
      hotplug.onConsole(cpu, ts, stateFor[row.kind], { sourceId: row.source_id, line: row.line });
      seen.add(cpu);
    }
  }
  const brought = db.prepare(`SELECT max(count) AS n FROM cpu_facts JOIN sources USING (source_id)
    WHERE boot = ? AND fact = 'brought_up'`).get(boot) as { n: number | null };
  for (let cpu = 0; cpu < (brought.n ?? 0); cpu++) bootCpus.add(cpu);
  bootCpus.add(0);
  return { bootCpus, broughtUp: brought.n };
}

/** Per console source holding an oops-time dump: the dump's last line and its latest event time. */
function dumpEndsBySource(db: Db, boot: string): Map<number, { line: number; ts: number }> {
  const ends = new Map<number, { line: number; ts: number }>();
  const sources = db.prepare(`SELECT source_id FROM sources WHERE boot = ?
    AND coalesce(json_extract(format_counts, '$."ftrace-dump"'), 0) > 0`).pluck().all(boot) as number[];
  const end = db.prepare(`SELECT max(line) AS line, max(ts_ns) AS ts FROM events
    WHERE source_id = ? AND format = 'ftrace-dump' AND clock = 'ftrace'`);
  for (const sourceId of sources) {
    const row = end.get(sourceId) as { line: number | null; ts: number | null };
    if (row.line !== null && row.ts !== null) ends.set(sourceId, { line: row.line, ts: row.ts });
  }
  return ends;
}

/** Hotplug torture runs give a CPU thousands of intervals (28 k at 5 M events): written 64 rows a statement. */
function writeStates(db: Db, boot: string, states: Map<number, Interval[]>): void {
  const insert = new BatchInsert(db, 'cpu_states', ['cpu', 'state', 'start_ns', 'end_ns', 'source_id', 'line', 'basis'],
    ROWS_PER_STATEMENT, { boot }, { state: CPU_STATES });
  for (const [cpu, intervals] of [...states].sort((a, b) => a[0] - b[0])) {
    for (const i of intervals) {
      insert.add(cpu, i.state, Number.isFinite(i.ts) ? i.ts : null, i.end, i.sourceId, i.line, i.basis);
    }
  }
  insert.flush();
}

// Second pass: the events that queue, send, flush and run csds.
const QUEUE_OPS = new Set(['csd_queue', 'ipi_send', 'ipi_entry', 'csd_entry', 'csd_exit']);

/**
 * Second pass: queues, IPIs, flushes and locks. Returns every CPU named as a target. The sends it
 * writes to ipi_sends also go to `guestSends` when given (the QEMU correlation's input).
 */
function replayQueues(db: Db, model: BootModel, plan: StreamPlan, coverage: Coverage, graceNs: number,
  guestSends: GuestSends | undefined): Set<number> {
  const tracker = new CsdTracker(1 + (db.prepare('SELECT coalesce(max(csd_use_id), 0) AS m FROM csd_lifecycle').get() as { m: number }).m);
  const queueState = new Map<number, TargetState>();
  const targetsSeen = new Set<number>();
  const sends = new BatchInsert(db, 'ipi_sends', ['event_id', 'source_id', 'line', 'ts_ns', 'src_cpu', 'target_cpu',
    'kind', 'reason', 'csd_use_id', 'target_state', 'repeats_event_id'], ROWS_PER_STATEMENT, { boot: model.boot }, { target_state: TARGET_STATES });
  const repeats = new RepeatedSends();
  const uses = new BatchInsert(db, 'csd_lifecycle', LIFECYCLE_COLUMNS, ROWS_PER_STATEMENT, { boot: model.boot },
    { release_how: RELEASE_HOWS, target_state: TARGET_STATES, release_state: TARGET_STATES, outcome: OUTCOMES });
  const offlineRuns = new BatchInsert(db, 'offline_callbacks', ['event_id', 'cpu', 'ts_ns', 'offline_since_ns', 'csd_use_id'], ROWS_PER_STATEMENT, { boot: model.boot });
  const writeUse = lifecycleWriter(model, uses, queueState, coverage, graceNs);
  // With a printk reference every event with an op takes part (the time clamp runs over all of them).
  const include = (event: StreamEvent) => {
    const op = event.op; // a getter on the stream's chunk: read once
    return op !== null && op !== 'marker' && op !== 'lost' && (!plan.byTime || QUEUE_OPS.has(op));
  };
  const filter = new StreamFilter(plan);
  // An ipi_send's target list ('1,3') as numbers, parsed once per distinct list (a boot has few, and
  // hundreds of thousands of sends); the lists are only read.
  const targetLists = new Map<string, number[]>();
  const targetList = (targets: string): number[] => {
    let list = targetLists.get(targets);
    if (list === undefined) targetLists.set(targets, (list = targets.split(',').map(Number)));
    return list;
  };
  let events = 0;
  const onEvent = (event: StreamEvent) => {
    const ts = filter.time(event.ts, event.cpu, event.kindName, event.args);
    if (ts === null) return;
    const { eventId, cpu } = event;
    switch (event.op) {
      case 'csd_queue': {
        const { target } = event;
        if (target === null) break;
        targetsSeen.add(target);
        const use = tracker.onQueue(eventId, ts, cpu, target, event.csd, event.func, event.callsite);
        queueState.set(use.id, targetState(model, target, ts));
        break;
      }
      case 'ipi_send': {
        const { reason } = event;
        const targets = event.targets ? targetList(event.targets) : [];
        const isCall = reason === 'call_function' || reason === 'Function call interrupts';
        const matched = tracker.onIpiSend(eventId, ts, cpu, targets, isCall);
        const repeatOf = repeats.onSend(eventId, ts, cpu, event.kind, event.targets);
        for (const target of targets) {
          targetsSeen.add(target);
          sends.add(eventId, event.sourceId, event.line, ts, cpu, target, event.kind, reason,
            matched.get(target)?.id ?? null, targetState(model, target, ts), repeatOf);
          guestSends?.add(eventId, ts, cpu, target, event.kind!, reason);
        }
        break;
      }
      case 'ipi_entry':
        if (cpu !== null && isCallFunctionEntry(event.reason)) tracker.onFlush(cpu, ts, eventId);
        break;
      case 'csd_entry': {
        const useId = tracker.onEntry(eventId, ts, cpu, event.csd, event.hashed);
        const offline = cpu === null || event.csd === '0x0' ? null : intervalBefore(model.states, cpu, ts);
        if (offline?.state === 'offline') offlineRuns.add(eventId, cpu, ts, offline.ts, useId);
        break;
      }
      case 'csd_exit':
        tracker.onExit(eventId, ts, event.csd);
        break;
    }
    // Uses that nothing later can change are written as the stream goes, so memory stays flat.
    if (++events % 4096 === 0) for (const use of tracker.takeSettled(ts)) writeUse(use);
  };
  scanPlan(db, plan, { include, ordered: include }, '1', onEvent);
  for (const use of tracker.takeAll()) writeUse(use);
  sends.flush();
  uses.flush();
  offlineRuns.flush();
  return targetsSeen;
}

/** Longest time between a generic ipi_send_cpu/_cpumask and the arch's ipi_raise of the same IPI (1.4 ms seen under TCG). */
const REPEAT_WINDOW_NS = 50_000_000;

/**
 * arm and arm64 kernels since 6.5 trace an IPI twice on the sending CPU: kernel/smp.c (or the
 * scheduler's smp_send_reschedule) traces ipi_send_cpu / ipi_send_cpumask, then the arch's
 * smp_cross_call() traces ipi_raise for the same target mask (arch/arm64/kernel/smp.c). An ipi_raise
 * that follows a generic send of the same CPU and targets, with no other send of that CPU between,
 * is the same IPI. Sends of their own (x86 has no ipi_raise; arm's irq_work and timer broadcast
 * IPIs have no generic event) stay alone.
 */
class RepeatedSends {
  private readonly lastGeneric = new Map<number, { eventId: number; ts: number; targets: string | null }>();

  /** The generic send's event id when this send repeats it, else null. */
  onSend(eventId: number, ts: number, cpu: number | null, kind: string | null, targets: string | null): number | null {
    if (cpu === null) return null;
    const last = this.lastGeneric.get(cpu);
    this.lastGeneric.delete(cpu);
    if (kind === 'ipi_send_cpu' || kind === 'ipi_send_cpumask') {
      this.lastGeneric.set(cpu, { eventId, ts, targets });
      return null;
    }
    if (kind === 'ipi_raise' && last !== undefined && last.targets === targets && ts - last.ts <= REPEAT_WINDOW_NS) return last.eventId;
    return null;
  }
}

/** IPI handler entries that flush the call-single queue (x86 vectors 251/252, ARM "Function call"). */
function isCallFunctionEntry(reason: string | null): boolean {
  return reason === 'call_function_single' || reason === 'call_function' || reason === 'Function call interrupts';
}
