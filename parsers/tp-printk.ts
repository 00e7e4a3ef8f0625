// Trace events printed to the console with the `tp_printk` boot option (kernel/trace/trace.c
// output_printk(), formats.md B.5): the printk prefix, then `name: args` with no task, pid or CPU.
//   [    0.886430] csd_queue_cpu: cpu=0 callsite=ttwu_queue_wakelist+0xdd/0x100 func=sched_ttwu_pending csd=(____ptrval____)
// Only events ipitrace types are taken: a bare `word: text` console line is far more often an
// ordinary kernel message ("smpboot: CPU 2 is now offline").
import type { ParsedItem } from '../schema/records.js';
import { buildEvent, eventItems } from './ftrace-text.js';
import { isTypedEvent } from './ftrace-events.js';
import type { LineContext, LineParser } from './types.js';

function eventName(body: string): string | null {
  const colon = body.indexOf(': ');
  if (colon <= 0) return null;
  const name = body.slice(0, colon);
  return isTypedEvent(name) && name !== 'print' ? name : null;
}

export const tpPrintkParser = {
  name: 'tp-printk',
  sniff(body: string, ctx: LineContext): boolean {
    return ctx.fromConsole && eventName(body) !== null;
  },
  parse(body: string, ctx: LineContext): ParsedItem[] | undefined {
    const ev = buildEvent('tp-printk', 'printk', body);
    if (typeof ev !== 'string') {
      ev.ts_ns = ctx.consoleTsNs;
      if (ctx.consoleTsNs === null) ev.clock = 'none';
      ev.cpu = ctx.callerCpu;
    }
    return eventItems(ev, 'tp-printk');
  },
} satisfies LineParser;
