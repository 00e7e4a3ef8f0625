// Per-CPU console snapshots: what each CPU was doing when the console printed its stack. Every
// report that names a CPU and shows its stack or registers (soft/hard lockup, RCU stall, NMI
// backtrace, task dump, WARNING, BUG, oops, panic) becomes one row of console_snapshots with its top
// frames, the cross-call it waits in (if any), whether interrupts were off, whether it was idle or
// spinning on a lock. A CPU asked for an NMI backtrace that never printed one gets a 'no_response'
// row. The rows are grouped into incidents (a lockup or stall header and what follows it), so that
// the cross-call-wait detector can follow waiter -> awaited CPUs in SQL.
//
// What a stack can and cannot show: a frame is where the CPU was when the report was printed, not
// a history; `?` frames (stale return addresses the unwinder could not prove) are left out; an
// inlined csd_lock_wait shows as its caller. A CPU "waits in a cross-call" only in a hang report
// (lockup, stall, NMI backtrace, task dump): a WARNING's stack in smp_call_function_many_cond is a
// warning about the call, not a wait.
import { parseCpuList } from '../parsers/patterns.js';
import type { Db } from '../store/db.js';
import type { Message as ConsoleMessage, Evidence } from './console-facts.js';

export interface SnapshotModel {
  boot: string;
  /** printk ns -> the boot's reference clock. */
  toRef(ts: number | null): number | null;
}

/** The console_messages columns the snapshots read (console-facts.ts reads them all). */
type Message = Pick<ConsoleMessage, 'source_id' | 'path' | 'line' | 'ts_ns' | 'kind' | 'cpu' | 'func' | 'info' | 'cpus'>;

interface Frame { func: string; info: string; at: Evidence }

interface Snapshot {
  incident: number;
  sourceId: number;
  cpu: number | null;
  ts: number | null;
  kind: string;
  lastLine: number;
  frames: Frame[];
  irqsOff: number | null;
  irqsAt: Evidence | null;
  idle: boolean;
  askedBy: number | null;
  askedCpus: string | null;
  header: Evidence;
}

interface Incident {
  id: number;
  sourceId: number;
  stalled: Set<number>;
  selfDetected: boolean;
  requests: { by: number | null; cpus: number[]; at: Evidence }[];
  answered: Set<number>;
}

/** Frames that mean "waiting for other CPUs to run a cross-call" (kernel/smp.c and its callers that wait). */
export const WAIT_FRAME = new RegExp('^(?:__)?(?:csd_lock_wait\\w*|smp_call_function(?:_many(?:_cond)?|_single(?:_async)?|_any)?'
  + '|on_each_cpu\\w*|generic_exec_single|smp_call_on_cpu\\w*|kick_all_cpus_sync|native_flush_tlb_others|flush_tlb_others'
  + '|native_flush_tlb_multi|flush_tlb_multi|text_poke_bp(?:_batch)?|text_poke_sync|kvm_make_all_cpus_request\\w*'
  + '|kvm_make_vcpus_request_mask|kvm_kick_many_cpus)(?:\\.\\w+)*$');
