// The console facts the episode builder (episodes.ts) works with: its record types, the hotplug
// state as the console tells it in line order, and the reports and readings built from several
// lines: CPUs smp_send_stop could not stop, CPUs that crashed in their own bring-up, the
// csdlock_debug=ext history of a CSD episode, what its target was doing, and the wait at release.
import { parseCpuList } from '../parsers/patterns.js';
import type { Db } from '../store/db.js';
import type { BootModel } from './replay.js';
import { targetState } from './states.js';

/** How far (lines) before a failed bring-up its attempt is cited. */
const RECENT_HOTPLUG_LINES = 20;

export interface Message {
  source_id: number;
  path: string;
  line: number;
  ts_ns: number | null;
  kind: string;
  cpu: number | null;
  target_cpu: number | null;
  seq: number | null;
  wait_ns: number | null;
  func: string | null;
  info: string | null;
  cpus: string | null;
  text: string;
}

export interface Evidence { file: string; line: number }

export interface Episode {
  origin: 'csd_debug' | 'soft_lockup';
  sourceId: number;
  waiter: number | null;
  target: number | null;
  targetCpus: string | null;
  seq: number | null;
  func: string | null;
  info: string | null;
  firstNs: number | null;
  lastNs: number | null;
  firstWaitNs: number | null;
  maxWaitNs: number | null;
  resends: number;
  status: string | null;
  unstuckNs: number | null;
  evidence: Evidence[];
  /** Each report's printk time and the wait it printed: the wait at release is the largest wait + time since. */
  waits: { ts: number | null; waitNs: number | null }[];
  /** The target's last hotplug line before the first report, when it says the target was offline. */
  targetOffline: Evidence | null;
  /** Line of the first report (the target's own NMI backtrace comes after it). */
  firstLine: number | null;
  /** csdlock_debug=ext history lines printed with the reports (5.12-6.1). */
  history: { cnt: number; src: number | null; dst: number | null; step: string }[];
}

export interface Report {
  kind: string;
  /** Reports built from several lines: where the last one is, and what each said (failed bring-ups). */
  sourceId?: number;
  lastLine?: number;
  reasons?: string[];
  severity: 'error' | 'warning' | 'info';
  ts: number | null;
  cpu: number | null;
  target: number | null;
  func: string | null;
  message: string;
  evidence: Evidence[];
}

/**
 * "SMP: failed to stop secondary CPUs 0-1": arm64 and riscv print cpu_online_mask, which still holds
 * the stopping CPU (the one that panicked); arm32 prints no list. The CPUs that did not stop are the
 * list (or the CPUs known online) less the panicking CPU: the lead for a hang (a CPU that ignores the
 * stop IPI, e.g. in the middle of hotplug).
 */
export function stopFailed(db: Db, model: BootModel, m: Message, ts: number | null, at: Evidence, hotplug: LineOrderHotplug): Report {
  const crash = db.prepare(`SELECT cpu, line FROM console_snapshots WHERE boot = ? AND source_id = ? AND line < ? AND cpu IS NOT NULL
      AND report_kind IN ('panic', 'oops', 'bug', 'warning', 'soft_lockup', 'hard_lockup') ORDER BY line DESC LIMIT 1`)
    .get(model.boot, m.source_id, m.line) as { cpu: number; line: number } | undefined;
  const panic = db.prepare(`SELECT cpu FROM console_messages WHERE source_id = ? AND line < ? AND kind = 'panic' AND cpu IS NOT NULL
      ORDER BY line DESC LIMIT 1`).get(m.source_id, m.line) as { cpu: number } | undefined;
  const panicking = m.cpu ?? panic?.cpu ?? crash?.cpu ?? null;
  const printed = m.cpus ? parseCpuList(m.cpus) : null;
  const known = printed ?? (ts !== null
    ? [...new Set([...model.universe.seen, ...hotplug.onlineNow(m.source_id)])].filter((c) => targetState(model, c, ts) === 'online')
    : hotplug.onlineNow(m.source_id));
  const stuck = known.filter((c) => c !== panicking).sort((a, b) => a - b);
  const name = stuck.length ? `CPU${stuck.join(', CPU')}` : 'its secondary CPUs';
  const offlineLines = stuck.map((c) => hotplug.offlineAt(m.source_id, c)).filter((e) => e !== null);
  const context = stuck.map((c) => {
    const off = hotplug.offlineAt(m.source_id, c);
    return off ? `CPU${c} was in hotplug (offline or failed bring-up at ${off.file}:${off.line})` : null;
  }).filter((t) => t !== null);
  return {
    kind: 'stop_failed', severity: 'warning', ts, cpu: panicking, target: stuck.length === 1 ? stuck[0] : null, func: null,
    message: `smp_send_stop could not stop ${name}${panicking !== null ? ` (CPU${panicking} panicked and sent the stop IPI)` : ''}: `
      + `${stuck.length === 1 ? 'it' : 'they'} ignored the stop IPI, the lead for the hang`
      + `${printed ? ` (the kernel printed cpu_online_mask ${m.cpus}, the panicking CPU included)` : ' (the kernel printed no list: the CPUs known online, less the panicking one)'}`
      + `${context.length ? `; ${context.join('; ')}` : ''}`,
    evidence: [...(crash && m.cpu === null ? [{ file: at.file, line: crash.line }] : []), ...offlineLines, at],
  };
}

