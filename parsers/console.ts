// Kernel console messages (formats.md section D): CSD-lock debugging, NMI backtraces, CPU hotplug,
// CPU-count facts, lockups/stalls/panics, IPIs to offline CPUs and stack frames.
//
// The reader has already removed the console prefix (printk stamp, PRINTK_CALLER field, syslog
// prefix) and hands us the body with its leading whitespace intact. Each line is matched against
// RULES, a syzkaller-style table ordered specific -> generic; every rule has a cheap substring
// `header` that is tested before its regex. Stack frames are handled first, by a small state machine
// (see parseTrace): a frame is only typed when the line clearly belongs to a stack trace.
//
// Decisions a reader should know:
// - `text` of every record is the body exactly as given. Matching ignores trailing whitespace and
//   the LAVA-JSON residue `"}` that LKFT logs carry at the end of each line.
// - Lines that only yield CPU facts ("smp: Brought up 1 node, 4 CPUs") also yield a console record
//   of kind 'text', so that the line is still in console_messages (the reader must not add one).
// - Messages that name no CPU (panic, oops, BUG, hung task, RCU stall header, IPI callback) take
//   `cpu` from the PRINTK_CALLER `[ C1]` field when there is one ("the CPU that printed it").
// - The boot-time x86 line `.... node  #0, CPUs:      #1 #2 #3` yields ONE cpu_online record with
//   cpus='1-3' and cpu NULL: the CPUs listed are being brought up, which may still fail ("CPU1
//   failed to report alive state" follows in that case). A wrapped continuation line `  #5  #6  #7`
//   (after an interleaved message) is read the same way until "smp: Brought up".
// - `Kernel panic - not syncing: R` is kind 'panic' with info R; the closing
//   `---[ end Kernel panic - not syncing: R ]---` is also 'panic', with info 'end: R'.
// - Hotplug failures: bring-up failures are 'cpu_up_failed' (info = the reason as printed);
//   offline-path failures ("didn't die", "failed to report dead state", "may not have shut down
//   cleanly: N") are 'cpu_offline' with info 'unclean: <reason>', because the CPU has left
//   cpu_online_mask at that point even though it may still be running.
// - The old single-line CSD report (`..., currently <state>.`) yields csd_detected/csd_continued
//   plus a csd_state record, like the two lines that current kernels print.
// - RCU stall per-CPU lines (`rcu: \t1-....: (2099 ticks this GP) ...`) are 'rcu_stall' with
//   cpu = the stalled CPU and info 'stalled cpu'; the headers have info '<flavor> <what>'.
// - Frames: info 'rip' (x86 RIP/EIP), 'pc' (arm64 pc, riscv epc, arm32 "PC is at"), 'lr' (arm64 lr,
//   riscv ra, arm32 "LR is at") or 'frame'; func is the symbol without offset; cpu is the CPU of the
//   trace when a preceding line named it ("CPU: 1 PID: ...", "NMI backtrace for cpu 1", a soft
//   lockup or WARNING header). Frames without a symbol (` ? 0xffffffffc09a8000`, user-space
//   `RIP: 0033:0x45cb29`) keep the trace open but yield nothing.
// - arm32 `CPU1: thread -1, cpu 1, socket 0, mpidr 80000001` (printed once per CPU at its first
//   bring-up) and `Booting Linux on physical CPU 0x...` (boot CPU, logical 0) are cpu_online with
//   info = MPIDR ('0x80000001' raw for arm32; arm64 prints the affinity bits only, e.g. '0x1').
import type { ConsoleKind, ConsoleRecord, CpuFactKind, ParsedItem } from '../schema/records.js';
import { blankConsole } from '../schema/vocabulary.js';
import type { LineContext, LineParser } from './types.js';

// ---------------------------------------------------------------------------------------------
// Per-source state (kept in ctx.state.console only)

interface ConsoleState {
  /** Inside a stack trace / register dump: frame lines are typed. */
  inTrace: boolean;
  /** CPU the current or next trace belongs to, from a header line. */
  traceCpu: number | null;
  /** Between `.... node  #0, CPUs:` and `smp: Brought up`: `#5 #6` lines continue the list. */
  smpBoot: boolean;
}

function consoleState(ctx: LineContext): ConsoleState {
  const s = ctx.state.console as Partial<ConsoleState>;
  s.inTrace ??= false;
  s.traceCpu ??= null;
  s.smpBoot ??= false;
  return s as ConsoleState;
}

