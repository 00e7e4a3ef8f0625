// The table of format modules, tried in order for every logical line (CI logs mix formats, so
// detection is per line). Each module's sniff() is a cheap test; the first parse() that does not
// return undefined wins.
import type { Format, ParsedItem } from '../schema/records.js';
import { consoleParser } from './console/index.js';
import { ftraceDumpParser } from './ftrace-dump.js';
import { ftraceTextParser } from './ftrace-text.js';
import { qemuParser } from './qemu-trace.js';
import { tpPrintkParser } from './tp-printk.js';
import type { LineContext, LineParser } from './types.js';

const PARSERS: readonly LineParser[] = [
  // QEMU records ('TID@secs.usec:name' or a bare known event name) are the bulk of interleaved CI
  // logs and are recognised by their first characters.
  qemuParser,
  // trace / trace_pipe / trace-cmd event lines: nearly every line of a trace file.
  ftraceTextParser,
  // Oops-time dump lines (latency layout); before the console parser, since they carry a printk
  // prefix like any console line.
  ftraceDumpParser,
  // tp_printk events: only typed event names, so that 'smpboot: ...' stays a kernel message.
  tpPrintkParser,
  // Kernel messages: the most generic, last.
  consoleParser,
];

export interface ParsedLine {
  format: Format;
  items: ParsedItem[];
}

/** Offers a body to each format module in turn. Undefined when none recognises it. */
export function parseLine(body: string, ctx: LineContext): ParsedLine | undefined {
  for (const parser of PARSERS) {
    if (!parser.sniff(body, ctx)) continue;
    const items = parser.parse(body, ctx);
    if (items !== undefined) return { format: parser === ftraceTextParser ? ctx.state.ftraceLayout : parser.name, items };
  }
  return undefined;
}