/** A CPU that oopsed or panicked inside its own bring-up (start_secondary in its stack): it never came online. */
export function bringUpCrashes(db: Db, boot: string, reports: Report[]): Report[] {
  const rows = db.prepare(`SELECT s.cpu, s.ts_ns, s.report_kind, s.pc, s.top_frames, s.evidence FROM console_snapshots s
    WHERE s.boot = ? AND s.in_bringup = 1 AND s.report_kind IN ('oops', 'bug', 'panic') AND s.cpu IS NOT NULL ORDER BY s.snapshot_id`)
    .all(boot) as { cpu: number; ts_ns: number | null; report_kind: string; pc: string | null; top_frames: string | null; evidence: string }[];
  const seen = new Set(reports.filter((r) => r.kind === 'cpu_up_failed').map((r) => r.target));
  const out: Report[] = [];
  for (const r of rows) {
    if (seen.has(r.cpu)) continue;
    seen.add(r.cpu);
    out.push({
      kind: 'cpu_up_failed', severity: 'warning', ts: r.ts_ns, cpu: r.cpu, target: r.cpu, func: r.pc,
      message: `CPU${r.cpu} crashed (${r.report_kind}) in its own bring-up${r.pc ? ` at ${r.pc}` : ''} [${r.top_frames ?? ''}]: it never came online; any IPI or cross-call to it would go to an offline CPU`,
      evidence: JSON.parse(r.evidence) as Evidence[],
    });
  }
  return out;
}

/**
 * Hotplug as the console tells it, in line order per source: works for logs without timestamps
 * (mail transcripts), where the replayed states cannot be placed in time.
 */
export class LineOrderHotplug {
  private readonly offline = new Map<number, { cpu: number; at: Evidence }[]>();
  private readonly recent = new Map<number, { cpu: number; line: number; at: Evidence; online: boolean }[]>();

  note(m: Message, at: Evidence): void {
    if (!['cpu_offline', 'cpu_up_failed', 'cpu_online', 'cpu_dying'].includes(m.kind)) return;
    const cpus = m.cpu !== null ? [m.cpu] : parseCpuList(m.cpus ?? '') ?? [];
    const recent = this.recent.get(m.source_id) ?? [];
    const offline = this.offline.get(m.source_id) ?? [];
    for (const cpu of cpus) {
      recent.push({ cpu, line: m.line, at, online: m.kind === 'cpu_online' });
      const kept = offline.filter((o) => o.cpu !== cpu);
      if (m.kind === 'cpu_offline' || m.kind === 'cpu_up_failed') kept.push({ cpu, at });
      offline.splice(0, offline.length, ...kept);
    }
    this.recent.set(m.source_id, recent);
    this.offline.set(m.source_id, offline);
  }

  /** The line that last took `cpu` offline (or failed its bring-up) in this source, if it has not come back since. */
  offlineAt(sourceId: number, cpu: number): Evidence | null {
    return (this.offline.get(sourceId) ?? []).find((o) => o.cpu === cpu)?.at ?? null;
  }

  /** Every CPU the console showed coming online and not going offline since, in this source. */
  onlineNow(sourceId: number): number[] {
    const last = new Map<number, boolean>();
    for (const r of this.recent.get(sourceId) ?? []) last.set(r.cpu, r.online);
    return [...last].filter(([, online]) => online).map(([cpu]) => cpu).sort((a, b) => a - b);
  }

