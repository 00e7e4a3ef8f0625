// Shared by the console message families (parsers/console/*.ts): the per-source state, what a rule
// sees, the rule shape and small helpers that build records.
import type { ConsoleKind, ConsoleRecord, CpuFactKind, ParsedItem } from '../../schema/records.js';
import { blankConsole } from '../../schema/vocabulary.js';
import type { LineContext } from '../types.js';

// ---------------------------------------------------------------------------------------------
// Per-source state (kept in ctx.state.console only)

export interface ConsoleState {
  /** Inside a stack trace / register dump: frame lines are typed. */
  inTrace: boolean;
  /** CPU the current or next trace belongs to, from a header line. */
  traceCpu: number | null;
  /** Between `.... node  #0, CPUs:` and `smp: Brought up`: `#5 #6` lines continue the list. */
  smpBoot: boolean;
  /** After an RCU `self-detected stall` header: the next per-CPU stall line names the CPU whose trace follows. */
  rcuSelf: boolean;
  /**
   * Trace state per PRINTK_CALLER ('T1234', 'C1'; '' for lines without one): reports printed by
   * different callers at once interleave line by line, and each keeps its own trace and CPU.
   */
  callers: Map<string, { inTrace: boolean; traceCpu: number | null }>;
}

export function consoleState(ctx: LineContext): ConsoleState {
  const s = ctx.state.console as Partial<ConsoleState>;
  s.inTrace ??= false;
  s.traceCpu ??= null;
  s.smpBoot ??= false;
  s.rcuSelf ??= false;
  s.callers ??= new Map();
  return s as ConsoleState;
}

export function endTrace(st: ConsoleState): void {
  if (st.inTrace) st.traceCpu = null;
  st.inTrace = false;
}

/** What a rule's build function sees. */
export interface Env {
  body: string;
  ctx: LineContext;
  st: ConsoleState;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** A kernel symbol as %ps/%pS prints it (letters, digits, '_', '.', '$'; not starting with a digit). */
export const SYM = String.raw`[A-Za-z_.$][\w.$]*`;
/** `+0x3c4/0x3c8` after a symbol (%pS). */
export const OFF = String.raw`\+0x[0-9a-f]+\/0x[0-9a-f]+`;
/** Optional `smp: ` pr_fmt prefix; the tab after it may be rendered as spaces. */
export const SMP = String.raw`^\s*(?:smp:\s+)?`;

export function num(s: string | undefined): number | null {
  if (s === undefined) return null;
  const n = Number.parseInt(s, 10);
  return Number.isFinite(n) ? n : null;
}

/** '0x0000000001' -> '0x1'. */
export function hexNoPad(hex: string): string {
  const h = hex.replace(/^0x/i, '').toLowerCase().replace(/^0+(?=[0-9a-f])/, '');
  return `0x${h}`;
}

/** [1,2,3,5] -> '1-3,5'. */
export function cpuRanges(cpus: number[]): string | null {
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

export function consoleItem(env: Env, kind: ConsoleKind, fields: Partial<ConsoleRecord> = {}): ParsedItem {
  const message: ConsoleRecord = { ...blankConsole(kind, env.body, env.ctx.consoleTsNs), ...fields };
  return { type: 'console', message };
}

export function factItem(env: Env, fact: CpuFactKind, count: number | null): ParsedItem {
  return { type: 'cpu_fact', fact: { fact, count, cpus: null, text: env.body } };
}

/** A line that only carries facts is still a console line: keep it as 'text' too. */
export function factsWithText(env: Env, facts: [CpuFactKind, number | null][]): ParsedItem[] {
  return [consoleItem(env, 'text'), ...facts.map(([f, n]) => factItem(env, f, n))];
}


// ---------------------------------------------------------------------------------------------
// The rule table

export interface Rule {
  /** What the rule yields: a console kind, 'cpu_fact' (facts + 'text'), or 'context' (state only). */
  kind: ConsoleKind | 'cpu_fact' | 'context';
  /** Cheap substring(s) tested before the regex (any one of them). */
  header: string | readonly string[];
  pattern: RegExp;
  build(m: RegExpExecArray, env: Env): ParsedItem[] | undefined;
}