function endTrace(st: ConsoleState): void {
  if (st.inTrace) st.traceCpu = null;
  st.inTrace = false;
}

/** What a rule's build function sees. */
interface Env {
  body: string;
  ctx: LineContext;
  st: ConsoleState;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** A kernel symbol as %ps/%pS prints it (letters, digits, '_', '.', '$'; not starting with a digit). */
const SYM = String.raw`[A-Za-z_.$][\w.$]*`;
/** `+0x3c4/0x3c8` after a symbol (%pS). */
const OFF = String.raw`\+0x[0-9a-f]+\/0x[0-9a-f]+`;
/** Optional `smp: ` pr_fmt prefix; the tab after it may be rendered as spaces. */
const SMP = String.raw`^\s*(?:smp:\s+)?`;

function num(s: string | undefined): number | null {
  if (s === undefined) return null;
  const n = Number.parseInt(s, 10);
  return Number.isFinite(n) ? n : null;
}

/** '0x0000000001' -> '0x1'. */
function hexNoPad(hex: string): string {
  const h = hex.replace(/^0x/i, '').toLowerCase().replace(/^0+(?=[0-9a-f])/, '');
  return `0x${h}`;
}

/** [1,2,3,5] -> '1-3,5'. */
function cpuRanges(cpus: number[]): string | null {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const parts: string[] = [];
  let start = sorted[0]!;
  let prev = start;
  for (const c of [...sorted.slice(1), Number.NaN]) {
    if (c === prev + 1) { prev = c; continue; }
    parts.push(start === prev ? `${start}` : `${start}-${prev}`);
    start = c;
    prev = c;
  }
  return parts.join(',');
}

function consoleItem(env: Env, kind: ConsoleKind, fields: Partial<ConsoleRecord> = {}): ParsedItem {
  const message: ConsoleRecord = { ...blankConsole(kind, env.body, env.ctx.consoleTsNs), ...fields };
  return { type: 'console', message };
}

function factItem(env: Env, fact: CpuFactKind, count: number | null): ParsedItem {
  return { type: 'cpu_fact', fact: { fact, count, cpus: null, text: env.body } };
}

/** A line that only carries facts is still a console line: keep it as 'text' too. */
function factsWithText(env: Env, facts: [CpuFactKind, number | null][]): ParsedItem[] {
  return [consoleItem(env, 'text'), ...facts.map(([f, n]) => factItem(env, f, n))];
}

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

// ---------------------------------------------------------------------------------------------
// The rule table

interface Rule {
  /** What the rule yields: a console kind, 'cpu_fact' (facts + 'text'), or 'context' (state only). */
  kind: ConsoleKind | 'cpu_fact' | 'context';
  /** Cheap substring(s) tested before the regex (any one of them). */
  header: string | readonly string[];
  pattern: RegExp;
  build(m: RegExpExecArray, env: Env): ParsedItem[] | undefined;
}

const RULES: Rule[] = [
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
    build: (m, env) => [consoleItem(env, 'stop_failed', { cpus: m[1] ? m[1] : null })],
  },
  // sched: Unexpected reschedule of offline CPU#2!
  {
    kind: 'resched_offline', header: 'Unexpected reschedule of offline CPU#',
    pattern: /^\s*(?:sched: )?Unexpected reschedule of offline CPU#(\d+)/,
    build: (m, env) => [consoleItem(env, 'resched_offline', { cpu: num(m[1]) })],
  },

  // --- NMI backtraces ----------------------------------------------------------------------
  // Sending NMI from CPU 2 to CPUs 0-1,3:
  {
    kind: 'nmi_backtrace_request', header: 'Sending NMI from CPU ',
    pattern: /^\s*Sending NMI from CPU (\d+) to CPUs ([\d,-]+):?/,
    build: (m, env) => [consoleItem(env, 'nmi_backtrace_request', { cpu: num(m[1]), cpus: m[2]! })],
  },
  // NMI backtrace for cpu 1
  // NMI backtrace for cpu 1 skipped: idling at intel_idle+0x59/0xa0
  {
    kind: 'nmi_backtrace', header: 'NMI backtrace for cpu ',
    pattern: /^\s*NMI backtrace for cpu (\d+)(?: (skipped: .*))?/,
    build: (m, env) => {
      env.st.traceCpu = num(m[1]);
      return [consoleItem(env, 'nmi_backtrace', { cpu: num(m[1]), info: m[2] ?? null })];
    },
  },

