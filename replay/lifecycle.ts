// The outcome of each csd use (csd_lifecycle), decided only from evidence the input can hold.
//
// What a trace cannot show (kernel/smp.c, kernel/cpu.c, include/linux/tracepoint.h, 6.1 to 7.x):
// - Tracepoints declared with DECLARE_TRACE only fire when cpu_online(raw_smp_processor_id()). A CPU
//   being taken down leaves cpu_online_mask in take_cpu_down() (set_cpu_online(false) in
//   __cpu_disable), then runs its CPU_DYING steps, among them smpcfd_dying_cpu(), which runs every csd
//   still queued to it (__flush_smp_call_function_queue(false)): no event shows those runs. A csd queued
//   to a CPU before it left the mask and not seen running was therefore most likely run there; that is
//   'maybe_flushed_at_dying', never 'never_released', unless other evidence decides it.
// - csd_lock() waits until the csd is unlocked before queueing it again: a later csd_queue_cpu of the
//   same csd proves the earlier use was released before it, traced or not ('untraced').
// - Each CPU's ring buffer covers its own window (overwritten start, LOST EVENTS, a dump cut short):
//   a use whose queue or release falls outside its target's window is 'unknown'.
import type { BatchInsert } from '../store/batch-insert.js';
import type { Db } from '../store/db.js';
import { coveringWindow, type Coverage } from './coverage.js';
import { releaseHow, releasedAt, RELEASE_HOWS, type CsdUse } from './csd.js';
import { nextOfflineStart, targetState, type StateModel, type TargetState } from './states.js';

export const OUTCOMES = ['released', 'running_at_end', 'never_released', 'in_flight_at_end', 'unknown', 'maybe_flushed_at_dying'] as const;
type Outcome = (typeof OUTCOMES)[number];
type ReleaseHow = (typeof RELEASE_HOWS)[number];

export const LIFECYCLE_COLUMNS = ['csd_use_id', 'csd', 'func', 'callsite', 'src_cpu', 'target_cpu', 'queue_event_id',
  'queued_ns', 'ipi_event_id', 'ipi_ns', 'entry_event_id', 'entry_ns', 'exit_event_id', 'exit_ns', 'flush_event_id', 'flush_ns',
  'released_ns', 'release_how', 'target_state', 'release_state', 'next_offline_ns', 'reused_use_id', 'outcome', 'note'];

interface Verdict {
  outcome: Outcome;
  note: string | null;
  released: number | null;
  how: ReleaseHow | null;
}

/** Writes one csd use (its final state) to csd_lifecycle. */
export function lifecycleWriter(model: StateModel, insert: BatchInsert, queueState: Map<number, TargetState>, coverage: Coverage,
  graceNs: number): (use: CsdUse) => void {
  return (use) => {
    const state = queueState.get(use.id) ?? 'unknown';
    queueState.delete(use.id);
    const offAt = nextOfflineStart(model.states, use.target, use.queuedNs);
    const { outcome, note, released, how } = classify(model, use, state, offAt, coverage, graceNs);
    insert.add(use.id, use.csd, use.func, use.callsite, use.src, use.target, use.queueEventId, use.queuedNs,
      use.ipiEventId, use.ipiNs, use.entryEventId, use.entryNs, use.exitEventId, use.exitNs, use.flushEventId, use.flushNs,
      released, how, state, released === null ? null : targetState(model, use.target, released),
      offAt, lockedReuse(model, use, coverage), outcome, note);
  };
}

/**
 * The earlier use this queue reused while it was still locked, or null when the evidence does not
 * show that: the earlier use's target left cpu_online_mask in between (its CPU_DYING flush released
 * it, untraced), or that target's trace does not cover the time from the earlier queue to this one.
 */
function lockedReuse(model: StateModel, use: CsdUse, coverage: Coverage): number | null {
  const prev = use.reusedPrev;
  if (use.reusedUseId === null || prev === null) return null;
  const offAt = nextOfflineStart(model.states, prev.target, prev.queuedNs);
  if (offAt !== null && offAt <= use.queuedNs) return null;
  const window = coveringWindow(coverage, prev.target, prev.queuedNs);
  if (window === null || window.end < use.queuedNs) return null;
  return use.reusedUseId;
}