/** The generic cross-call code: skipped when naming what the cross-call is for. */
const GENERIC_FRAME = /^(?:__)?(?:csd_lock_wait\w*|smp_call_function\w*|on_each_cpu\w*|generic_exec_single|smp_call_on_cpu\w*|__cmpwait\w*|cmpwait\w*)(?:\.\w+)*$/;
const IDLE_FRAME = /^(?:default_idle\w*|cpu_idle\w*|do_idle|intel_idle\w*|acpi_idle\w*|native_safe_halt|safe_halt|arch_cpu_idle\w*|cpuidle_enter\w*|mwait_idle\w*|poll_idle|cpu_do_idle|arch_safe_halt|psci_\w*suspend|xen_safe_halt)(?:\.\w+)*$/;
const LOCK_FRAME = /^(?!.*unlock)(?:\w*spin_lock\w*|\w*queued_\w*lock_slowpath|_raw_(?:read|write)_lock\w*|do_raw_(?:read|write)_lock|\w*rwlock_slowpath|mutex_spin_on_owner|osq_lock)(?:\.\w+)*$/;
/** Hard-interrupt entry: a stack that runs inside one has interrupts off on x86 and arm64. */
const HARDIRQ_FRAME = /^(?:(?:__)?sysvec_\w+|smp_apic_timer_interrupt|apic_timer_interrupt|hrtimer_interrupt|handle_irq|gic_handle_irq|do_IRQ|el1_interrupt|el1h_64_irq\w*|__irq_svc|handle_IPI|do_handle_IPI)$/;
/** A secondary CPU's own start-up code (x86, arm64, arm32, riscv, powerpc). */
const BRINGUP_FRAME = /^(?:start_secondary|secondary_start_kernel|smp_callin|cpu_bringup\w*|start_secondary_resume)(?:\.\w+)*$/;
/** Reached once bring-up is over: the idle loop. */
const IDLE_LOOP_FRAME = /^(?:cpu_startup_entry|do_idle|cpu_idle_loop|cpu_idle)(?:\.\w+)*$/;
/** How far (lines) a report's stack may run after its last typed line. */
const SNAPSHOT_GAP_LINES = 60;
/** Kinds whose stacks show a CPU stuck (the waiter and awaited sides of a chain). */
const HANG_KINDS = new Set(['soft_lockup', 'hard_lockup', 'rcu_stall', 'rcu_detector', 'nmi_backtrace', 'task_dump']);

