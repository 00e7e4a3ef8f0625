// What the kernel itself reported on the console, grouped into episodes:
// - CSD_LOCK_WAIT_DEBUG (kernel/smp.c): "Detected"/"Continued non-responsive CSD lock (#N)", the
//   target's status, "Re-sending", "got unstuck". One episode per lock number; 'late' when it got
//   unstuck, else 'leak'.
// - A soft lockup whose stack is in a cross-call (smp_call_function*, csd_lock_wait, on_each_cpu...)
//   on a kernel without CSD debugging: an episode of origin 'soft_lockup', its targets taken from the
//   NMI backtrace request that follows ("Sending NMI from CPU 2 to CPUs 0-1,3:").
// - Warnings about IPIs to offline CPUs, re-sends to CPUs that are offline, and WARNINGs in the
//   cross-call code (console_reports).
import { parseCpuList } from '../parsers/patterns.js';
import type { Db } from '../store/db.js';
import type { BootModel } from './replay.js';
import { targetState } from './replay.js';

interface Message {
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

interface Evidence { file: string; line: number }

interface Episode {
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
}

interface Report {
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

/** Functions whose presence in a lockup's stack means the CPU is waiting in a cross-call. */
const CROSS_CALL_FRAME = /^(?:__)?(?:smp_call_function\w*|on_each_cpu\w*|csd_lock_wait\w*|generic_exec_single|kick_all_cpus_sync|smp_call_on_cpu\w*)$/;
/** Where a WARNING about cross-calls comes from. */
const CROSS_CALL_WARNING = /^(?:kernel\/smp\.c|kernel\/irq_work\.c|arch\/\w+\/kernel\/smp\.c|arch\/x86\/kernel\/apic\/ipi\.c)/;
/** Where a reschedule IPI is sent (x86 native_smp_send_reschedule WARNs for an offline target). */
const RESCHED_FRAME = /^(?:native_|arch_|xen_)?smp_send_reschedule$/;
/** How far (lines) a lockup's own stack may run before another CPU's report starts. */
const STACK_LINES = 250;
/** How far (lines) after a WARNING its RIP / pc line may come. */
const WARNING_FRAME_LINES = 30;
/** How far (lines) before a failed bring-up its attempt is cited. */
const RECENT_HOTPLUG_LINES = 20;

export function writeEpisodes(db: Db, model: BootModel): void {
  const messages = db.prepare(`SELECT c.source_id, s.path, c.line, c.ts_ns, c.kind, c.cpu, c.target_cpu, c.seq,
      c.wait_ns, c.func, c.info, c.cpus, c.text
    FROM console_messages c JOIN sources s USING (source_id)
    WHERE s.boot = ? AND c.kind NOT IN ('text', 'cmdline') ORDER BY c.source_id, c.line`).all(model.boot) as Message[];
  const toRef = (ts: number | null) => (ts === null ? null : ts + (model.clocks.ref === 'ftrace' ? model.clocks.printkOffset : 0));
  const episodes: Episode[] = [];
  const reports: Report[] = [];
  const bySeq = new Map<string, Episode>();
  let lockup: { episode: Episode; line: number; frames: string[] } | null = null;
  const resends = new Map<string, Report>();
  const hotplug = new LineOrderHotplug();
  let warning: { report: Report; line: number; sourceId: number } | null = null;

  const closeLockup = () => {
    if (lockup && lockup.frames.some((f) => CROSS_CALL_FRAME.test(f))) {
      const own = episodes.find((e) => e.origin === 'csd_debug' && e.waiter === lockup!.episode.waiter && e.sourceId === lockup!.episode.sourceId);
      // A lockup in a cross-call without CSD-lock messages is the cross-call-wait detector's
      // (console_snapshots); here it only adds evidence to the CSD episode of the same waiter.
      if (own) own.evidence.push(...lockup.episode.evidence);
    }
    lockup = null;
  };

  for (const m of messages) {
    const at: Evidence = { file: m.path, line: m.line };
    const ts = toRef(m.ts_ns);
    hotplug.note(m, at);
    if (warning && (warning.sourceId !== m.source_id || m.line - warning.line > WARNING_FRAME_LINES)) warning = null;
    if (lockup && (m.source_id !== lockup.episode.sourceId || m.line - lockup.line > STACK_LINES
      || ['soft_lockup', 'nmi_backtrace', 'panic', 'dump_begin', 'rcu_stall', 'hung_task'].includes(m.kind))) closeLockup();
    switch (m.kind) {
      case 'csd_detected':
      case 'csd_continued': {
        const episode = csdEpisode(bySeq, episodes, m);
        episode.waiter ??= m.cpu;
        if (m.target_cpu !== null && m.target_cpu >= 0) episode.target ??= m.target_cpu;
        episode.func ??= m.func;
        episode.info ??= m.info;
        episode.firstNs ??= ts;
        episode.firstWaitNs ??= m.wait_ns;
        episode.lastNs = ts;
        episode.maxWaitNs = Math.max(episode.maxWaitNs ?? 0, m.wait_ns ?? 0);
        episode.waits.push({ ts, waitNs: m.wait_ns });
        episode.firstLine ??= m.line;
        if (episode.target !== null && episode.targetOffline === null) episode.targetOffline = hotplug.offlineAt(m.source_id, episode.target);
        episode.evidence.push(at);
        break;
      }
      case 'csd_state': {
        const episode = csdEpisode(bySeq, episodes, m);
        episode.status = m.info;
        episode.evidence.push(at);
        break;
      }
      case 'csd_resend': {
        const episode = csdEpisode(bySeq, episodes, m);
        episode.resends++;
        episode.evidence.push(at);
        if (m.target_cpu !== null && ts !== null) noteResendToOffline(model, resends, m.cpu, m.target_cpu, ts, at, 'Re-sent CSD IPI');
        break;
      }
      case 'csd_unstuck': {
        const episode = csdEpisode(bySeq, episodes, m);
        episode.unstuckNs = ts;
        episode.evidence.push(at);
        break;
      }
      case 'soft_lockup':
        lockup = {
          line: m.line, frames: [],
          episode: {
            origin: 'soft_lockup', sourceId: m.source_id, waiter: m.cpu, target: null, targetCpus: null, seq: null,
            func: null, info: m.info, firstNs: ts, lastNs: ts, firstWaitNs: m.wait_ns, maxWaitNs: m.wait_ns, resends: 0,
            status: null, unstuckNs: null, evidence: [at], waits: [], targetOffline: null, firstLine: m.line,
          },
        };
        break;
      case 'frame':
        if (lockup && m.func) lockup.frames.push(m.func);
        if (warning && m.func && warning.report.func === null && (m.info === 'rip' || m.info === 'pc' || m.info === 'epc')) {
          warning.report.func = m.func;
          warning.report.evidence.push(at);
          warning.report.message = warning.report.message.replace('a cross-call', m.func);
        }
        break;
      case 'nmi_backtrace_request': {
        const targets = parseCpuList(m.cpus ?? '') ?? [];
        const pending = lockup && lockup.episode.waiter === m.cpu ? lockup.episode : undefined;
        const waiting = pending ?? [...episodes].reverse().find((e) => e.waiter === m.cpu && e.sourceId === m.source_id && e.unstuckNs === null);
        if (waiting) {
          waiting.evidence.push(at);
          if (waiting.targetCpus === null) waiting.targetCpus = m.cpus;
          if (waiting.target === null && targets.length === 1) waiting.target = targets[0];
        }
        for (const target of targets) {
          if (ts !== null) noteResendToOffline(model, resends, m.cpu, target, ts, at, 'NMI backtrace request');
        }
        break;
      }
      case 'ipi_offline_warning':
      case 'resched_offline':
        reports.push({
          // A reschedule IPI to an offline CPU is dropped by the sender (x86 returns after the WARN):
          // no cross-call waits on it, so a warning; its WARNING line names the sender (below).
          sourceId: m.source_id, lastLine: m.line,
          kind: m.kind, severity: m.kind === 'resched_offline' ? 'warning' : 'error', ts, cpu: null, target: m.cpu, func: null,
          message: m.kind === 'ipi_offline_warning'
            ? `the kernel warned: IPI on offline CPU ${m.cpu} (callbacks were queued to it while it was offline)`
            : `the kernel warned: reschedule IPI to offline CPU ${m.cpu}`,
          evidence: [at],
        });
        break;
      case 'ipi_offline_callback': {
        // __flush_smp_call_function_queue prints one line per queued callback after its WARN's whole
        // report (WARNING line, registers, stack, end trace): they belong to the latest "IPI on offline CPU".
        const last = [...reports].reverse().find((r) => r.kind === 'ipi_offline_warning' && r.sourceId === m.source_id);
        if (last) {
          last.evidence.push(at);
          last.func ??= m.func;
          last.lastLine = m.line;
        }
        break;
      }
      case 'warning': {
        // WARN(1, "IPI on offline CPU %d") prints its message, then this WARNING line: one report, not two.
        const last = reports[reports.length - 1];
        if (last?.kind === 'ipi_offline_warning' && last.sourceId === m.source_id && m.line - (last.lastLine ?? 0) <= 3) {
          last.evidence.push(at);
          last.cpu ??= m.cpu;
          last.lastLine = m.line;
          break;
        }
        if (RESCHED_FRAME.test(m.func ?? '')) {
          // One finding per reschedule IPI: "Unexpected reschedule of offline CPU#N" is the WARN's own
          // message, printed just before its "WARNING: CPU: S" line, which names the sender.
          const message = [...reports].reverse().find((r) => r.kind === 'resched_offline' && r.sourceId === m.source_id
            && m.line - (r.lastLine ?? 0) <= 3 && r.cpu === null);
          if (message) {
            message.cpu = m.cpu;
            message.func = m.func;
            message.evidence.push(at);
            message.message = `CPU${m.cpu} sent a reschedule IPI to offline CPU${message.target} (${m.func}, ${m.info}): the kernel warned and dropped it; not a cross-call, nothing waits on it`;
          } else {
            const offline = hotplug.offlineTarget(m.source_id);
            reports.push({
              kind: 'resched_offline', severity: 'warning', ts, cpu: m.cpu, target: offline?.cpu ?? null, func: m.func,
              message: `CPU${m.cpu} warned in ${m.func} (${m.info}): a reschedule IPI to a CPU not online${offline ? ` (CPU${offline.cpu} went offline last)` : ''}; not a cross-call`,
              evidence: offline ? [offline.at, at] : [at],
            });
          }
        } else if (CROSS_CALL_WARNING.test(m.info ?? '')) {
          const report = crossCallWarning(m, ts, at, hotplug.offlineTarget(m.source_id));
          reports.push(report);
          warning = { report, line: m.line, sourceId: m.source_id };
        }
        break;
      }
      case 'stop_failed': {
        reports.push(stopFailed(db, model, m, ts, at, hotplug));
        break;
      }
      case 'cpu_up_failed': {
        // One failed bring-up prints several lines ("failed to come online", "failed in unknown state"):
        // one report per attempt.
        const previous = [...reports].reverse().find((r) => r.kind === 'cpu_up_failed' && r.target === m.cpu);
        if (previous && previous.sourceId === m.source_id && m.line - (previous.lastLine ?? 0) <= 3
          && (ts === null || previous.ts === null || ts - previous.ts < 1_000_000_000)) {
          previous.evidence.push(at);
          previous.reasons!.push(m.info ?? m.text.trim());
          previous.message = upFailedMessage(m.cpu, previous.reasons!);
          previous.lastLine = m.line;
          break;
        }
        if (m.cpu !== null) {
          const reasons = [m.info ?? m.text.trim()];
          reports.push({
            sourceId: m.source_id, lastLine: m.line, reasons,
            kind: 'cpu_up_failed', severity: 'warning', ts, cpu: m.cpu, target: m.cpu, func: null,
            message: upFailedMessage(m.cpu, reasons),
            evidence: [...hotplug.recentAbout(m.source_id, m.cpu, m.line), at],
          });
        }
        break;
      }
      case 'panic':
      case 'bug':
      case 'oops':
        if (!(m.info ?? '').startsWith('end: ')) {
          reports.push({ kind: m.kind, severity: 'info', ts, cpu: m.cpu, target: null, func: m.func,
            message: `${m.kind === 'bug' ? 'kernel BUG' : m.kind}: ${m.text.trim()}`, evidence: [at] });
        }
        break;
    }
  }
  closeLockup();
  reports.push(...resends.values());
  reports.push(...bringUpCrashes(db, model.boot, reports));
  storeEpisodes(db, model, episodes);
  storeReports(db, model.boot, reports);
}

/**
 * "SMP: failed to stop secondary CPUs 0-1": arm64 and riscv print cpu_online_mask, which still holds
 * the stopping CPU (the one that panicked); arm32 prints no list. The CPUs that did not stop are the
 * list (or the CPUs known online) less the panicking CPU: the lead for a hang (a CPU that ignores the
 * stop IPI, e.g. in the middle of hotplug).
 */
function stopFailed(db: Db, model: BootModel, m: Message, ts: number | null, at: Evidence, hotplug: LineOrderHotplug): Report {
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
function bringUpCrashes(db: Db, boot: string, reports: Report[]): Report[] {
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

function upFailedMessage(cpu: number | null, reasons: string[]): string {
  return `CPU${cpu} failed to come online (${reasons.join('; ')}): any IPI or cross-call to it would go to an offline CPU`;
}

function csdEpisode(bySeq: Map<string, Episode>, episodes: Episode[], m: Message): Episode {
  const key = `${m.source_id}:${m.seq}`;
  let episode = bySeq.get(key);
  if (!episode) {
    episode = {
      origin: 'csd_debug', sourceId: m.source_id, waiter: null, target: null, targetCpus: null, seq: m.seq, func: null,
      info: null, firstNs: null, lastNs: null, firstWaitNs: null, maxWaitNs: null, resends: 0, status: null,
      unstuckNs: null, evidence: [], waits: [], targetOffline: null, firstLine: null,
    };
    bySeq.set(key, episode);
    episodes.push(episode);
  }
  return episode;
}

/** The kernel's own recovery traffic (re-sent IPI, NMI backtrace) to a CPU that cannot answer. */
function noteResendToOffline(model: BootModel, resends: Map<string, Report>, from: number | null, to: number, ts: number,
  at: Evidence, what: string): void {
  const state = targetState(model, to, ts);
  if (state !== 'offline' && state !== 'nonexistent') return;
  const key = `${from}>${to}`;
  const report = resends.get(key);
  if (report) {
    report.evidence.push(at);
    return;
  }
  resends.set(key, {
    kind: 'resend_to_offline', severity: 'warning', ts, cpu: from, target: to, func: null,
    message: `CSD lock debugging on CPU${from} sent IPIs (${what}) to CPU${to}, which is ${state}: they can never be answered`,
    evidence: [at],
  });
}

/** A WARNING in the cross-call code; a CPU that went offline (or failed to come up) just before is the likely target. */
function crossCallWarning(m: Message, ts: number | null, at: Evidence, offline: { cpu: number; at: Evidence } | null): Report {
  const where = `${m.func ?? 'a cross-call'} (${m.info})`;
  return {
    kind: 'cross_call_warning', severity: 'warning', ts, cpu: m.cpu, target: offline?.cpu ?? null, func: m.func,
    message: offline === null
      ? `the kernel warned in ${where} on CPU${m.cpu}`
      : `the kernel warned in ${where} on CPU${m.cpu} while CPU${offline.cpu} was offline: likely a cross-call to offline CPU${offline.cpu}`,
    evidence: offline === null ? [at] : [offline.at, at],
  };
}

/**
 * Hotplug as the console tells it, in line order per source: works for logs without timestamps
 * (mail transcripts), where the replayed states cannot be placed in time.
 */
class LineOrderHotplug {
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

function storeEpisodes(db: Db, model: BootModel, episodes: Episode[]): void {
  const insert = db.prepare(`INSERT INTO csd_episodes (boot, origin, waiter_cpu, target_cpu, target_cpus, seq, func, info,
    first_ns, last_ns, max_wait_ns, resends, target_status, classification, released_after_ns, csd_use_id, evidence,
    target_offline_at, target_doing)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  // The target's own NMI backtrace, printed after the waiter's report ("Sending NMI from CPU 0 to CPUs 1:").
  const doing = db.prepare(`SELECT line, pc, top_frames, irqs_off, idle, in_lock FROM console_snapshots WHERE boot = ? AND source_id = ?
      AND cpu = ? AND report_kind IN ('nmi_backtrace', 'task_dump') AND line > ? ORDER BY line LIMIT 1`);
  const findUse = db.prepare(`SELECT csd_use_id FROM csd_lifecycle WHERE boot = ? AND target_cpu = ? AND func = ?
    AND (src_cpu = ? OR ? IS NULL) AND queued_ns <= ? ORDER BY queued_ns DESC LIMIT 1`);
  for (const e of episodes) {
    const late = e.unstuckNs !== null;
    const releasedAfter = late ? releasedAfterNs(e) : null;
    const target = e.target !== null && e.firstLine !== null
      ? doing.get(model.boot, e.sourceId, e.target, e.firstLine) as TargetDoing | undefined : undefined;
    if (target) e.evidence.push({ file: e.evidence[0]?.file ?? '', line: target.line });
    const use = e.target !== null && e.func !== null && e.firstNs !== null
      ? findUse.get(model.boot, e.target, e.func, e.waiter, e.waiter, e.firstNs) as { csd_use_id: number } | undefined : undefined;
    insert.run(model.boot, e.origin, e.waiter, e.target, e.targetCpus ?? (e.target === null ? null : String(e.target)), e.seq,
      e.func, e.info, e.firstNs, e.lastNs, e.maxWaitNs, e.resends, e.status, late ? 'late' : 'leak', releasedAfter,
      use?.csd_use_id ?? null, JSON.stringify(e.evidence),
      e.targetOffline ? `${e.targetOffline.file}:${e.targetOffline.line}` : null, target ? describeDoing(e.target!, target) : null);
  }
}

interface TargetDoing { line: number; pc: string | null; top_frames: string | null; irqs_off: number | null; idle: number; in_lock: string | null }

function describeDoing(cpu: number, t: TargetDoing): string {
  const what = t.idle ? 'is idle' : t.in_lock ? `spins in ${t.in_lock}` : `runs ${t.pc ?? t.top_frames?.split(' < ')[0] ?? '?'}`;
  return `CPU${cpu} ${what}${t.irqs_off === 1 ? ' with interrupts off' : ''}${t.top_frames ? ` [${t.top_frames}]` : ''}`;
}

/**
 * How long the waiter waited when the lock got unstuck: each report prints the wait so far (ns since
 * the request) at its printk time, so the wait at release is that wait plus the time from the report
 * to the "got unstuck" line; the largest over the reports (with several waiters their lines are
 * printed late and out of order). Without timestamps, the longest printed wait is a lower bound.
 */
function releasedAfterNs(e: Episode): number | null {
  let best: number | null = null;
  for (const w of e.waits) {
    if (w.waitNs === null) continue;
    const since = w.ts !== null && e.unstuckNs !== null && e.unstuckNs >= w.ts ? e.unstuckNs - w.ts : 0;
    best = Math.max(best ?? 0, w.waitNs + since);
  }
  if (best === null && e.firstNs !== null && e.unstuckNs !== null) best = e.unstuckNs - e.firstNs;
  return best;
}

function storeReports(db: Db, boot: string, reports: Report[]): void {
  const insert = db.prepare(`INSERT INTO console_reports (boot, kind, severity, ts_ns, cpu, target_cpu, func, message, evidence)
    VALUES (?,?,?,?,?,?,?,?,?)`);
  for (const r of reports) insert.run(boot, r.kind, r.severity, r.ts, r.cpu, r.target, r.func, r.message, JSON.stringify(r.evidence));
}
