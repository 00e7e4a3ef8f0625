// Console family: CSD_LOCK_WAIT_DEBUG messages (kernel/smp.c) and the kernel's warnings about IPIs to
// offline CPUs, CPUs smp_send_stop could not stop and reschedules of offline CPUs.
import type { ParsedItem } from '../../schema/records.js';
import { consoleItem, num, OFF, SMP, SYM, type Env, type Rule } from './common.js';

// ---------------------------------------------------------------------------------------------
// CSD lock messages (kernel/smp.c CONFIG_CSD_LOCK_WAIT_DEBUG)

/** `do_nothing+0x0/0x10(0x0).` / `do_nothing (kernel/smp.c:1058)`: the function and its info argument. */
const CSD_FUNC_INFO = new RegExp(`^(${SYM})(?:${OFF})?(?:\\(([^()]*)\\))?`);
/** `handling prior scf_handler_1+0x0/0x50(0x..) request` (the function is absent in the first RFC). */
const CSD_PRIOR = new RegExp(`^handling prior(?: (${SYM})(?=\\+|\\())?`);

function csdFuncInfo(tail: string | undefined): { func: string | null; info: string | null } {
  const m = tail === undefined ? null : CSD_FUNC_INFO.exec(tail);
  return { func: m?.[1] ?? null, info: m?.[2] ?? null };
}

/** `unresponsive` / `handling this request` / `handling prior ...` -> info (+ func for prior). */
function csdStateFields(state: string): { info: string; func: string | null } {
  const prior = CSD_PRIOR.exec(state);
  if (prior) return { info: 'handling prior', func: prior[1] ?? null };
  return { info: state, func: null };
}

/** `5.001 secs` (5.10-era `%llu.%03u`) -> ns. */
function secsToNs(whole: string, millis: string): number {
  return Number.parseInt(whole, 10) * 1e9 + Number.parseInt(millis.padEnd(3, '0').slice(0, 3), 10) * 1e6;
}

/** Groups: 1 Detected|Continued, 2 seq, 3 waiter, 4 ns | 5,6 secs, 7 target, 8 func(info), 9 old `currently` state. */
function buildCsdReport(m: RegExpExecArray, env: Env): ParsedItem[] {
  const seq = num(m[2]);
  const report = consoleItem(env, m[1] === 'Detected' ? 'csd_detected' : 'csd_continued', {
    seq, cpu: num(m[3]), target_cpu: num(m[7]), ...csdFuncInfo(m[8]),
    wait_ns: m[4] !== undefined ? num(m[4]) : m[5] !== undefined ? secsToNs(m[5], m[6]!) : null,
  });
  if (m[9] === undefined) return [report];
  return [report, consoleItem(env, 'csd_state', { seq, ...csdStateFields(m[9]) })];
}


