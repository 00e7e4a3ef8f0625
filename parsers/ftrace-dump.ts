// The ftrace dump a kernel prints on an oops (ftrace_dump_on_oops, sysrq-z): kernel/trace/trace.c
// ftrace_dump_one() forces the latency format (formats.md B.4):
//   "%8.8s-%-7d %3d" comm cut to 8, pid, cpu glued to the flags, then " %4lldus%c: " microseconds of
//   the ftrace clock and a delay mark. Older kernels: pid width 5 and 4 flag characters.
// The reader tracks the section ('Dumping ftrace buffer:', the 33-dash fences); this module parses
// the lines, which are also accepted outside a fenced section (a log cut before the header).
import type { ParsedItem } from '../schema/records.js';
import { EVENT_PART, eventFromParts, eventItems, lostItems } from './ftrace-text.js';
import type { LineContext, LineParser } from './types.js';

// [   10.593071] kworker/-9         0d..1. 448361us : csd_function_entry: func=do_sync_core, csd=0000000000000000
// [ 1731.632619]   <idle>-0       2d... 1562233515us : scheduler_ipi: entered
// syz-exec-31490   2...1 413720925us : 0: }D
// A serial line may repeat a character: up to 12 flag characters and 'uuus' are still read.
// Groups 1 task, 2 pid, 3 cpu, 4 flags, 5 microseconds, 6-8 EVENT_PART (ftrace-text.ts).
const LATENCY_LINE = new RegExp(
  String.raw`^\s*(.{1,16}?)-(\d+)\s+(\d+)([A-Za-z.][A-Za-z0-9.]{3,11})\s+(\d+)u+s(?:[$@*#!+ ])?\s?:\s` + EVENT_PART);
/** What a dump line looks like, loosely: `-PID CPUflags NNNus : name: `. */
export const DUMP_EVENT_LIKE = /-\d+\s+\d+[A-Za-z.]\S*\s+\d+\S*\s*:\s+\w+:/;

export const DUMP_FENCE = '---------------------------------';

function parseLatencyLine(body: string): ParsedItem[] | undefined {
  const m = LATENCY_LINE.exec(body);
  if (!m) return undefined;
  const ev = eventFromParts('ftrace-dump', 'ftrace', m[6], m[7], m[8]);
  if (typeof ev !== 'string') {
    ev.ts_ns = Number(m[5]) * 1000;
    ev.task = m[1].trim();
    ev.pid = Number(m[2]);
    ev.cpu = Number(m[3]);
    ev.flags = m[4];
  }
  return eventItems(ev, 'ftrace-dump');
}

export const ftraceDumpParser = {
  name: 'ftrace-dump',
  sniff(body: string, ctx: LineContext): boolean {
    return ctx.state.dump === 'body' || body.includes('us ') || body.includes('us:');
  },
  parse(body: string, ctx: LineContext): ParsedItem[] | undefined {
    if (ctx.state.dump === 'body' && body.startsWith('CPU:')) return lostItems(body, 'ftrace-dump');
    return parseLatencyLine(body);
  },
} satisfies LineParser;
