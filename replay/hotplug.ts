// Per-CPU hotplug state over time, from cpuhp trace events first and console messages where the
// traces do not reach (explicit priority: cpuhp events > console hotplug messages > inferred).
// Teardown (kernel/cpu.c): steps run with target < step. takedown_cpu runs stop_machine on the
// outgoing CPU, which leaves cpu_online_mask and flushes its call-single queue (CPU_DYING); after
// takedown_cpu returns the CPU is dead. Bring-up: steps run with target > step; the CPU is online
// once the bring-up step (bringup_cpu / cpuhp_bringup_ap) returns or it records its first event.
// The states follow cpu_online_mask: the AP sets itself online (set_cpu_online(true)) early in its
// bring-up, untraced, so 'coming_up' is a window in which it joins the mask; take_cpu_down clears it
// on the outgoing CPU, untraced, so 'dying' is a window in which it leaves. Tracepoints only fire on
// a CPU in the mask (include/linux/tracepoint.h): a CPU's own event proves it online, which fills in
// hotplug steps a lossy trace (LOST EVENTS, an oops dump's windows) did not keep.

/** Every hotplug state, in the order a CPU goes round them. */
export const CPU_STATES = ['online', 'going_down', 'dying', 'offline', 'coming_up'] as const;
export type CpuState = (typeof CPU_STATES)[number];

export interface Transition {
  ts: number;
  state: CpuState;
  sourceId: number | null;
  line: number | null;
  basis: string;
}

export interface Interval extends Transition {
  end: number | null;
}

const TAKEDOWN_STEPS = new Set(['takedown_cpu']);
const BRINGUP_STEPS = new Set(['bringup_cpu', 'cpuhp_bringup_ap']);

interface Evidence { sourceId: number; line: number }
/** A CPU's own event: its time and where it is (an Evidence, copied by move()). */
interface OwnEvent extends Evidence { ts: number }

export class HotplugTracker {
  private readonly transitions = new Map<number, Transition[]>();
  private readonly lastState = new Map<number, CpuState>();
  /** Per CPU: the step number of an open takedown/bring-up step (its exit ends the phase). */
  private readonly openStep = new Map<number, { step: number; kind: 'takedown' | 'bringup' }>();
  /** Per CPU inside takedown_cpu: its latest own event. */
  private readonly lastActive = new Map<number, OwnEvent>();
  /** Per CPU: a step with target below it whose exit has not said yet whether it tears the CPU down. */
  private readonly pendingDown = new Map<number, { ts: number; step: number; at: Evidence }>();
  /** Per CPU: its latest own event (any CPU, any time); updated in place, one record per CPU. */
  private readonly lastOwn = new Map<number, OwnEvent>();
  /** When a CPU first showed activity, for CPUs whose history starts with it (taken as online all along). */
  private readonly firstActive = new Map<number, number>();
  private traceStart: number | null = null;
  private sawCpuhp = false;
  private traceEnd: number | null = null;

  /** cpuhp_enter / cpuhp_multi_enter for `cpu`. */
  onEnter(cpu: number, ts: number, target: number, step: number, func: string | null, at: Evidence): void {
    this.noteTraceTime(ts);
    this.sawCpuhp = true;
    if (func && TAKEDOWN_STEPS.has(func)) {
      const pending = this.pendingDown.get(cpu);
      this.pendingDown.delete(cpu);
      if (pending) this.move(cpu, pending.ts, 'going_down', pending.at, 'cpuhp');
      this.openStep.set(cpu, { step, kind: 'takedown' });
      this.move(cpu, ts, 'going_down', at, 'cpuhp');
      this.lastActive.delete(cpu);
    } else if (func && BRINGUP_STEPS.has(func)) {
      const state = this.lastState.get(cpu);
      if (state === 'online' || state === 'going_down') {
        // Brought up, so it went offline before: its teardown is not in the trace (lost events, a dump's
        // window). It left cpu_online_mask after its last own event, at the latest now.
        const last = this.lastOwn.get(cpu);
        const since = this.transitions.get(cpu)?.at(-1)?.ts ?? -Infinity;
        if (last && last.ts >= since) this.move(cpu, last.ts, 'dying', last, 'last event before an untraced teardown');
        this.move(cpu, ts, 'offline', at, 'bring-up (teardown not traced)');
      }
      this.openStep.set(cpu, { step, kind: 'bringup' });
      this.move(cpu, ts, 'coming_up', at, 'cpuhp');
    } else if (target < step) {
      // A teardown step, or one callback run on an online CPU when a driver installs a hotplug state
      // (cpuhp_issue_call): before 6.5 the boot CPU's cpuhp target stays 0, so those print 'target: 0'
      // too. The step's exit tells them apart: a teardown leaves the CPU in a lower state.
      const state = this.lastState.get(cpu);
      if ((state === undefined || state === 'online' || state === 'coming_up') && !this.pendingDown.has(cpu)) {
        this.pendingDown.set(cpu, { ts, step, at });
      }
    } else if (target > step) {
      // Only a CPU known to be down is coming up: the boot CPU runs its own online steps at boot,
      // and a secondary's prepare steps run before its bring-up step says it is coming up.
      const state = this.lastState.get(cpu);
      if (state === 'offline' || state === 'dying') this.move(cpu, ts, 'coming_up', at, 'cpuhp');
    }
  }

