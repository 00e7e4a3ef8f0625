// Replay of one boot: streams its guest events in time order through the trackers and writes the
// derived tables (schema/replay.sql). Two passes over the events: the first builds hotplug state and
// what each CPU's trace covers, the second replays queues and locks against that state.
import { parseCpuList } from '../parsers/patterns.js';
import type { Db } from '../store/db.js';
import { mapClocks, type ClockMap } from './clocks.js';
import { buildCoverage, coveringWindow, type Coverage } from './coverage.js';
import { CsdTracker, releaseHow, releasedAt, type CsdUse } from './csd.js';
import { writeEpisodes } from './episodes.js';
import { HotplugTracker, stateAt, type CpuState, type Interval } from './hotplug.js';
import { computeUniverse, isNonexistent, writeUniverse, type Universe } from './universe.js';

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

interface EventRow {
  event_id: number;
  source_id: number;
  line: number;
  format: string;
  ts: number;
  cpu: number | null;
  kind: string;
  op: string;
  target_cpu: number | null;
  csd: string | null;
  func: string | null;
  callsite: string | null;
  reason: string | null;
  hp_state: number | null;
  hp_step: number | null;
  hp_ret: number | null;
  args: string;
  targets: string | null;
}

export type TargetState = CpuState | 'nonexistent' | 'unknown';

export interface BootModel {
  boot: string;
  clocks: ClockMap;
  universe: Universe;
  states: Map<number, Interval[]>;
  /** CPUs online after boot ("smp: Brought up 1 node, N CPUs"), null when the console does not say. */
  broughtUp: number | null;
}

const DERIVED_TABLES = ['clock_offsets', 'cpu_universe', 'cpu_states', 'cpu_coverage', 'ipi_sends', 'csd_lifecycle', 'csd_episodes', 'console_reports', 'findings'];

export function listBoots(db: Db): string[] {
  return (db.prepare('SELECT DISTINCT boot FROM sources ORDER BY boot').all() as { boot: string }[]).map((r) => r.boot);
}

export function replayBoot(db: Db, boot: string, options: ReplayOptions = {}): BootModel {
  for (const table of DERIVED_TABLES) db.prepare(`DELETE FROM ${table} WHERE boot = ?`).run(boot);
  const clocks = mapClocks(db, boot);
  db.prepare('INSERT INTO clock_offsets (boot, clock, ref_clock, offset_ns, method, samples, spread_ns) VALUES (?,?,?,?,?,?,?)')
    .run(boot, 'printk', clocks.ref, clocks.printkOffset, clocks.method, clocks.samples, clocks.spread);

  const events = eventStream(db, boot, clocks, 'with op');
  const activity = eventStream(db, boot, clocks, 'all');
  const hotplug = new HotplugTracker();
  const seen = new Set<number>();
  for (const ev of activity()) {
    if (ev.cpu !== null) {
      seen.add(ev.cpu);
      hotplug.onCpuActive(ev.cpu, ev.ts, { sourceId: ev.source_id, line: ev.line });
    }
    if (ev.op === 'hp_enter' && ev.target_cpu !== null) {
      hotplug.onEnter(ev.target_cpu, ev.ts, ev.hp_state ?? 0, ev.hp_step ?? 0, ev.func, { sourceId: ev.source_id, line: ev.line });
    } else if (ev.op === 'hp_exit' && ev.target_cpu !== null) {
      hotplug.onExit(ev.target_cpu, ev.ts, ev.hp_step ?? 0, ev.hp_ret, { sourceId: ev.source_id, line: ev.line });
    }
  }
  const { bootCpus, broughtUp } = addConsoleHotplug(db, boot, clocks, hotplug, seen);
  const universe = computeUniverse(db, boot, seen, options.cpus);
  const states = hotplug.finish(bootCpus);
  writeStates(db, boot, states);

  const coverage = buildCoverage(db, boot, clocks, universe);
  const model: BootModel = { boot, clocks, universe, states, broughtUp };
  const targets = replayQueues(db, model, events, coverage, options.graceNs ?? DEFAULT_GRACE_NS);
  writeUniverse(db, boot, universe, targets);
  writeEpisodes(db, model);
  return model;
}

/**
 * The boot's guest events (all of them, or those with an op), in reference-clock order. tp_printk copies are skipped when
 * the boot has ftrace events (they are the same events); an event present in two ftrace sources
 * (trace file and oops-time dump) is replayed once.
 */
