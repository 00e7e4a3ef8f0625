// Call-single queues and csd locks, modelled on kernel/smp.c (6.x):
// - csd_queue_cpu: the sender took the csd's lock and llist_add()ed it to the target's queue; an IPI
//   follows only when the queue was empty (so a queue without its own IPI is normal).
// - The target's __flush_smp_call_function_queue() takes the WHOLE queue at once (llist_del_all):
//   sync csds run entry/func/exit then unlock, async ones unlock first, irq_work csds print no
//   csd_function_* event, and all remote wake-ups run as ONE csd_function_entry naming only the
//   first csd. So any sign of a flush on CPU c at time t (the IPI handler, or any queued csd
//   running there) releases every csd queued to c before t; exact csd matching only refines the
//   times. A csd with no flush on its target afterwards was never released.
// - csd=0 entries are local calls (csd_do_func(..., NULL)): no queue, no IPI, no flush.

export interface CsdUse {
  id: number;
  csd: string | null;
  func: string | null;
  callsite: string | null;
  src: number | null;
  target: number;
  queueEventId: number;
  queuedNs: number;
  ipiEventId: number | null;
  ipiNs: number | null;
  entryEventId: number | null;
  entryNs: number | null;
  exitEventId: number | null;
  exitNs: number | null;
  flushEventId: number | null;
  flushNs: number | null;
  /** The earlier use of the same csd that showed no release when this one was queued. */
  reusedUseId: number | null;
  /** That earlier use's queue time and target (whether it really was still locked is the writer's call). */
  reusedPrev: { queuedNs: number; target: number } | null;
  /**
   * When the same csd was queued again (remote wake-ups aside): csd_lock() waits for the lock, so
   * that later queue proves this use had been released before it, traced or not.
   */
  reusedAtNs: number | null;
}

/** Remote wake-ups reuse the task's wake_entry: not a csd lock, never a reuse bug. */
const TTWU_FUNC = 'sched_ttwu_pending';
/** Max time between a queue and the IPI the same sender sends for it. */
const IPI_MATCH_WINDOW_NS = 10_000_000;
/** onIpiSend's answer when it matches nothing (most IPIs: reschedules, or no csd waiting). */
const NONE_MATCHED: ReadonlyMap<number, CsdUse> = new Map();
/** Live uses below which takeSettled does not look. */
const SWEEP_MIN = 1024;

export class CsdTracker {
  /** Uses not handed out yet (takeSettled, takeAll), in id order. */
  private live: CsdUse[] = [];
  private count = 0;
  /** takeSettled looks at the live uses again once there are this many. */
  private sweepAt = SWEEP_MIN;

  /** `firstId`: ids continue after those of boots already in the database (csd_lifecycle key). */
  constructor(private readonly firstId = 1) {}

  private readonly pending = new Map<number, CsdUse[]>();
  private readonly byCsd = new Map<string, CsdUse>();
  private readonly awaitingIpi = new Map<number, CsdUse[]>();

  onQueue(eventId: number, ts: number, src: number | null, target: number, csd: string | null,
    func: string | null, callsite: string | null): CsdUse {
    const use: CsdUse = {
      id: this.firstId + this.count++, csd, func, callsite, src, target, queueEventId: eventId, queuedNs: ts,
      ipiEventId: null, ipiNs: null, entryEventId: null, entryNs: null, exitEventId: null, exitNs: null,
      flushEventId: null, flushNs: null, reusedUseId: null, reusedPrev: null, reusedAtNs: null,
    };
    if (csd !== null && csd !== '0x0') {
      const previous = this.byCsd.get(csd);
      if (previous && func !== TTWU_FUNC && previous.func !== TTWU_FUNC) {
        previous.reusedAtNs ??= ts;
        if (releasedAt(previous) === null) {
          use.reusedUseId = previous.id;
          use.reusedPrev = { queuedNs: previous.queuedNs, target: previous.target };
        }
      }
      this.byCsd.set(csd, use);
    }
    this.live.push(use);
    push(this.pending, target, use);
    // Events come in time order: a use queued more than the match window ago can no longer be
    // matched by an IPI (onIpiSend skips it), so it is dropped from the list.
    const waiting = this.awaitingIpi.get(src ?? -1);
    if (waiting !== undefined && waiting.length > 0 && ts - waiting[0].queuedNs > IPI_MATCH_WINDOW_NS) {
      this.awaitingIpi.set(src ?? -1, waiting.filter((u) => ts - u.queuedNs <= IPI_MATCH_WINDOW_NS));
    }
    push(this.awaitingIpi, src ?? -1, use);
    return use;
  }