  /** The CPU that most recently went offline in this source and has not come back. */
  offlineTarget(sourceId: number): { cpu: number; at: Evidence } | null {
    const list = this.offline.get(sourceId) ?? [];
    return list.length > 0 ? list[list.length - 1] : null;
  }

  /** Hotplug lines about `cpu` in the few lines before `line` (the attempt that failed). */
  recentAbout(sourceId: number, cpu: number, line: number): Evidence[] {
    return (this.recent.get(sourceId) ?? [])
      .filter((r) => r.cpu === cpu && r.line < line && line - r.line <= RECENT_HOTPLUG_LINES).map((r) => r.at);
  }
}

/**
 * What the csdlock_debug=ext history (kernel/smp.c 5.12-6.1, csd_lock_print_extended) says about the
 * waiter's last request to the target: the steps are counted in one sequence, so a step with a higher
 * count came later. 'ipi' (waiter -> target) then no 'gotipi' on the target: the IPI never arrived
 * or the target never took it (interrupts off); 'gotipi' and 'handle' without 'hdlend': the target is
 * busy running its queue (a long callback); 'noipi': queued behind earlier work, no IPI of its own.
 */
export function readHistory(e: Episode): string | null {
  if (e.target === null || e.history.length === 0) return null;
  const later = (step: string, cnt: number) => e.history.some((h) => h.step.startsWith(step) && h.dst === e.target && h.cnt > cnt);
  const sends = e.history.filter((h) => (h.step === 'ipi' || h.step === 'noipi') && h.dst === e.target && (e.waiter === null || h.src === e.waiter))
    .sort((a, b) => a.cnt - b.cnt);
  const ipi = sends.filter((h) => h.step === 'ipi').pop();
  const last = sends[sends.length - 1];
  if (!last) return null;
  const hex = (n: number) => n.toString(16).padStart(7, '0');
  const behind = sends.some((h) => h.step === 'noipi' && (!ipi || h.cnt > ipi.cnt)) ? '; later requests were queued behind it without an IPI of their own' : '';
  if (!ipi) {
    return `the request was queued without an IPI of its own (CPU${e.target}'s queue was not empty) and CPU${e.target} has ${later('handle', last.cnt) ? '' : 'not '}handled its queue since`;
  }
  if (!later('gotipi', ipi.cnt)) {
    return `CPU${ipi.src ?? '?'} sent CPU${e.target} an IPI (cnt ${hex(ipi.cnt)}) that CPU${e.target} never took: a lost IPI, or a target with interrupts off${behind}`;
  }
  if (!later('handle', ipi.cnt)) return `CPU${e.target} took the IPI but has not started its queue${behind}`;
  if (!later('hdlend', ipi.cnt)) return `CPU${e.target} took the IPI and is still running its queue: a busy target (a long callback)`;
  return `CPU${e.target} took the IPI and ran its queue, yet the lock stayed held`;
}

export interface TargetDoing { line: number; pc: string | null; top_frames: string | null; irqs_off: number | null; idle: number; in_lock: string | null }

export function describeDoing(cpu: number, t: TargetDoing): string {
  const what = t.idle ? 'is idle' : t.in_lock ? `spins in ${t.in_lock}` : `runs ${t.pc ?? t.top_frames?.split(' < ')[0] ?? '?'}`;
  return `CPU${cpu} ${what}${t.irqs_off === 1 ? ' with interrupts off' : ''}${t.top_frames ? ` [${t.top_frames}]` : ''}`;
}

/**
 * How long the waiter waited when the lock got unstuck: each report prints the wait so far (ns since
 * the request) at its printk time, so the wait at release is that wait plus the time from the report
 * to the "got unstuck" line; the largest over the reports (with several waiters their lines are
 * printed late and out of order). Without timestamps, the longest printed wait is a lower bound.
 */
export function releasedAfterNs(e: Episode): number | null {
  let best: number | null = null;
  for (const w of e.waits) {
    if (w.waitNs === null) continue;
    const since = w.ts !== null && e.unstuckNs !== null && e.unstuckNs >= w.ts ? e.unstuckNs - w.ts : 0;
    best = Math.max(best ?? 0, w.waitNs + since);
  }
  if (best === null && e.firstNs !== null && e.unstuckNs !== null) best = e.unstuckNs - e.firstNs;
  return best;
}