function eventStream(db: Db, boot: string, clocks: ClockMap, which: 'with op' | 'all'): () => Generator<EventRow> {
  const multiple = (db.prepare(`SELECT count(DISTINCT source_id) AS n FROM events JOIN sources USING (source_id)
    WHERE boot = ? AND clock = 'ftrace'`).get(boot) as { n: number }).n > 1;
  const clockFilter = clocks.ref === 'ftrace' ? "e.clock = 'ftrace'" : "e.clock = 'printk'";
  const statement = db.prepare(`SELECT e.event_id, e.source_id, e.line, e.format, e.ts_ns AS ts, e.cpu, e.kind, e.op,
      e.target_cpu, e.csd, e.func, e.callsite, e.reason, e.hp_state, e.hp_step, e.hp_ret, e.args,
      CASE WHEN e.op = 'ipi_send' THEN (SELECT group_concat(t.cpu) FROM event_targets t WHERE t.event_id = e.event_id) END AS targets
    FROM events e JOIN sources s USING (source_id)
    WHERE s.boot = ? AND ${which === 'all' ? "(e.op IS NULL OR e.op NOT IN ('marker', 'lost'))" : "e.op IS NOT NULL AND e.op NOT IN ('marker', 'lost')"}
      AND e.format != 'qemu'
      AND e.ts_ns IS NOT NULL AND ${clockFilter}
    ORDER BY ${clocks.ref === 'ftrace' ? 'e.ts_ns, e.event_id' : 'e.source_id, e.event_id'}`);
  // printk stamps are not monotonic across console lines, but the console's line order is the log's
  // sequence order: printk-clock boots are replayed in line order, times clamped to never go back.
  const clamp = clocks.ref === 'printk';
  return function* () {
    let currentTs = Number.NaN;
    let latest = -Infinity;
    const keys = new Set<string>();
    for (const ev of statement.iterate(boot) as IterableIterator<EventRow>) {
      if (clamp) ev.ts = latest = Math.max(latest, ev.ts);
      if (multiple) {
        if (ev.ts !== currentTs) {
          currentTs = ev.ts;
          keys.clear();
        }
        const key = `${ev.cpu}|${ev.kind}|${ev.args}`;
        if (keys.has(key)) continue;
        keys.add(key);
      }
      yield ev;
    }
  };
}