  /**
   * cpuhp_exit for `cpu`: confirms a teardown (the state it `reached` is below the step; unknown
   * counts as confirmed), ends a takedown (dead) or bring-up (online) step.
   */
  onExit(cpu: number, ts: number, step: number, ret: number | null, at: Evidence, reached: number | null = null): void {
    this.noteTraceTime(ts);
    const pending = this.pendingDown.get(cpu);
    if (pending && pending.step === step) {
      this.pendingDown.delete(cpu);
      if (reached === null || reached < step) this.move(cpu, pending.ts, 'going_down', pending.at, 'cpuhp');
    }
    const open = this.openStep.get(cpu);
    if (!open || open.step !== step) return;
    this.openStep.delete(cpu);
    const failed = ret !== null && ret !== 0;
    if (open.kind === 'takedown' && !failed) {
      // takedown_cpu's stop_machine: the CPU stops recording events when it enters take_cpu_down,
      // leaves cpu_online_mask and runs its CPU_DYING steps (not traced). Its last event marks that.
      const last = this.lastActive.get(cpu);
      if (last) this.move(cpu, last.ts, 'dying', last, 'last event before takedown');
      this.move(cpu, ts, 'offline', at, 'cpuhp');
    } else if (open.kind === 'takedown') this.move(cpu, ts, 'online', at, 'cpuhp');
    else this.move(cpu, ts, failed ? 'offline' : 'online', at, 'cpuhp');
  }

  /**
   * Any event recorded ON `cpu`. Tracepoints only fire on a CPU in cpu_online_mask
   * (include/linux/tracepoint.h), so the event proves the CPU online: a CPU coming up is online, and
   * one replayed offline was brought back without a traced bring-up (its control CPU's events lost):
   * from its offline evidence to this event its state is not known ('coming_up').
   */
  onCpuActive(cpu: number, ts: number, sourceId: number, line: number): void {
    this.noteTraceTime(ts);
    // Every event of every CPU comes here (5 M at 5 M events): no object per event.
    const own = this.lastOwn.get(cpu);
    if (own === undefined) this.lastOwn.set(cpu, { ts, sourceId, line });
    else {
      own.ts = ts;
      own.sourceId = sourceId;
      own.line = line;
    }
    const state = this.lastState.get(cpu);
    if (state === 'going_down' && this.openStep.get(cpu)?.kind === 'takedown') this.lastActive.set(cpu, { ts, sourceId, line });
    if (state === undefined) this.move(cpu, ts, 'online', { sourceId, line }, 'first event');
    else if (state === 'coming_up') this.move(cpu, ts, 'online', { sourceId, line }, 'first event');
    else if (state === 'offline' && !this.openStep.has(cpu)) {
      const since = this.transitions.get(cpu)?.at(-1);
      if (since) this.move(cpu, since.ts, 'coming_up', { sourceId: since.sourceId ?? sourceId, line: since.line ?? line }, 'own event later (bring-up not traced)');
      this.move(cpu, ts, 'online', { sourceId, line }, 'own event (bring-up not traced)');
    }
  }