  // --- Lockups, stalls, hangs, panics ------------------------------------------------------
  // Kernel panic - not syncing: softlockup: hung tasks
  {
    kind: 'panic', header: 'Kernel panic - not syncing',
    pattern: /^\s*Kernel panic - not syncing:\s?(.*)$/,
    build: (m, env) => [consoleItem(env, 'panic', { info: m[1]!.trim(), cpu: env.ctx.callerCpu })],
  },
  // ---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---
  {
    kind: 'panic', header: '---[ end Kernel panic',
    pattern: /^\s*---\[ end Kernel panic - not syncing:\s?(.*?)(?:\s*\]---)?$/,
    build: (m, env) => [consoleItem(env, 'panic', { info: `end: ${m[1]!.trim()}`, cpu: env.ctx.callerCpu })],
  },
  // watchdog: BUG: soft lockup - CPU#1 stuck for 59s! [init:1]
  {
    kind: 'soft_lockup', header: 'soft lockup - CPU#',
    pattern: /^\s*(?:(?:NMI )?watchdog: )?BUG: soft lockup - CPU#(\d+) stuck for (\d+)s!(?: \[(.*)\])?/,
    build: (m, env) => {
      env.st.traceCpu = num(m[1]);
      return [consoleItem(env, 'soft_lockup', { cpu: num(m[1]), wait_ns: num(m[2])! * 1e9, info: m[3] ?? null })];
    },
  },
  // watchdog: Watchdog detected hard LOCKUP on cpu 3
  // watchdog: CPU3: Watchdog detected hard LOCKUP on cpu 3        (6.x buddy detector)
  // NMI watchdog: Watchdog detected hard LOCKUP on cpu 0
  {
    kind: 'hard_lockup', header: 'Watchdog detected hard LOCKUP on cpu',
    pattern: /^\s*(?:(?:NMI )?watchdog: )?(?:CPU\d+: )?Watchdog detected hard LOCKUP on cpu (\d+)/,
    build: (m, env) => [consoleItem(env, 'hard_lockup', { cpu: num(m[1]) })],
  },
  // rcu: INFO: rcu_sched self-detected stall on CPU
  // rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
  // INFO: rcu_sched detected stalls on CPUs/tasks: { 1} (detected by 0, t=2102 jiffies, g=883, c=882, q=7)
  // rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 3-.... } 21004 jiffies s: 241 root: 0x8/.
  {
    kind: 'rcu_stall', header: 'INFO: ',
    pattern: /^\s*(?:rcu: )?INFO: (\w+) (self-detected stall|detected stalls|detected expedited stalls) on CPU(?:s\/tasks:)?\s*(?:\{([^}]*)\})?/,
    build: (m, env) => {
      const cpus = (m[3] ?? '').split(/\s+/).map((t) => /^(\d+)(?:-|$)/.exec(t)?.[1]).filter((t) => t !== undefined);
      return [consoleItem(env, 'rcu_stall', {
        info: `${m[1]} ${m[2]}`, cpus: cpuRanges(cpus.map(Number)), cpu: env.ctx.callerCpu,
      })];
    },
  },
  // rcu: 	1-....: (2099 ticks this GP) idle=a334/1/0x4000000000000000 softirq=76/76 fqs=951
  // rcu: 	4-O...: (0 ticks this GP) idle=002/1/0x4000000000000000 softirq=0/0 fqs=2435   ('O' = offline)
  {
    kind: 'rcu_stall', header: ': (',
    pattern: /^\s*(?:rcu:\s+)?(\d+)-([^\s:]{3,6}): \(/,
    build: (m, env) => [consoleItem(env, 'rcu_stall', { cpu: num(m[1]), info: 'stalled cpu' })],
  },
  // INFO: task kworker/u4:2:57 blocked for more than 122 seconds.
  {
    kind: 'hung_task', header: 'INFO: task ',
    pattern: /^\s*INFO: task (.+:\d+) blocked for more than (\d+)(?: seconds|$)/,
    build: (m, env) => [consoleItem(env, 'hung_task', { info: m[1]!, wait_ns: num(m[2])! * 1e9, cpu: env.ctx.callerCpu })],
  },
  // WARNING: CPU: 0 PID: 1 at kernel/smp.c:912 smp_call_function_many_cond+0x3c4/0x3c8
  // WARNING: CPU: 6 PID: 124 at kernel/irq_work.c:95          (function wrapped to the next line)
  {
    kind: 'warning', header: 'WARNING: CPU: ',
    pattern: new RegExp(`^\\s*WARNING: CPU: (\\d+) PID: \\d+ at (\\S+)(?: (${SYM}))?`),
    build: (m, env) => {
      env.st.traceCpu = num(m[1]);
      return [consoleItem(env, 'warning', { cpu: num(m[1]), info: m[2]!, func: m[3] ?? null })];
    },
  },
  // WARNING: kernel/workqueue.c:2338 at __queue_work+0x5e0/0x790, CPU#2: kworker/2:2/116     (6.18+)
  {
    kind: 'warning', header: 'WARNING: ',
    pattern: new RegExp(`^\\s*WARNING: (\\S+:\\d+) at (${SYM})\\S*, CPU#(\\d+)`),
    build: (m, env) => {
      env.st.traceCpu = num(m[3]);
      return [consoleItem(env, 'warning', { cpu: num(m[3]), info: m[1]!, func: m[2]! })];
    },
  },
  // WARNING: at kernel/smp.c:320 smp_call_function_single+0x5c/0x150()      (pre-3.x)
  {
    kind: 'warning', header: 'WARNING: at ',
    pattern: new RegExp(`^\\s*WARNING: at (\\S+)(?: (${SYM}))?`),
    build: (m, env) => [consoleItem(env, 'warning', { info: m[1]!, func: m[2] ?? null, cpu: env.ctx.callerCpu })],
  },
  // kernel BUG at kernel/irq_work.c:245!
  {
    kind: 'bug', header: 'kernel BUG at ',
    pattern: /^\s*kernel BUG at (.+?)!?$/,
    build: (m, env) => [consoleItem(env, 'bug', { info: m[1]!, cpu: env.ctx.callerCpu })],
  },
  // Oops: 0003 [#5] PREEMPT SMP
  {
    kind: 'oops', header: 'Oops: ',
    pattern: /^\s*Oops: (.*)$/,
    build: (m, env) => [consoleItem(env, 'oops', { info: m[1]!, cpu: env.ctx.callerCpu })],
  },
  // Internal error: : 8 [#1] SMP ARM           (arm64: "Internal error: Oops: 96000004 [#1] SMP")
  {
    kind: 'oops', header: 'Internal error: ',
    pattern: /^\s*Internal error: (.*)$/,
    build: (m, env) => [consoleItem(env, 'oops', { info: m[1]!, cpu: env.ctx.callerCpu })],
  },

  // --- Hotplug -----------------------------------------------------------------------------
  // smpboot: CPU 2 is now offline
  {
    kind: 'cpu_offline', header: 'is now offline',
    pattern: /^\s*(?:smpboot: )?CPU (\d+) is now offline/,
    build: (m, env) => [consoleItem(env, 'cpu_offline', { cpu: num(m[1]) })],
  },
  // psci: CPU3 killed (polled 0 ms)
  // CPU3 killed.                                  (arm32)
  {
    kind: 'cpu_offline', header: ' killed',
    pattern: /^\s*(?:psci: )?CPU(\d+) killed/,
    build: (m, env) => [consoleItem(env, 'cpu_offline', { cpu: num(m[1]) })],
  },
  // CPU1: off                                     (riscv arch_cpuhp_cleanup_dead_cpu)
  {
    kind: 'cpu_offline', header: ': off',
    pattern: /^\s*CPU(\d+): off$/,
    build: (m, env) => [consoleItem(env, 'cpu_offline', { cpu: num(m[1]) })],
  },
  // CPU3: shutdown                                (arm64/arm32 __cpu_disable side, pr_debug in 6.x)
  {
    kind: 'cpu_dying', header: ': shutdown',
    pattern: /^\s*CPU(\d+): shutdown/,
    build: (m, env) => [consoleItem(env, 'cpu_dying', { cpu: num(m[1]) })],
  },
  // CPU 1 didn't die...  (x86 pre-6.5)            CPU1: cpu didn't die  (arm64 pre-6.5)
  // CPU2 failed to report dead state  (6.5+)      CPU2 may not have shut down cleanly: -110  (arm64)
  // psci: CPU2 may not have shut down cleanly (AFFINITY_INFO reports 1)
  {
    kind: 'cpu_offline', header: ["didn't die", 'failed to report dead state', 'may not have shut down cleanly'],
    pattern: /^\s*(?:smpboot: |psci: )?CPU ?(\d+):? ((?:cpu )?didn't die|failed to report dead state|may not have shut down cleanly(?::| \().*)/,
    build: (m, env) => [consoleItem(env, 'cpu_offline', { cpu: num(m[1]), info: `unclean: ${m[2]!.replace(/\.+$/, '')}` })],
  },
  // CPU1 failed to report alive state             CPU1: failed to come online
  // CPU16: died during early boot                 CPU4: failed to boot: -22
  // CPU4: failed in unknown state : 0x0           CPU4: is stuck in kernel
  // CPU4: may not have shut down cleanly          (arm64 __cpu_up path, no ": N")
  // CPU16: will not boot                          (arm64, printed by the dying secondary)
  {
    kind: 'cpu_up_failed',
    header: ['failed to report alive', 'failed to come online', 'died during early boot', 'failed to boot',
      'failed in unknown state', 'is stuck in kernel', 'will not boot', 'may not have shut down cleanly'],
    pattern: /^\s*CPU(\d+):? (failed to report alive state|failed to come online|died during early boot|failed to boot: -?\d+|failed in unknown state : \S+|is stuck in kernel|will not boot|may not have shut down cleanly$)/,
    build: (m, env) => [consoleItem(env, 'cpu_up_failed', { cpu: num(m[1]), info: m[2]! })],
  },
  // smpboot: Booting Node 0 Processor 2 APIC 0x2
  {
    kind: 'cpu_online', header: 'Booting Node ',
    pattern: /^\s*(?:smpboot: )?Booting Node (\d+) Processor (\d+) (APIC 0x[0-9a-f]+)/,
    build: (m, env) => [consoleItem(env, 'cpu_online', { cpu: num(m[2]), info: m[3]! })],
  },
  // CPU1: Booted secondary processor 0x0000000001 [0x411fd070]
  // CPU1: Booted secondary processor              (arm32, pr_debug)
  {
    kind: 'cpu_online', header: 'Booted secondary processor',
    pattern: /^\s*CPU(\d+): Booted secondary processor(?: 0x([0-9a-f]+))?/,
    build: (m, env) => [consoleItem(env, 'cpu_online', { cpu: num(m[1]), info: m[2] ? hexNoPad(m[2]) : null })],
  },
  // CPU1 is up                                    (x86 resume: "Enabling non-boot CPUs ...")
  {
    kind: 'cpu_online', header: ' is up',
    pattern: /^\s*CPU(\d+) is up$/,
    build: (m, env) => [consoleItem(env, 'cpu_online', { cpu: num(m[1]) })],
  },
  // CPU1: thread -1, cpu 1, socket 0, mpidr 80000001     (arm32 store_cpu_topology, first bring-up)
  {
    kind: 'cpu_online', header: ', mpidr ',
    pattern: /^\s*CPU(\d+): thread -?\d+, cpu \d+, socket \d+, mpidr ([0-9a-f]+)/,
    build: (m, env) => [consoleItem(env, 'cpu_online', { cpu: num(m[1]), info: hexNoPad(m[2]!) })],
  },
  // Booting Linux on physical CPU 0x0000020000 [0x410fd4f0]     (arm: the boot CPU, logical CPU 0)
  {
    kind: 'cpu_online', header: 'Booting Linux on physical CPU',
    pattern: /^\s*Booting Linux on physical CPU 0x([0-9a-f]+)/,
    build: (m, env) => [consoleItem(env, 'cpu_online', { cpu: 0, info: hexNoPad(m[1]!) })],
  },
  // .... node  #0, CPUs:      #1 #2 #3
  {
    kind: 'cpu_online', header: '.... node ',
    pattern: /^\s*\.\.\.\. node\s+#\d+, CPUs:(.*)$/,
    build: (m, env) => {
      env.st.smpBoot = true;
      return cpuListRecord(m[1]!, env);
    },
  },
  // "  #5  #6  #7"     (continuation of the line above after an interleaved message)
  {
    kind: 'cpu_online', header: ' #',
    pattern: /^\s*#\d+(?:\s+#\d+)*$/,
    build: (m, env) => (env.st.smpBoot ? cpuListRecord(m[0], env) : undefined),
  },

  // --- CPU-count facts ---------------------------------------------------------------------
  // smp: Brought up 1 node, 4 CPUs
  {
    kind: 'cpu_fact', header: 'Brought up ',
    pattern: /^\s*(?:smp: )?Brought up (?:\d+ nodes?, )?(\d+) CPUs?/,
    build: (m, env) => {
      env.st.smpBoot = false;
      return factsWithText(env, [['brought_up', num(m[1])]]);
    },
  },
  // smpboot: Total of 4 processors activated (21967.26 BogoMIPS)
  // SMP: Total of 4 processors activated.
  {
    kind: 'cpu_fact', header: 'processors activated',
    pattern: /^\s*(?:smpboot: |SMP: )?Total of (\d+) processors activated/,
    build: (m, env) => factsWithText(env, [['brought_up', num(m[1])]]),
  },
  // smpboot: Allowing 16 CPUs, 8 hotplug CPUs
  {
    kind: 'cpu_fact', header: 'Allowing ',
    pattern: /^\s*(?:smpboot: )?Allowing (\d+) CPUs, (\d+) hotplug CPUs/,
    build: (m, env) => factsWithText(env, [['possible', num(m[1])], ['hotplug_cpus', num(m[2])]]),
  },
  // CPU topo: Allowing 4 present CPUs plus 4 hotplug CPUs
  {
    kind: 'cpu_fact', header: 'Allowing ',
    pattern: /^\s*(?:CPU topo: )?Allowing (\d+) present CPUs plus (\d+) hotplug CPUs/,
    build: (m, env) => factsWithText(env, [
      ['present', num(m[1])], ['hotplug_cpus', num(m[2])], ['possible', num(m[1])! + num(m[2])!],
    ]),
  },
  // setup_percpu: NR_CPUS:8 nr_cpumask_bits:8 nr_cpu_ids:8 nr_node_ids:1
  {
    kind: 'cpu_fact', header: 'nr_cpu_ids:',
    pattern: /^\s*setup_percpu: NR_CPUS:\d+ nr_cpumask_bits:\d+ nr_cpu_ids:(\d+)/,
    build: (m, env) => factsWithText(env, [['possible', num(m[1])]]),
  },
  // rcu: 	RCU restricting CPUs from NR_CPUS=8 to nr_cpu_ids=4.
  {
    kind: 'cpu_fact', header: 'RCU restricting CPUs',
    pattern: /^\s*(?:rcu:\s+)?RCU restricting CPUs from NR_CPUS=\d+ to nr_cpu_ids=(\d+)/,
    build: (m, env) => factsWithText(env, [['possible', num(m[1])]]),
  },
  // rcu: Adjusting geometry for rcu_fanout_leaf=16, nr_cpu_ids=4
  {
    kind: 'cpu_fact', header: 'Adjusting geometry',
    pattern: /^\s*(?:rcu:\s+)?Adjusting geometry for rcu_fanout_leaf=\d+, nr_cpu_ids=(\d+)/,
    build: (m, env) => factsWithText(env, [['possible', num(m[1])]]),
  },
  // SLUB: HWalign=64, Order=0-3, MinObjects=0, CPUs=4, Nodes=1      (CPUs = nr_cpu_ids)
  {
    kind: 'cpu_fact', header: 'SLUB: ',
    pattern: /^\s*SLUB: .*\bCPUs=(\d+)/,
    build: (m, env) => factsWithText(env, [['possible', num(m[1])]]),
  },
  // Unstable clock detected, switching default tracing clock to "global"
  // (kernel/trace/trace.c tracing_set_default_clock: tracing_set_clock() then resets the ring
  // buffer, and the oops-time dump counts its microseconds from that reset, not from boot.)
  {
    kind: 'trace_clock_reset', header: 'switching default tracing clock to',
    pattern: /switching default tracing clock to "?([\w-]+)"?/,
    build: (m, env) => [consoleItem(env, 'trace_clock_reset', { info: m[1]! })],
  },
  // Kernel command line: console=ttyAMA0 panic=-1 ... maxcpus=2 ipitrace.scenario=smp-maxcpus
  // Command line: console=ttyS0 panic=-1 printk.devkmsg=on ...        (x86, first line of boot)
  {
    kind: 'cmdline', header: 'ommand line: ',
    pattern: /^\s*(?:Kernel command line|Command line): (.*)$/,
    build: (m, env) => [
      consoleItem(env, 'cmdline', { info: m[1]! }),
      ...[...m[1]!.matchAll(/(?:^|\s)(?:maxcpus|nr_cpus)=(\d+)(?=\s|$)/g)]
        .map((c) => factItem(env, 'nr_cpus_cmdline', num(c[1]))),
    ],
  },

  // --- Context for the stack-trace state machine (no record) --------------------------------
  // CPU: 1 UID: 0 PID: 1 Comm: init Not tainted 6.12.107 #5
  // CPU: 2 PID: 4888 Comm: syz-executor4 Not tainted 4.20.0-next-20190102+ #5
  {
    kind: 'context', header: 'CPU: ',
    pattern: /^\s*CPU: (\d+) (?:UID: \d+ )?PID: \d+ Comm: /,
    build: (m, env) => {
      env.st.traceCpu = num(m[1]);
      return undefined;
    },
  },
];

/** `#1 #2 #3` -> one cpu_online record with cpus '1-3' (cpu NULL); nothing when no CPU is listed. */
function cpuListRecord(list: string, env: Env): ParsedItem[] | undefined {
  const cpus = cpuRanges([...list.matchAll(/#(\d+)/g)].map((c) => Number(c[1])));
  return cpus === null ? undefined : [consoleItem(env, 'cpu_online', { cpus })];
}

// ---------------------------------------------------------------------------------------------
// Stack traces

interface FrameRule {
  info: 'rip' | 'pc' | 'lr' | 'frame';
  /** True when the line alone proves a trace (RIP/pc/lr/[<addr>] lines); else only inside one. */
  opens: boolean;
  pattern: RegExp;
}

/** Map of register names to the frame info they give. */
const REG_INFO: Record<string, FrameRule['info']> = {
  pc: 'pc', epc: 'pc', PC: 'pc', lr: 'lr', ra: 'lr', LR: 'lr', RIP: 'rip', EIP: 'rip',
};

const FRAME_RULES: FrameRule[] = [
  // RIP: 0010:smp_call_function_single+0x364/0x560
  // RIP: 0010:[<ffffffff810f2a8c>]  [<ffffffff810f2a8c>] smp_call_function_many+0x1fc/0x260   (3.x)
  {
    info: 'rip', opens: true,
    pattern: new RegExp(`^\\s*(?:RIP|EIP): (?:[0-9a-f]{4}:)?(?:\\[<[0-9a-f]+>\\]\\s+\\[<[0-9a-f]+>\\]\\s+)?(?<func>${SYM})${OFF}`),
  },
  // pc : csd_lock_wait kernel/smp.c:443 [inline]        lr : pl011_console_write_atomic+0x84/0x170
  // epc : __flush_smp_call_function_queue+0x90/0x292     ra : smpcfd_dying_cpu+0xe/0x1c   (riscv)
  {
    info: 'pc', opens: true,
    pattern: new RegExp(`^\\s*(?<reg>pc|lr|epc|ra)\\s*: (?<func>${SYM})(?=${OFF}|\\s+\\S+:\\d+|\\s*$)`),
  },
  // PC is at smp_call_function_many+0x2a0/0x2f0      LR is at smp_call_function_many+0x264/0x2f0   (arm32)
  {
    info: 'pc', opens: true,
    pattern: new RegExp(`^\\s*(?<reg>PC|LR|EIP) is at (?<func>${SYM})${OFF}`),
  },
  // [<ffffffff800c904a>] __flush_smp_call_function_queue+0x90/0x292      (riscv; x86 before 4.x)
  {
    info: 'frame', opens: true,
    pattern: new RegExp(`^\\s*\\[<[0-9a-f]+>\\] (?:\\? )?(?<func>${SYM})${OFF}`),
  },
  // [<c0110f54>] (smp_call_function_many) from [<c0111004>] (smp_call_function+0x34/0x3c)   (arm32, old)
  {
    info: 'frame', opens: true,
    pattern: new RegExp(`^\\s*\\[<[0-9a-f]+>\\] \\((?<func>${SYM})(?:${OFF})?\\) from \\[<`),
  },
  //  smp_call_function_many_cond from smp_call_function+0x34/0x3c      (arm32, 5.x+)
  {
    info: 'frame', opens: true,
    pattern: new RegExp(`^\\s*(?<func>${SYM}) from ${SYM}${OFF}`),
  },
  //  ? __csd_lock_wait+0x29e/0x2bf        smp_call_function_many_cond+0x958/0xa04 kernel/smp.c:988
  //  pl011_console_write_atomic+0x94/0x170 (P)
  {
    info: 'frame', opens: false,
    pattern: new RegExp(`^\\s*(?:\\? )?(?<func>${SYM})${OFF}(?:\\s|$)`),
  },
  //  csd_lock_wait kernel/smp.c:443 [inline]          (syzkaller symbolized)
  //  do_nothing (kernel/smp.c:1058)                   (scripts/decode_stacktrace.sh)
  {
    info: 'frame', opens: false,
    pattern: new RegExp(`^\\s*(?:\\? )?(?<func>${SYM}) \\(?[^\\s:()]+:\\d+`),
  },
];

/** Header lines of a trace: they open it and yield nothing. */
const TRACE_HEADER = /^\s*(?:Call [Tt]race|Backtrace|Stack)\s*:/;

/**
 * Lines that belong to a trace or register dump without being frames: `<IRQ>`, register lines
 * (`RSP: 0018:...`, `x29: ...`, `sp : ...`, `pc : [<c0123>]`), `Code: ...`, hex dumps (`5bc0: ...`),
 * `Exception stack(...)`, frames without a symbol (` ? 0xffffffffc09a8000`), user-space RIP.
 */
const TRACE_CONTINUATION = new RegExp([
  String.raw`^\s*<\/?[A-Z]+>\s*$`,
  String.raw`^\s*[A-Za-z][\w]*\s*:\s*(?:\[<)?[0-9a-f]{4,}`,
  String.raw`^\s*Code: `,
  String.raw`^\s*[0-9a-f]{4,}:\s`,
  String.raw`^\s*Exception stack\(`,
  String.raw`^\s*(?:\? )?(?:\[<[0-9a-f]+>\] )?0x[0-9a-f]+\s*$`,
  String.raw`^\s*[0-9a-f]{8,16}(?:\s+[0-9a-f]{8,16})*\s*$`,
].join('|'));

/** Every frame pattern names the symbol `func`; register lines also name the register `reg`. */
function frameItem(rule: FrameRule, m: RegExpExecArray, env: Env): ParsedItem {
  const reg = m.groups?.['reg'];
  const info = reg === undefined ? rule.info : (REG_INFO[reg] ?? rule.info);
  return consoleItem(env, 'frame', { func: m.groups?.['func'] ?? null, info, cpu: env.st.traceCpu });
}

/**
 * Stack-trace lines. Returns items for a frame, `null` for a line that belongs to a trace but
 * yields nothing (header, register dump), `undefined` when the line is no part of a trace (the
 * trace, if one was open, ends here).
 */
function parseTrace(msg: string, env: Env): ParsedItem[] | null | undefined {
  const { st } = env;
  for (const rule of FRAME_RULES) {
    if (!rule.opens && !st.inTrace) continue;
    const m = rule.pattern.exec(msg);
    if (m) {
      st.inTrace = true;
      return [frameItem(rule, m, env)];
    }
  }
  if (TRACE_HEADER.test(msg) || /^\s*RIP: [0-9a-f]{4}:/.test(msg)) {
    st.inTrace = true;
    return null;
  }
  if (st.inTrace && TRACE_CONTINUATION.test(msg)) return null;
  endTrace(st);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The module

/** Drops trailing whitespace and the LAVA-JSON residue `"}` of LKFT logs (for matching only). */
function cleanBody(body: string): string {
  const trimmed = body.trimEnd();
  return trimmed.endsWith('"}') ? trimmed.slice(0, -2).trimEnd() : trimmed;
}

function hasHeader(text: string, rule: Rule): boolean {
  return typeof rule.header === 'string' ? text.includes(rule.header) : rule.header.some((h) => text.includes(h));
}

function matchRules(msg: string, env: Env): ParsedItem[] | undefined {
  for (const rule of RULES) {
    if (!hasHeader(msg, rule)) continue;
    const m = rule.pattern.exec(msg);
    if (m) return rule.build(m, env);
  }
  return undefined;
}

function parse(body: string, ctx: LineContext): ParsedItem[] | undefined {
  try {
    const st = consoleState(ctx);
    if (ctx.state.dump !== 'none') {
      endTrace(st);
      return undefined;
    }
    const env: Env = { body, ctx, st };
    const msg = cleanBody(body);
    const trace = parseTrace(msg, env);
    if (trace !== undefined) return trace ?? undefined;
    return matchRules(msg, env);
  } catch {
    return undefined;
  }
}

/** Cheap: anything from the console, anything inside a trace, or a known header / frame shape. */
function sniff(body: string, ctx: LineContext): boolean {
  if (ctx.fromConsole) return true;
  if ((ctx.state.console as Partial<ConsoleState> | null)?.inTrace === true) return true;
  return body.includes('+0x') || body.includes('[<') || RULES.some((r) => hasHeader(body, r));
}

export const consoleParser = { name: 'console', sniff, parse } satisfies LineParser;