  /**
   * Hands out (and forgets) the uses nothing later in the stream can change, `now` being the time
   * of the latest event: flushed (taken off the target's queue), matched to an IPI or past the
   * match window, and no longer reachable by csd address (a later use of the same csd took its
   * place, or it ran to its exit, or it has no address to match).
   */
  takeSettled(now: number): CsdUse[] {
    if (this.live.length < this.sweepAt) return [];
    const settled: CsdUse[] = [];
    const kept: CsdUse[] = [];
    for (const use of this.live) {
      const done = use.flushEventId !== null
        && (use.ipiEventId !== null || now - use.queuedNs > IPI_MATCH_WINDOW_NS)
        && (use.csd === null || use.csd === '0x0' || use.exitEventId !== null || this.byCsd.get(use.csd) !== use);
      (done ? settled : kept).push(use);
    }
    this.live = kept;
    this.sweepAt = Math.max(SWEEP_MIN, 2 * kept.length);
    return settled;
  }

  /** Hands out every use not handed out yet (end of the stream). */
  takeAll(): CsdUse[] {
    const all = this.live;
    this.live = [];
    return all;
  }

  /**
   * An IPI from `src` to `targets`: a call-function IPI is the one sent for the csds `src` queued
   * just before. Returns the use matched per target.
   */
  onIpiSend(eventId: number, ts: number, src: number | null, targets: number[], isCallFunction: boolean): ReadonlyMap<number, CsdUse> {
    if (!isCallFunction) return NONE_MATCHED;
    const waiting = this.awaitingIpi.get(src ?? -1);
    if (!waiting) return NONE_MATCHED;
    const matched = new Map<number, CsdUse>();
    for (const use of waiting) {
      if (use.ipiEventId !== null || ts - use.queuedNs > IPI_MATCH_WINDOW_NS || !targets.includes(use.target)) continue;
      use.ipiEventId = eventId;
      use.ipiNs = ts;
      matched.set(use.target, use);
    }
    this.awaitingIpi.delete(src ?? -1);
    return matched;
  }

  /** Evidence that CPU `cpu` flushed its queue at `ts`: everything queued to it before is taken. */
  onFlush(cpu: number, ts: number, eventId: number): void {
    const queue = this.pending.get(cpu);
    if (!queue || queue.length === 0) return;
    let kept = 0;
    for (const use of queue) {
      if (use.queuedNs <= ts) {
        use.flushEventId = eventId;
        use.flushNs = ts;
      } else {
        queue[kept++] = use;
      }
    }
    queue.length = kept;
  }

  /**
   * csd_function_entry on `cpu` (null: tp_printk, no CPU column). Returns the id of the use the entry
   * runs, null when none (a local call, or its queue is not in the trace).
   */
  onEntry(eventId: number, ts: number, cpu: number | null, csd: string | null, hashedOut: boolean): number | null {
    if (csd === '0x0') return null;
    const use = csd === null ? undefined : this.byCsd.get(csd);
    const matches = use !== undefined && use.entryEventId === null && use.queuedNs <= ts && (cpu === null || use.target === cpu);
    if (matches) {
      use.entryEventId = eventId;
      use.entryNs = ts;
    }
    const flushed = cpu ?? (matches ? use.target : null);
    if (flushed !== null && (csd !== null || hashedOut)) this.onFlush(flushed, ts, eventId);
    return matches ? use.id : null;
  }

  onExit(eventId: number, ts: number, csd: string | null): void {
    if (csd === null || csd === '0x0') return;
    const use = this.byCsd.get(csd);
    if (use && use.entryEventId !== null && use.exitEventId === null) {
      use.exitEventId = eventId;
      use.exitNs = ts;
    }
  }
}

/** When the csd's lock was released: exit (sync), entry (async), or the flush that took it. */
export function releasedAt(use: CsdUse): number | null {
  return use.exitNs ?? use.entryNs ?? use.flushNs;
}

/**
 * How a csd's lock was released (csd_lifecycle.release_how). 'untraced': no event shows it, but the
 * csd's next queue proves it (see CsdUse.reusedAtNs), on a target that left cpu_online_mask between
 * the two (its CPU_DYING flush runs with tracepoints off).
 */
export const RELEASE_HOWS = ['exit', 'entry', 'flush', 'untraced'] as const;

export function releaseHow(use: CsdUse): (typeof RELEASE_HOWS)[number] | null {
  if (use.exitNs !== null) return 'exit';
  if (use.entryNs !== null) return 'entry';
  if (use.flushNs !== null) return 'flush';
  return null;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
