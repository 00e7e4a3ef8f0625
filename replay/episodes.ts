// What the kernel itself reported on the console, grouped into episodes:
// - CSD_LOCK_WAIT_DEBUG (kernel/smp.c): "Detected"/"Continued non-responsive CSD lock (#N)", the
//   target's status, "Re-sending", "got unstuck". One episode per lock number; 'late' when it got
//   unstuck, else 'leak'.
//   Each episode knows whether its target had gone offline before (the line), what the target's own
//   NMI backtrace shows, and what the csdlock_debug=ext history says (console-facts.ts).
// - A soft lockup whose stack is in a cross-call adds its lines to the CSD episode of the same
//   waiter; without one it is the cross-call-wait detector's (console-snapshots.ts).
// - Warnings about IPIs to offline CPUs, reschedules of offline CPUs, re-sends to CPUs that are
//   offline, WARNINGs in the cross-call code, CPUs smp_send_stop could not stop, failed bring-ups
//   (console_reports).
import { parseCpuList } from '../parsers/patterns.js';
import type { Db } from '../store/db.js';
import {
  bringUpCrashes, describeDoing, LineOrderHotplug, readHistory, releasedAfterNs, stopFailed,
  type Episode, type Evidence, type Message, type Report, type TargetDoing,
} from './console-facts.js';
import type { BootModel } from './replay.js';
import { targetState } from './states.js';

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
  /** Sources whose kernel has panicked: smp_send_stop takes the other CPUs offline then. */
  const panicked = new Set<number>();
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
      case 'csd_history': {
        // Printed right after the report of the episode it belongs to.
        const episode = [...episodes].reverse().find((e) => e.origin === 'csd_debug' && e.sourceId === m.source_id);
        if (episode && m.seq !== null && m.info !== null) {
          episode.history.push({ cnt: m.seq, src: m.cpu, dst: m.target_cpu, step: m.info });
          if (episode.history.length === 1) episode.evidence.push(at);
        }
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
            status: null, unstuckNs: null, evidence: [at], waits: [], targetOffline: null, firstLine: m.line, history: [],
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
          // The same WARN's report repeats its WARNING line at its end (4.x): no second finding.
          const same = [...reports].reverse().find((r) => r.kind === 'resched_offline' && r.sourceId === m.source_id
            && r.cpu === m.cpu && r.func === m.func && m.line - (r.lastLine ?? 0) <= STACK_LINES);
          if (message) {
            message.cpu = m.cpu;
            message.func = m.func;
            message.evidence.push(at);
            message.lastLine = m.line;
            message.message = `CPU${m.cpu} sent a reschedule IPI to offline CPU${message.target} (${m.func}, ${m.info}): the kernel warned and dropped it; not a cross-call, nothing waits on it`;
            if (panicked.has(m.source_id)) {
              // After a panic smp_send_stop has taken the other CPUs offline on purpose (later kernels
              // no longer warn then): context, not a fault.
              message.severity = 'info';
              message.message += '; after the kernel panicked, when smp_send_stop had taken the other CPUs offline';
            }
          } else if (same) {
            same.lastLine = m.line;
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
        if (m.kind === 'panic') panicked.add(m.source_id);
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
      unstuckNs: null, evidence: [], waits: [], targetOffline: null, firstLine: null, history: [],
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

function storeEpisodes(db: Db, model: BootModel, episodes: Episode[]): void {
  const insert = db.prepare(`INSERT INTO csd_episodes (boot, origin, waiter_cpu, target_cpu, target_cpus, seq, func, info,
    first_ns, last_ns, max_wait_ns, resends, target_status, classification, released_after_ns, csd_use_id, evidence,
    target_offline_at, target_doing, ipi_history)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
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
      e.targetOffline ? `${e.targetOffline.file}:${e.targetOffline.line}` : null, target ? describeDoing(e.target!, target) : null,
      readHistory(e));
  }
}

function storeReports(db: Db, boot: string, reports: Report[]): void {
  const insert = db.prepare(`INSERT INTO console_reports (boot, kind, severity, ts_ns, cpu, target_cpu, func, message, evidence)
    VALUES (?,?,?,?,?,?,?,?,?)`);
  for (const r of reports) insert.run(boot, r.kind, r.severity, r.ts, r.cpu, r.target, r.func, r.message, JSON.stringify(r.evidence));
}