/** Console hotplug messages (mapped onto the reference clock). Returns CPUs online after boot. */
function addConsoleHotplug(db: Db, boot: string, clocks: ClockMap, hotplug: HotplugTracker, seen: Set<number>):
  { bootCpus: Set<number>; broughtUp: number | null } {
  const rows = db.prepare(`SELECT c.source_id, c.line, c.ts_ns, c.kind, c.cpu, c.cpus FROM console_messages c
    JOIN sources s USING (source_id) WHERE s.boot = ? AND c.kind IN ('cpu_offline', 'cpu_dying', 'cpu_online', 'cpu_up_failed')
    ORDER BY c.source_id, c.line`).all(boot) as { source_id: number; line: number; ts_ns: number | null; kind: string; cpu: number | null; cpus: string | null }[];
  const bootCpus = new Set<number>(seen);
  const stateFor: Record<string, CpuState> = { cpu_offline: 'offline', cpu_dying: 'dying', cpu_online: 'online', cpu_up_failed: 'offline' };
  for (const row of rows) {
    const cpus = row.cpu !== null ? [row.cpu] : parseCpuList(row.cpus ?? '') ?? [];
    for (const cpu of cpus) {
      if (row.ts_ns === null) continue;
      const ts = row.ts_ns + (clocks.ref === 'ftrace' ? clocks.printkOffset : 0);
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

function writeStates(db: Db, boot: string, states: Map<number, Interval[]>): void {
  const insert = db.prepare('INSERT INTO cpu_states (boot, cpu, state, start_ns, end_ns, source_id, line, basis) VALUES (?,?,?,?,?,?,?,?)');
  for (const [cpu, intervals] of [...states].sort((a, b) => a[0] - b[0])) {
    for (const i of intervals) {
      insert.run(boot, cpu, i.state, Number.isFinite(i.ts) ? i.ts : null, i.end, i.sourceId, i.line, i.basis);
    }
  }
}

/**
 * The target's state at `ts`. A CPU with no history at all is offline only when the console says
 * fewer CPUs were brought up at boot (maxcpus=); otherwise nothing is known about it.
 */
export function targetState(model: BootModel, cpu: number, ts: number): TargetState {
  if (isNonexistent(model.universe, cpu)) return 'nonexistent';
  return stateAt(model.states, cpu, ts) ?? (model.broughtUp !== null && cpu >= model.broughtUp ? 'offline' : 'unknown');
}

/** Second pass: queues, IPIs, flushes and locks. Returns every CPU named as a target. */
function replayQueues(db: Db, model: BootModel, events: () => Generator<EventRow>, coverage: Coverage, graceNs: number): Set<number> {
  const tracker = new CsdTracker(1 + (db.prepare('SELECT coalesce(max(csd_use_id), 0) AS m FROM csd_lifecycle').get() as { m: number }).m);
  const queueState = new Map<number, TargetState>();
  const targetsSeen = new Set<number>();
  const insertSend = db.prepare(`INSERT INTO ipi_sends (boot, event_id, source_id, line, ts_ns, src_cpu, target_cpu, kind,
    reason, csd_use_id, target_state) VALUES (?,?,?,?,?,?,?,?,?,?,?)`);
  const sends: { ev: EventRow; target: number; state: TargetState; use: CsdUse | undefined }[] = [];
  for (const ev of events()) {
    switch (ev.op) {
      case 'csd_queue': {
        if (ev.target_cpu === null) break;
        targetsSeen.add(ev.target_cpu);
        const use = tracker.onQueue(ev.event_id, ev.ts, ev.cpu, ev.target_cpu, ev.csd, ev.func, ev.callsite);
        queueState.set(use.id, targetState(model, ev.target_cpu, ev.ts));
        break;
      }
      case 'ipi_send': {
        const targets = ev.targets ? ev.targets.split(',').map(Number) : [];
        const isCall = ev.reason === 'call_function' || ev.reason === 'Function call interrupts';
        const matched = tracker.onIpiSend(ev.event_id, ev.ts, ev.cpu, targets, isCall);
        for (const target of targets) {
          targetsSeen.add(target);
          sends.push({ ev, target, state: targetState(model, target, ev.ts), use: matched.get(target) });
        }
        break;
      }
      case 'ipi_entry':
        if (ev.cpu !== null && isCallFunctionEntry(ev)) tracker.onFlush(ev.cpu, ev.ts, ev.event_id);
        break;
      case 'csd_entry':
        tracker.onEntry(ev.event_id, ev.ts, ev.cpu, ev.csd, ev.csd === null && ev.args.includes('ptrval'));
        break;
      case 'csd_exit':
        tracker.onExit(ev.event_id, ev.ts, ev.csd);
        break;
    }
  }
  for (const s of sends) {
    insertSend.run(model.boot, s.ev.event_id, s.ev.source_id, s.ev.line, s.ev.ts, s.ev.cpu, s.target, s.ev.kind,
      s.ev.reason, s.use?.id ?? null, s.state);
  }
  writeLifecycle(db, model, tracker.uses, queueState, coverage, graceNs);
  return targetsSeen;
}

/** IPI handler entries that flush the call-single queue (x86 vectors 251/252, ARM "Function call"). */
function isCallFunctionEntry(ev: EventRow): boolean {
  return ev.reason === 'call_function_single' || ev.reason === 'call_function' || ev.reason === 'Function call interrupts';
}

function writeLifecycle(db: Db, model: BootModel, uses: CsdUse[], queueState: Map<number, TargetState>,
  coverage: Coverage, graceNs: number): void {
  const insert = db.prepare(`INSERT INTO csd_lifecycle (csd_use_id, boot, csd, func, callsite, src_cpu, target_cpu,
    queue_event_id, queued_ns, ipi_event_id, ipi_ns, entry_event_id, entry_ns, exit_event_id, exit_ns, flush_event_id,
    flush_ns, released_ns, release_how, target_state, release_state, reused_use_id, outcome, note)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  for (const use of uses) {
    const state = queueState.get(use.id) ?? 'unknown';
    const released = releasedAt(use);
    const { outcome, note } = classify(model, use, state, released, coverage, graceNs);
    insert.run(use.id, model.boot, use.csd, use.func, use.callsite, use.src, use.target, use.queueEventId, use.queuedNs,
      use.ipiEventId, use.ipiNs, use.entryEventId, use.entryNs, use.exitEventId, use.exitNs, use.flushEventId, use.flushNs,
      released, releaseHow(use), state, released === null ? null : targetState(model, use.target, released),
      use.reusedUseId, outcome, note);
  }
}

function classify(model: BootModel, use: CsdUse, state: TargetState, released: number | null, coverage: Coverage,
  graceNs: number): { outcome: string; note: string | null } {
  if (use.exitNs !== null || (released !== null && use.entryNs === null)) return { outcome: 'released', note: null };
  const window = coveringWindow(coverage, use.target, use.queuedNs);
  if (use.entryNs !== null) {
    return { outcome: 'running_at_end', note: window ? `entered; the trace ends ${fmt(window.end - use.entryNs)} later without its exit` : null };
  }
  if (!window) return { outcome: 'unknown', note: `CPU${use.target}'s trace does not cover the time after the queue` };
  const cannotRun = state === 'nonexistent' || state === 'offline';
  const backOnline = nextOnline(model, use.target, use.queuedNs);
  if (cannotRun && (backOnline === null || backOnline > window.end)) {
    return { outcome: 'never_released', note: `CPU${use.target} was ${state} and stayed so until the trace ended ${fmt(window.end - use.queuedNs)} later` };
  }
  if (window.end - use.queuedNs >= graceNs) {
    return { outcome: 'never_released', note: `no flush on CPU${use.target} in the ${fmt(window.end - use.queuedNs)} the trace covers after the queue` };
  }
  return { outcome: 'in_flight_at_end', note: `queued ${fmt(window.end - use.queuedNs)} before the trace of CPU${use.target} ends` };
}

function nextOnline(model: BootModel, cpu: number, after: number): number | null {
  for (const interval of model.states.get(cpu) ?? []) {
    if (interval.ts > after && (interval.state === 'online' || interval.state === 'coming_up')) return interval.ts;
  }
  return null;
}

function fmt(ns: number): string {
  return `${(ns / 1e9).toFixed(3)} s`;
}