export function writeConsoleSnapshots(db: Db, model: SnapshotModel): void {
  const messages = db.prepare(`SELECT c.source_id, s.path, c.line, c.ts_ns, c.kind, c.cpu, c.func, c.info, c.cpus
    FROM console_messages c JOIN sources s USING (source_id)
    WHERE s.boot = ? AND c.kind IN ('soft_lockup', 'hard_lockup', 'rcu_stall', 'nmi_backtrace_request', 'nmi_backtrace',
      'task_dump', 'warning', 'bug', 'oops', 'panic', 'frame', 'regs', 'dump_begin')
    ORDER BY c.source_id, c.line`).all(model.boot) as Message[];
  const snapshots: Snapshot[] = [];
  const incidents: Incident[] = [];
  let incident: Incident | null = null;
  // Reports of different CPUs can interleave (printed at once by several callers): a frame goes to
  // the open report of its CPU, else to the last report opened while that one names no CPU yet.
  const openByCpu = new Map<number, Snapshot>();
  let current: Snapshot | null = null;
  const keep = (s: Snapshot) => {
    if (s.frames.length > 0 || s.idle || s.irqsOff !== null) snapshots.push(s);
  };
  const closeAll = () => {
    const all = new Set([...openByCpu.values(), ...(current ? [current] : [])]);
    for (const s of [...all].sort((a, b) => a.header.line - b.header.line)) keep(s);
    openByCpu.clear();
    current = null;
  };
  const close = closeAll;
  const route = (cpu: number | null, sourceId: number, line: number): Snapshot | null => {
    const cur = current as Snapshot | null;
    const own = cpu === null ? undefined : openByCpu.get(cpu);
    const pick = own && own.sourceId === sourceId && line - own.lastLine <= SNAPSHOT_GAP_LINES ? own
      : cur && cur.sourceId === sourceId && line - cur.lastLine <= SNAPSHOT_GAP_LINES && (cur.cpu === null || cpu === null || cur.cpu === cpu) ? cur
        : null;
    if (pick && pick.cpu === null && cpu !== null) {
      pick.cpu = cpu;
      const previous = openByCpu.get(cpu);
      if (previous && previous !== pick) keep(previous);
      openByCpu.set(cpu, pick);
    }
    return pick;
  };
  const newIncident = (sourceId: number): Incident => {
    incident = { id: incidents.length + 1, sourceId, stalled: new Set(), selfDetected: false, requests: [], answered: new Set() };
    incidents.push(incident);
    return incident;
  };
  const open = (m: Message, kind: string, cpu: number | null) => {
    if (cpu !== null) {
      const previous = openByCpu.get(cpu);
      if (previous) {
        keep(previous);
        openByCpu.delete(cpu);
        if (current === previous) current = null;
      }
    }
    const last = current as Snapshot | null;
    if (last && last.cpu === null) keep(last);
    const inc = incident && incident.sourceId === m.source_id ? incident : newIncident(m.source_id);
    const request = cpu === null ? undefined : [...inc.requests].reverse().find((r) => r.cpus.includes(cpu));
    if (cpu !== null && kind === 'nmi_backtrace') inc.answered.add(cpu);
    current = {
      incident: inc.id, sourceId: m.source_id, cpu, ts: model.toRef(m.ts_ns), kind, lastLine: m.line, frames: [],
      irqsOff: null, irqsAt: null, idle: false, askedBy: request?.by ?? null, askedCpus: null,
      header: { file: m.path, line: m.line },
    };
    if (cpu !== null) openByCpu.set(cpu, current);
  };

  for (const m of messages) {
    const at: Evidence = { file: m.path, line: m.line };
    const cur = current as Snapshot | null;
    if (cur && m.source_id !== cur.sourceId) close();
    if (incident && (incident as Incident).sourceId !== m.source_id) incident = null;
    switch (m.kind) {
      case 'soft_lockup':
      case 'hard_lockup':
        newIncident(m.source_id);
        open(m, m.kind, m.cpu);
        break;
      case 'rcu_stall':
        if (m.info === 'stalled cpu') {
          const inc = incident ?? newIncident(m.source_id);
          if (m.cpu !== null) inc.stalled.add(m.cpu);
          if (inc.selfDetected) {
            open(m, 'rcu_stall', m.cpu);
            inc.selfDetected = false;
          }
        } else if (m.info === 'detected by') {
          open(m, 'rcu_detector', m.cpu);
        } else if (m.info === 'kthread dump') {
          close();
        } else {
          close();
          newIncident(m.source_id).selfDetected = (m.info ?? '').includes('self-detected');
        }
        break;
      case 'nmi_backtrace_request': {
        close();
        const inc = incident ?? newIncident(m.source_id);
        const cpus = parseCpuList(m.cpus ?? '') ?? [];
        inc.requests.push({ by: m.cpu, cpus, at });
        const waiter = [...snapshots].reverse().find((s) => s.incident === inc.id && s.cpu === m.cpu);
        if (waiter) waiter.askedCpus ??= m.cpus;
        break;
      }
      case 'nmi_backtrace':
        open(m, 'nmi_backtrace', m.cpu);
        if ((m.info ?? '').startsWith('skipped')) current!.idle = true;
        break;
      case 'task_dump':
        open(m, 'task_dump', m.cpu);
        break;
      case 'warning':
      case 'bug':
      case 'oops':
      case 'panic':
        if ((m.info ?? '').startsWith('end: ')) close();
        else open(m, m.kind, m.cpu);
        break;
      case 'dump_begin':
        close();
        break;
      case 'regs': {
        const snap = route(m.cpu, m.source_id, m.line);
        if (snap) {
          snap.lastLine = m.line;
          if (snap.irqsOff === null) {
            snap.irqsOff = m.info === 'irqs_off' ? 1 : 0;
            snap.irqsAt = at;
          }
        }
        break;
      }
      case 'frame': {
        const snap = m.func === null ? null : route(m.cpu, m.source_id, m.line);
        if (!snap) break;
        snap.lastLine = m.line;
        snap.frames.push({ func: m.func!, info: m.info ?? 'frame', at });
        break;
      }
    }
  }
  close();
  store(db, model.boot, snapshots, incidents);
}