export const CSD_RULES: Rule[] = [
  // --- CSD lock debugging -------------------------------------------------------------------
  // smp: csd: Detected non-responsive CSD lock (#1) on CPU#1, waiting 2000000109 ns for CPU#02 ipi_fault_func+0x0/0x2e(0xffff88801f46be40).
  // csd: Detected non-responsive CSD lock (#1) on CPU#3, waiting 5.000 secs for CPU#55 flush_tlb_func+0x0/0xb0(0xffff8e0b3e2afbe8), currently unresponsive.
  {
    kind: 'csd_detected', header: 'non-responsive CSD lock',
    pattern: new RegExp(`${SMP}csd: (Detected|Continued) non-responsive CSD lock \\(#(\\d+)\\) on CPU#(-?\\d+)` +
      `(?:, waiting (?:(\\d+) ns|(\\d+)\\.(\\d+) secs) for CPU#(-?\\d+) (.*?)(?:, currently (.*?))?\\.?)?$`),
    build: buildCsdReport,
  },
  // smp: csd: CSD lock (#1) got unstuck on CPU#00, CPU#01 released the lock.
  // csd: CSD lock (#%d) got unstuck on CPU#%02d, CPU#%02d released the lock after all. Phew!
  {
    kind: 'csd_unstuck', header: 'got unstuck',
    pattern: new RegExp(`${SMP}csd: CSD lock \\(#(\\d+)\\) got unstuck on CPU#(-?\\d+), (?:CPU#(-?\\d+) released|the lock was released)`),
    build: (m, env) => [consoleItem(env, 'csd_unstuck', { seq: num(m[1]), cpu: num(m[2]), target_cpu: num(m[3]) })],
  },
  // smp: 	csd: CSD lock (#1) unresponsive.
  // smp:     csd: CSD lock (#1) handling this request.
  // 	csd: CSD lock (#1) handling prior scf_handler_1+0x0/0x50(0xffffa2a8813823c0) request.
  {
    kind: 'csd_state', header: 'csd: CSD lock (#',
    pattern: new RegExp(`${SMP}csd: CSD lock \\(#(\\d+)\\) (unresponsive|handling this request|handling prior .*request)\\.?$`),
    build: (m, env) => [consoleItem(env, 'csd_state', { seq: num(m[1]), ...csdStateFields(m[2]!) })],
  },
  //	csd: cnt(0000d3c): 0003->0001 ipi          (5.12-6.1 csdlock_debug=ext: the waiter's and target's
  //	csd: cnt(0000d3e): ffff->0001 gotipi        queue/IPI history; ffff = no CPU; info = the step,
  //	csd: cnt now: 0000d41                       seq = its counter, cpu = src, target_cpu = dst)
  {
    kind: 'csd_history', header: 'csd: cnt(',
    pattern: new RegExp(`${SMP}csd: cnt\\(([0-9a-f]+)\\): ([0-9a-f]{4})->([0-9a-f]{4}) (\\w+)`),
    build: (m, env) => {
      const cpu = (hex: string) => (hex === 'ffff' ? null : Number.parseInt(hex, 16));
      return [consoleItem(env, 'csd_history', { seq: Number.parseInt(m[1]!, 16), cpu: cpu(m[2]!), target_cpu: cpu(m[3]!), info: m[4]! })];
    },
  },
  // smp: csd: Re-sending CSD lock (#1) IPI from CPU#01 to CPU#02
  {
    kind: 'csd_resend', header: 'Re-sending CSD lock',
    pattern: new RegExp(`${SMP}csd: Re-sending CSD lock \\(#(\\d+)\\) IPI from CPU#(-?\\d+) to CPU#(-?\\d+)`),
    build: (m, env) => [consoleItem(env, 'csd_resend', { seq: num(m[1]), cpu: num(m[2]), target_cpu: num(m[3]) })],
  },
  // csd_lock_wait_toolong: cpu = -1        (WARN_ONCE text; the number is the csd's target CPU)
  {
    kind: 'csd_toolong_warning', header: 'csd_lock_wait_toolong: cpu = ',
    pattern: /^\s*csd_lock_wait_toolong: cpu = (-?\d+)/,
    build: (m, env) => [consoleItem(env, 'csd_toolong_warning', { target_cpu: num(m[1]), func: 'csd_lock_wait_toolong' })],
  },

  // --- IPIs to offline CPUs ----------------------------------------------------------------
  // IPI on offline CPU 3
  {
    kind: 'ipi_offline_warning', header: 'IPI on offline CPU',
    pattern: /^\s*IPI on offline CPU (\d+)/,
    build: (m, env) => [consoleItem(env, 'ipi_offline_warning', { cpu: num(m[1]) })],
  },
  // smp: IPI callback, unknown type 3, sent to offline CPU
  {
    kind: 'ipi_offline_callback', header: 'sent to offline CPU',
    pattern: new RegExp(`${SMP}IPI callback, (unknown type -?\\d+), sent to offline CPU`),
    build: (m, env) => [consoleItem(env, 'ipi_offline_callback', { info: m[1]!, cpu: env.ctx.callerCpu })],
  },
  // smp: IPI callback nohz_csd_func+0x0/0x30 sent to offline CPU     (older kernels: no `smp: `)
  {
    kind: 'ipi_offline_callback', header: 'sent to offline CPU',
    pattern: new RegExp(`${SMP}IPI callback (${SYM})\\S* sent to offline CPU`),
    build: (m, env) => [consoleItem(env, 'ipi_offline_callback', { func: m[1]!, info: 'callback', cpu: env.ctx.callerCpu })],
  },
  // smp: IPI task-wakeup sent to offline CPU
  {
    kind: 'ipi_offline_callback', header: 'sent to offline CPU',
    pattern: new RegExp(`${SMP}IPI task-wakeup sent to offline CPU`),
    build: (_m, env) => [consoleItem(env, 'ipi_offline_callback', { info: 'task-wakeup', cpu: env.ctx.callerCpu })],
  },
  // SMP: failed to stop secondary CPUs 1-3          (arm64, riscv smp_send_stop: the stop IPI was not
  // SMP: failed to stop secondary CPUs               handled within its timeout; arm32 names none)
  {
    kind: 'stop_failed', header: 'failed to stop secondary CPUs',
    pattern: /^\s*(?:SMP: )?failed to stop secondary CPUs\s*([\d,-]*)/,
    build: (m, env) => [consoleItem(env, 'stop_failed', { cpus: m[1] ? m[1] : null, cpu: env.ctx.callerCpu })],
  },
  // sched: Unexpected reschedule of offline CPU#2!
  {
    kind: 'resched_offline', header: 'Unexpected reschedule of offline CPU#',
    pattern: /^\s*(?:sched: )?Unexpected reschedule of offline CPU#(\d+)/,
    build: (m, env) => [consoleItem(env, 'resched_offline', { cpu: num(m[1]) })],
  },

];
