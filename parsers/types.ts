// The contract every format module in parsers/ satisfies. The reader (parsers/reader.ts) owns
// framing (line numbers, CR/NUL stripping, the console prefix, dump sections, glued fragments) and
// hands each module a body plus a LineContext; modules are pure functions of (body, context) except
// for the per-source state object they are given, which is the only place they may remember
// anything between lines (e.g. the last APIC ICR-high write per QEMU thread).
import type { Format, ParsedItem } from '../schema/records.js';

/** What the reader knows about the line beyond its body. */
export interface LineContext {
  /** printk time of the line in ns when it had a `[ secs.usec]` prefix (a BigInt beyond 2^53), else null. */
  consoleTsNs: number | bigint | null;
  /** CPU from a PRINTK_CALLER `[ C1]` field, else null. */
  callerCpu: number | null;
  /** The whole PRINTK_CALLER field ('C1', 'T1234'), else null/absent: lines of one caller belong together. */
  caller?: string | null;
  /** True when the line had a console prefix (printk stamp or syslog prefix). */
  fromConsole: boolean;
  /** Per-source mutable state, shared by all modules for one file. */
  state: SourceState;
}

/** Per-source state. Each module keeps its own sub-object so that modules stay independent. */
export interface SourceState {
  /** 'trace-cmd' once a `version = N` / `cpus=N` header was seen: event lines are trace-cmd report. */
  ftraceLayout: 'ftrace' | 'trace-cmd';
  /** Oops-time ftrace dump section: none, seen 'Dumping ftrace buffer:', or inside the dashes. */
  dump: 'none' | 'header' | 'body';
  /** QEMU module state (see parsers/qemu-trace.ts). */
  qemu: Record<string, unknown>;
  /** Console module state (see parsers/console.ts). */
  console: Record<string, unknown>;
}

export function newSourceState(): SourceState {
  return { ftraceLayout: 'ftrace', dump: 'none', qemu: {}, console: {} };
}

/**
 * One input format. `sniff` is a cheap test (no regex where a prefix test will do); `parse` returns
 * the items the line yields, or undefined when the line is not of this format after all (the next
 * module is then tried). A line that clearly is of this format but is malformed yields an 'issue'.
 */
export interface LineParser {
  readonly name: Format;
  sniff(body: string, ctx: LineContext): boolean;
  parse(body: string, ctx: LineContext): ParsedItem[] | undefined;
}