function classify(model: StateModel, use: CsdUse, state: TargetState, offAt: number | null, coverage: Coverage,
  graceNs: number): Verdict {
  const released = releasedAt(use);
  const how = releaseHow(use);
  const window = coveringWindow(coverage, use.target, use.queuedNs);
  // Queued while the target was in cpu_online_mask (the kernel checks it under preempt_disable, and
  // take_cpu_down runs under stop_machine), and the target went offline after: CPU_DYING ran it then.
  const dyingFlushes = state !== 'offline' && state !== 'nonexistent' && offAt !== null;
  const unknown = (note: string): Verdict => ({ outcome: 'unknown', note, released, how });
  // The CPU_DYING flush took it, unseen; a later queue of the same csd proves it, or nothing does.
  const dyingRelease = (): Verdict => (use.reusedAtNs !== null
    ? { outcome: 'released', released: Math.min(offAt!, use.reusedAtNs), how: 'untraced',
      note: `released without a trace event (CPU${use.target}'s CPU_DYING flush runs with tracepoints off): the same csd`
        + ` was queued again at ${secs(use.reusedAtNs)} s, which csd_lock() allows only once it is unlocked` }
    : maybeFlushed());
  const maybeFlushed = (): Verdict => ({
    outcome: 'maybe_flushed_at_dying', released: null, how: null,
    note: `unknown: possibly flushed at CPU_DYING: queued to CPU${use.target} ${fmt(offAt! - use.queuedNs)} before it finished going`
      + ` offline; its smpcfd_dying_cpu() runs what is queued after it left cpu_online_mask, where no tracepoint fires`,
  });

  if (use.exitNs !== null || (released !== null && use.entryNs === null)) {
    if (window === null) return unknown(`released at ${secs(released!)}, but CPU${use.target}'s trace does not cover the queue: an earlier release may be lost`);
    if (released! > window.end) return unknown(`CPU${use.target}'s trace has a gap between the queue and the release at ${secs(released!)}`);
    // Only a run naming this csd shows it stayed queued across the offline; a later flush of the queue
    // (after the CPU came back) takes it only in our model, the CPU_DYING flush took it before.
    if (dyingFlushes && released! > offAt! && how === 'flush') return dyingRelease();
    return { outcome: 'released', note: null, released, how };
  }
  if (use.entryNs !== null) {
    return { outcome: 'running_at_end', released, how,
      note: window ? `entered; the trace ends ${fmt(window.end - use.entryNs)} later without its exit` : null };
  }
  if (window === null) return unknown(`CPU${use.target}'s trace does not cover the time after the queue`);
  if (dyingFlushes && offAt! <= window.end) return dyingRelease();
  const cannotRun = state === 'nonexistent' || state === 'offline';
  const backOnline = nextOnline(model, use.target, use.queuedNs);
  if (cannotRun && (backOnline === null || backOnline > window.end)) {
    return { outcome: 'never_released', released, how,
      note: `CPU${use.target} was ${state} and stayed so until the trace ended ${fmt(window.end - use.queuedNs)} later` };
  }
  if (window.end - use.queuedNs >= graceNs) {
    return { outcome: 'never_released', released, how,
      note: `no flush on CPU${use.target} in the ${fmt(window.end - use.queuedNs)} the trace covers after the queue` };
  }
  return { outcome: 'in_flight_at_end', released, how, note: `queued ${fmt(window.end - use.queuedNs)} before the trace of CPU${use.target} ends` };
}

function nextOnline(model: StateModel, cpu: number, after: number): number | null {
  for (const interval of model.states.get(cpu) ?? []) {
    if (interval.ts > after && (interval.state === 'online' || interval.state === 'coming_up')) return interval.ts;
  }
  return null;
}

function fmt(ns: number): string {
  return `${(ns / 1e9).toFixed(3)} s`;
}

function secs(ns: number): string {
  return (ns / 1e9).toFixed(6);
}

/**
 * The kernel's "IPI on offline CPU N" WARN (__flush_smp_call_function_queue(true) found csds queued to
 * CPU N after it left cpu_online_mask) is followed by the run of that CPU's whole queue (llist_del_all):
 * every csd still pending on N when it printed was released then, on the offline CPU, with no trace
 * event. Runs after the console reports are written (episodes.ts).
 */
export function releaseByOfflineWarnings(db: Db, boot: string): void {
  db.prepare(`UPDATE csd_lifecycle AS l SET outcome = 'released', release_how = 'untraced', released_ns = r.ts_ns,
      release_state = 'offline',
      note = 'ran on offline CPU' || r.target_cpu || ' (no trace event there): the kernel warned "IPI on offline CPU '
        || r.target_cpu || '" at ' || printf('%.6f', r.ts_ns / 1e9) || ' s and then ran its queue'
    FROM (SELECT target_cpu, min(ts_ns) AS ts_ns FROM console_reports
           WHERE boot = :boot AND kind = 'ipi_offline_warning' AND ts_ns IS NOT NULL AND target_cpu IS NOT NULL GROUP BY target_cpu) r
    WHERE l.boot = :boot AND l.target_cpu = r.target_cpu AND l.queued_ns <= r.ts_ns
      AND l.outcome IN ('never_released', 'maybe_flushed_at_dying', 'unknown') AND l.released_ns IS NULL`).run({ boot });
}
