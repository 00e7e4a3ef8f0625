// A CPU's replayed hotplug state at a time, looked up in the intervals replay built (cpu_states), by
// binary search: replay asks for every queue, IPI and callback, on CPUs with long histories.
import { CPU_STATES, stateAt, type CpuState, type Interval } from './hotplug.js';
import { isNonexistent, type Universe } from './universe.js';

export const TARGET_STATES = [...CPU_STATES, 'nonexistent', 'unknown'] as const;
export type TargetState = (typeof TARGET_STATES)[number];

/** What the lookups need of a boot's model (replay.ts BootModel). */
export interface StateModel {
  universe: Universe;
  states: Map<number, Interval[]>;
  broughtUp: number | null;
}

/**
 * The target's state at `ts`. A CPU with no history at all is offline only when the console says
 * fewer CPUs were brought up at boot (maxcpus=); otherwise nothing is known about it.
 */
export function targetState(model: StateModel, cpu: number, ts: number): TargetState {
  if (isNonexistent(model.universe, cpu)) return 'nonexistent';
  return fastStateAt(model.states, cpu, ts) ?? (model.broughtUp !== null && cpu >= model.broughtUp ? 'offline' : 'unknown');
}

/** Per CPU, the interval start times when they are in order (binary search), null when not. */
const startTimes = new WeakMap<Map<number, Interval[]>, Map<number, number[] | null>>();

function sortedStarts(states: Map<number, Interval[]>, cpu: number, list: Interval[]): number[] | null {
  let byCpu = startTimes.get(states);
  if (byCpu === undefined) startTimes.set(states, (byCpu = new Map()));
  let starts = byCpu.get(cpu);
  if (starts === undefined) {
    starts = list.map((interval) => interval.ts);
    for (let i = 1; i < starts.length; i++) {
      if (!(starts[i - 1] <= starts[i])) {
        starts = null;
        break;
      }
    }
    byCpu.set(cpu, starts);
  }
  return starts;
}

/** Index of the first start after `ts` (`orAt`: at or after it), by binary search. */
function firstStartAfter(starts: number[], ts: number, orAt: boolean): number {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid] < ts || (!orAt && starts[mid] === ts)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** stateAt() (hotplug.ts) by binary search: called for every queue and IPI, on CPUs with long histories. */
function fastStateAt(states: Map<number, Interval[]>, cpu: number, ts: number): CpuState | null {
  const list = states.get(cpu);
  if (!list) return null;
  const starts = sortedStarts(states, cpu, list);
  if (starts === null) return stateAt(states, cpu, ts);
  // The last interval starting at or before ts (stateAt's linear walk stops at the first after).
  const after = firstStartAfter(starts, ts, false);
  return after === 0 ? list[0].state : list[after - 1].state;
}

/**
 * The interval in force just before `ts` as SQL on cpu_states reads it: the last (in list order on
 * equal starts) to start strictly before ts, never one with an unknown start (NULL start_ns); null
 * when there is none or it ended by ts.
 */
export function intervalBefore(states: Map<number, Interval[]>, cpu: number, ts: number): Interval | null {
  const list = states.get(cpu);
  if (!list) return null;
  const starts = sortedStarts(states, cpu, list);
  let found: Interval | null = null;
  if (starts !== null) {
    const at = firstStartAfter(starts, ts, true) - 1;
    if (at >= 0) found = list[at];
  } else {
    for (const interval of list) if (interval.ts < ts && (found === null || interval.ts >= found.ts)) found = interval;
  }
  if (found === null || !Number.isFinite(found.ts) || (found.end !== null && !(ts < found.end))) return null;
  return found;
}

/**
 * Start of the first offline interval to start after `ts`, first as SQL on cpu_states orders them
 * (start_ns, then rowid), null when there is none. By binary search over the CPU's offline starts,
 * sorted once: called for every csd use, and a CPU's history may hold thousands of intervals with
 * no offline one among them (a console whose teardowns are not traced), where a walk from `ts` to
 * the next offline interval made detect quadratic (5 M tp_printk events: 47 s of 98).
 */
export function nextOfflineStart(states: Map<number, Interval[]>, cpu: number, ts: number): number | null {
  const list = states.get(cpu);
  if (!list) return null;
  let byCpu = offlineStartTimes.get(states);
  if (byCpu === undefined) offlineStartTimes.set(states, (byCpu = new Map()));
  let starts = byCpu.get(cpu);
  if (starts === undefined) {
    starts = list.filter((interval) => interval.state === 'offline').map((interval) => interval.ts).sort((a, b) => a - b);
    byCpu.set(cpu, starts);
  }
  const i = firstStartAfter(starts, ts, false);
  return i < starts.length ? starts[i] : null;
}

/** Per CPU, the start times of its offline intervals, in order (nextOfflineStart). */
const offlineStartTimes = new WeakMap<Map<number, Interval[]>, Map<number, number[]>>();
