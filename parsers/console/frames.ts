// Console family: stack traces and register dumps (x86 RIP/EIP, arm64/riscv pc/lr, arm32 "PC is at",
// the old `[<addr>] func+0x/0x` layout, arm32 `func from func+0x`, symbolized frames).
import type { ParsedItem } from '../../schema/records.js';
import { consoleItem, endTrace, OFF, SYM, type Env } from './common.js';

// ---------------------------------------------------------------------------------------------
// Stack traces

interface FrameRule {
  info: 'rip' | 'pc' | 'lr' | 'frame' | 'unreliable';
  /** True when the line alone proves a trace (RIP/pc/lr/[<addr>] lines); else only inside one. */
  opens: boolean;
  pattern: RegExp;
}

/** Map of register names to the frame info they give. */
const REG_INFO: Record<string, FrameRule['info']> = {
  pc: 'pc', epc: 'pc', PC: 'pc', NIP: 'pc', lr: 'lr', ra: 'lr', LR: 'lr', RIP: 'rip', EIP: 'rip',
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
  //   <IRQ>  [<ffffffff816efb87>] _sched_show_task+0x31a/0x325            (x86 4.x: the section marker
  //   <EOI>  [<ffffffff815bcdb1>] ? __sanitizer_cov_trace_pc+0x21/0x60      on the first frame's line)
  {
    info: 'frame', opens: true,
    pattern: new RegExp(`^\\s*(?:<[A-Z]+>\\s+)?\\[<[0-9a-f]+>\\] (?<unreliable>\\? )?(?<func>${SYM})${OFF}`),
  },
  // [c000003fe566ba90] [c0000000001d59f0] smp_call_function_many+0x340/0x450               (powerpc: stack
  // [c000003fe566ba50] [c00000000004876c] arch_send_call_function_ipi_mask+0x4c/0x130 (unreliable)    pointer, pc)
  {
    info: 'frame', opens: true,
    pattern: new RegExp(`^\\s*\\[[0-9a-f]{8,16}\\] \\[[0-9a-f]{8,16}\\] (?<func>${SYM})${OFF}(?<unreliable> \\(unreliable\\))?`),
  },
  // NIP [c0000000001d5a28] smp_call_function_many+0x318/0x450        LR [c0000000001d59f0] ...   (powerpc)
  {
    info: 'pc', opens: true,
    pattern: new RegExp(`^\\s*(?<reg>NIP|LR) \\[[0-9a-f]+\\] (?<func>${SYM})${OFF}`),
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
    pattern: new RegExp(`^\\s*(?<unreliable>\\? )?(?<func>${SYM})${OFF}(?:\\s|$)`),
  },
  //  csd_lock_wait kernel/smp.c:443 [inline]          (syzkaller symbolized)
  //  do_nothing (kernel/smp.c:1058)                   (scripts/decode_stacktrace.sh)
  {
    info: 'frame', opens: false,
    pattern: new RegExp(`^\\s*(?<unreliable>\\? )?(?<func>${SYM}) \\(?[^\\s:()]+:\\d+`),
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
  String.raw`^\s*--- interrupt: [0-9a-f]+ at `,
  String.raw`^\s*(?:Instruction dump:|LR = )`,
  String.raw`^\s*(?:\? )?(?:\[<[0-9a-f]+>\] )?0x[0-9a-f]+\s*$`,
  String.raw`^\s*[0-9a-f]{8,16}(?:\s+[0-9a-f]{8,16})*\s*$`,
].join('|'));

/** Every frame pattern names the symbol `func`; register lines also name the register `reg`. */
function frameItem(rule: FrameRule, m: RegExpExecArray, env: Env): ParsedItem {
  const reg = m.groups?.['reg'];
  // `?` frames: an address found on the stack that the unwinder could not prove is a return address.
  const info = m.groups?.['unreliable'] ? 'unreliable' : reg === undefined ? rule.info : (REG_INFO[reg] ?? rule.info);
  return consoleItem(env, 'frame', { func: m.groups?.['func'] ?? null, info, cpu: env.st.traceCpu });
}

/**
 * Interrupt state in a register dump: x86 `EFLAGS: 00000246` (IF, bit 9 = 0x200: interrupts on),
 * arm64 `pstate: 60400009 (nZCv daIf -PAN ...)` (an upper-case I: IRQs masked), riscv `status:
 * 0000000200000120` (SIE, bit 1). info 'irqs_off' or 'irqs_on'.
 */
function irqFlags(msg: string): { info: 'irqs_off' | 'irqs_on'; opens: boolean } | null {
  const x86 = /^\s*(?:RSP|ESP|EIP): .*\bE?FLAGS: ([0-9a-f]{8,16})\b/.exec(msg);
  if (x86) {
    return { info: (Number.parseInt(x86[1]!.slice(-4), 16) & 0x200) !== 0 ? 'irqs_on' : 'irqs_off', opens: false };
  }
  const arm64 = /^\s*pstate: [0-9a-f]{8} \([nN][zZ][cC][vV] [dD][aA]([iI])[fF]\b/.exec(msg);
  if (arm64) return { info: arm64[1] === 'I' ? 'irqs_off' : 'irqs_on', opens: true };
  return null;
}

/**
 * Stack-trace lines. Returns items for a frame, `null` for a line that belongs to a trace but
 * yields nothing (header, register dump), `undefined` when the line is no part of a trace (the
 * trace, if one was open, ends here).
 */
export function parseTrace(msg: string, env: Env): ParsedItem[] | null | undefined {
  const { st } = env;
  const flags = irqFlags(msg);
  if (flags !== null && (st.inTrace || flags.opens)) {
    st.inTrace = true;
    return [consoleItem(env, 'regs', { info: flags.info, cpu: st.traceCpu })];
  }
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