  /** A console hotplug message, used only where the traces do not reach. */
  onConsole(cpu: number, ts: number, state: CpuState, at: Evidence): void {
    this.consoleTransitions.push({ cpu, ts, state, at });
  }

  private readonly consoleTransitions: { cpu: number; ts: number; state: CpuState; at: Evidence }[] = [];

  private noteTraceTime(ts: number): void {
    if (this.traceStart === null || ts < this.traceStart) this.traceStart = ts;
    if (this.traceEnd === null || ts > this.traceEnd) this.traceEnd = ts;
  }

  private move(cpu: number, ts: number, state: CpuState, at: Evidence | null, basis: string): void {
    if (this.lastState.get(cpu) === state) return;
    const list = this.transitions.get(cpu) ?? [];
    // A CPU whose first evidence is its own activity was online all along; otherwise the state
    // before the first evidence follows from it (coming up means it was offline before).
    if (list.length === 0 && basis === 'first event') {
      this.firstActive.set(cpu, ts);
      ts = -Infinity;
    }
    else if (list.length === 0) list.push(initialBefore(state));
    list.push({ ts, state, sourceId: at?.sourceId ?? null, line: at?.line ?? null, basis });
    this.transitions.set(cpu, list);
    this.lastState.set(cpu, state);
  }

  /**
   * Closes the model: console transitions outside the traced time range are merged in, CPUs the
   * console says were brought up at boot start online. Returns the intervals per CPU.
   */
  finish(bootCpus: Iterable<number>): Map<number, Interval[]> {
    for (const c of this.consoleTransitions) {
      const inTrace = this.sawCpuhp && this.traceStart !== null && this.traceEnd !== null
        && c.ts >= this.traceStart && c.ts <= this.traceEnd;
      if (!inTrace) this.insertTransition(c.cpu, { ts: c.ts, state: c.state, sourceId: c.at.sourceId, line: c.at.line, basis: 'console' });
    }
    for (const cpu of bootCpus) {
      if (!this.transitions.has(cpu)) this.transitions.set(cpu, [{ ts: -Infinity, state: 'online', sourceId: null, line: null, basis: 'initial' }]);
    }
    const result = new Map<number, Interval[]>();
    for (const [cpu, list] of this.transitions) result.set(cpu, toIntervals(list));
    return result;
  }

  private insertTransition(cpu: number, t: Transition): void {
    const list = this.transitions.get(cpu) ?? [];
    if (list.length === 0) list.push(initialBefore(t.state));
    // "Online all along" was only a guess from the CPU's first event: the console, earlier than that
    // event, says how the CPU got there (a trace that starts late, e.g. a dump after a buffer reset).
    else if (list[0].basis === 'first event' && t.ts < (this.firstActive.get(cpu) ?? -Infinity)) list[0] = initialBefore(t.state);
    list.push(t);
    list.sort((a, b) => a.ts - b.ts);
    this.transitions.set(cpu, list);
  }
}

function initialBefore(first: CpuState): Transition {
  const state: CpuState = first === 'coming_up' || first === 'online' ? 'offline' : 'online';
  return { ts: -Infinity, state, sourceId: null, line: null, basis: 'initial' };
}

function toIntervals(list: Transition[]): Interval[] {
  const merged: Transition[] = [];
  for (const t of list) if (merged.length === 0 || merged[merged.length - 1].state !== t.state) merged.push(t);
  // A literal, not { ...t, end }: V8 gives an object made by spread room to grow, 350 bytes against 74
  // (a hotplug torture run has 28 k intervals at 5 M events: 8 MB of the peak).
  return merged.map((t, i) => ({
    ts: t.ts, state: t.state, sourceId: t.sourceId, line: t.line, basis: t.basis, end: i + 1 < merged.length ? merged[i + 1].ts : null,
  }));
}

/** The state of `cpu` at `ts` (a CPU with no history is 'offline' unless it appears in `intervals`). */
export function stateAt(intervals: Map<number, Interval[]>, cpu: number, ts: number): CpuState | null {
  const list = intervals.get(cpu);
  if (!list) return null;
  let state: CpuState | null = null;
  for (const interval of list) {
    if (interval.ts <= ts) state = interval.state;
    else break;
  }
  return state ?? list[0].state;
}
