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
import type { ParsedItem } from '../../schema/records.js';
import type { LineContext, LineParser } from '../types.js';
import { consoleState, endTrace, type ConsoleState, type Env, type Rule } from './common.js';
import { CSD_RULES } from './csd.js';
import { parseTrace } from './frames.js';
import { HOTPLUG_RULES } from './hotplug.js';
import { REPORT_RULES } from './reports.js';

/** Specific -> generic: the families' own order is kept. */
const RULES: Rule[] = [...CSD_RULES, ...REPORT_RULES, ...HOTPLUG_RULES];

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
      st.callers.clear();
      return undefined;
    }
    const env: Env = { body, ctx, st };
    const msg = cleanBody(body);
    const caller = ctx.caller ?? '';
    const own = st.callers.get(caller);
    st.inTrace = own?.inTrace ?? false;
    st.traceCpu = own?.traceCpu ?? null;
    try {
      const trace = parseTrace(msg, env);
      if (trace !== undefined) return trace ?? undefined;
      return matchRules(msg, env);
    } finally {
      st.callers.set(caller, { inTrace: st.inTrace, traceCpu: st.traceCpu });
    }
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