function store(db: Db, boot: string, snapshots: Snapshot[], incidents: Incident[]): void {
  const insert = db.prepare(`INSERT INTO console_snapshots (boot, incident, source_id, line, cpu, ts_ns, report_kind, pc, top_frames,
    waiting_in, wait_via, irqs_off, idle, in_lock, in_bringup, stalled, asked_by, asked_cpus, evidence)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  const byId = new Map(incidents.map((i) => [i.id, i]));
  for (const s of snapshots) {
    const reliable = s.frames.filter((f) => f.info !== 'unreliable' && f.info !== 'lr');
    const pc = reliable.find((f) => f.info === 'rip' || f.info === 'pc');
    const names = dedupe(reliable.map((f) => f.func));
    const waitIndex = HANG_KINDS.has(s.kind) ? reliable.findIndex((f) => WAIT_FRAME.test(f.func)) : -1;
    const wait = waitIndex >= 0 ? reliable[waitIndex] : undefined;
    const via = wait ? reliable.slice(waitIndex + 1).find((f) => !GENERIC_FRAME.test(f.func)) : undefined;
    // The stack from the RIP / pc on: what a report prints above it is its own machinery (the
    // timer interrupt that found the stall, the NMI handler).
    const fromPc = pc ? dedupe(reliable.slice(reliable.indexOf(pc)).map((f) => f.func)) : names;
    const top = fromPc.slice(0, 4);
    const lock = names.slice(0, 6).find((f) => LOCK_FRAME.test(f)) ?? null;
    const idle = s.idle || top.some((f) => IDLE_FRAME.test(f));
    let irqsOff = s.irqsOff;
    if (irqsOff === null && lock !== null && /_irq(?:save)?$/.test(lock)) irqsOff = 1;
    if (irqsOff === null && names.slice(0, 16).some((f) => HARDIRQ_FRAME.test(f)) && !names.slice(0, 16).some((f) => f === '__do_softirq' || f === 'irq_exit')) irqsOff = 1;
    const evidence = [s.header, ...(pc ? [pc.at] : []), ...(wait && wait !== pc ? [wait.at] : []), ...(s.irqsAt ? [s.irqsAt] : [])];
    const incident = byId.get(s.incident);
    // (x86's boot CPU also runs secondary_startup_64, so that one does not count; start_kernel is the boot CPU's.)
    const bringUp = names.some((f) => BRINGUP_FRAME.test(f))
      && !names.some((f) => IDLE_LOOP_FRAME.test(f) || IDLE_FRAME.test(f) || f === 'start_kernel');
    insert.run(boot, s.incident, s.sourceId, s.header.line, s.cpu, s.ts, s.kind, pc?.func ?? null, fromPc.slice(0, 6).join(' < ') || null,
      wait?.func ?? null, wait ? (via?.func ?? null) : null, irqsOff, idle ? 1 : 0, lock, bringUp ? 1 : 0,
      s.cpu !== null && incident?.stalled.has(s.cpu) ? 1 : 0, s.askedBy, s.askedCpus, JSON.stringify(uniqueEvidence(evidence)));
  }
  // CPUs an NMI backtrace was asked of that never printed one.
  for (const inc of incidents) {
    for (const request of inc.requests) {
      for (const cpu of request.cpus) {
        if (inc.answered.has(cpu) || cpu === request.by) continue;
        inc.answered.add(cpu);
        insert.run(boot, inc.id, inc.sourceId, request.at.line, cpu, null, 'no_response', null, null, null, null, null, 0, null, 0,
          inc.stalled.has(cpu) ? 1 : 0, request.by, null, JSON.stringify([request.at]));
      }
    }
  }
}

function dedupe(names: string[]): string[] {
  return names.filter((n, i) => i === 0 || names[i - 1] !== n);
}

function uniqueEvidence(list: Evidence[]): Evidence[] {
  const seen = new Set<string>();
  return list.filter((e) => {
    const key = `${e.file}:${e.line}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
