// ftrace text as read from /sys/kernel/tracing/trace or trace_pipe, and `trace-cmd report`.
// Context columns (kernel/trace/trace_output.c trace_print_context(), formats.md B.2/B.6):
//   "%16s-%-7d " comm-pid, ["(%7d) " tgid], "[%03d] " cpu, [5 irq-info flags], " %5lu.%06lu: "
// trace-cmd: pid width 5, event name padded to 20 columns; same regex.
import type { EventRecord, ParsedItem } from '../schema/records.js';
import { blankEvent } from '../schema/vocabulary.js';
import { decodeEventArgs, isTypedEvent, typedEventName } from './ftrace-events.js';
import { parseCpuList, secondsToNs } from './patterns.js';
import type { LineContext, LineParser } from './types.js';

//             init-1       [001] .....     4.074854: csd_queue_cpu: cpu=2 callsite=...
//     kworker/1:0-22      [001] .....     2.043922: ipi_send_cpumask: cpumask=00000000,0000000d ...
//            <...>-3979  [007]   217.975284: sched_stat_runtime:   comm=Thread-103 pid=3979 ...   (trace-cmd)
// The irq-info flags are 4 (<= 5.x) or 5 (6.x) characters; up to 12 are accepted, as a serial line
// sometimes repeats a character (`.........` in a real arm64 boot) and the event is still sound.
// The event part that ends each event line regex: `name: args` (groups +1 name, +2 args), or
// without a name (function tracer: `do_idle <-cpu_startup_entry`, group +3). Part of the line's
// regex rather than a second match on what it captured; eventFromParts() takes its groups. Args are
// trimmed at their start by eventFromParts, so the one space after the colon need not be matched.
export const EVENT_PART = String.raw`(?:([A-Za-z_]\w*):(.*)|(.*))$`;
// Groups 1 task, 2 pid, 3 cpu, 4 flags, 5 secs, 6 fraction, 7-9 EVENT_PART.
const CONTEXT = new RegExp(
  String.raw`^\s*(.*?)-(\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(\d+)\]\s+(?:([A-Za-z0-9.]{4,12})\s+)?(\d+)(?:\.(\d+))?:\s+`
  + EVENT_PART);
/** What an event line of the trace file looks like, loosely: `-PID [CPU] ... SECS.USECS: name: `. */
export const FTRACE_EVENT_LIKE = /-\d+\s+(?:\(.*?\)\s+)?\[\d+\]\s.*\d\.\d+:\s+\w+:/;
// A whole `name: args` text, for tp_printk lines (whose body is nothing but that).
const EVENT = /^([A-Za-z_][\w]*):\s?(.*)$/;

// # entries-in-buffer/entries-written: 15947/15947   #P:4
const ENTRIES = /^# entries-in-buffer\/entries-written: (\d+)\/(\d+)\s+#P:(\d+)/;
// CPU:1 [LOST 12570412 EVENTS]   (also: CPU:1 [LOST EVENTS]); trace-cmd: CPU:7 [204600 EVENTS DROPPED]
const LOST = /^CPU:(\d+) \[(?:LOST (\d+) EVENTS|LOST EVENTS|(\d+) EVENTS DROPPED|EVENTS DROPPED)\]/;
// ##### CPU 2 buffer started ####
const BUFFER_STARTED = /^##### CPU (\d+) buffer started/;
// trace-cmd report header lines
const TRACE_CMD_VERSION = /^version = \d+/;
const TRACE_CMD_CPUS = /^cpus=(\d+)$/;

/** Splits the `name: args` part into an event record with typed columns filled. */
export function buildEvent(
  format: EventRecord['format'], clock: EventRecord['clock'], rest: string,
): EventRecord | string {
  const m = EVENT.exec(rest);
  return m ? eventFromParts(format, clock, m[1], m[2], undefined) : eventFromParts(format, clock, undefined, undefined, rest);
}

/**
 * The event record (typed columns filled) or an error reason from EVENT_PART's three groups: the
 * name as printed and the args, or, for a line without a name, its text (a function-tracer event).
 */
export function eventFromParts(
  format: EventRecord['format'], clock: EventRecord['clock'],
  printedName: string | undefined, args: string | undefined, unnamed: string | undefined,
): EventRecord | string {
  let ev: EventRecord;
  if (printedName === undefined) {
    ev = blankEvent(format, clock, 'function', unnamed!);
  } else {
    const name = typedEventName(printedName);
    ev = blankEvent(format, clock, name, args!.trimStart());
    if (name !== printedName) corruptNames.set(ev, printedName);
  }
  const error = decodeEventArgs(ev);
  return error ?? ev;
}

/** Events whose name was repaired, with the name as printed (for the counter). */
const corruptNames = new WeakMap<EventRecord, string>();

/** The items an event line yields: the event, or an issue, plus the unknown-event and repaired-name counters. */
export function eventItems(ev: EventRecord | string, format: EventRecord['format']): ParsedItem[] {
  if (typeof ev === 'string') return [{ type: 'issue', issue: { format, reason: ev } }];
  const items: ParsedItem[] = [{ type: 'event', event: ev }];
  if (!isTypedEvent(ev.kind)) items.push({ type: 'stat', name: 'unknown_event', key: ev.kind });
  const printed = corruptNames.get(ev);
  if (printed !== undefined) items.push({ type: 'stat', name: 'repaired_event_names', key: printed });
  return items;
}

/** The lost-events marker, also used inside oops-time dumps. */
export function lostItems(body: string, format: EventRecord['format']): ParsedItem[] | undefined {
  const m = LOST.exec(body);
  if (!m) return undefined;
  const ev = blankEvent(format, 'none', 'lost_events', body);
  ev.op = 'lost';
  ev.cpu = Number(m[1]);
  const count = m[2] ?? m[3];
  ev.text = count ?? null;
  return [
    { type: 'event', event: ev },
    count === undefined
      ? { type: 'stat', name: 'lost_events_unknown_count', key: m[1] }
      : { type: 'stat', name: 'lost_events', key: m[1], add: Number(count) },
  ];
}

function headerItems(body: string): ParsedItem[] {
  const m = ENTRIES.exec(body);
  if (!m) return [];
  return [
    { type: 'stat', name: 'ftrace_entries_in_buffer', add: Number(m[1]) },
    { type: 'stat', name: 'ftrace_entries_written', add: Number(m[2]) },
    { type: 'cpu_fact', fact: { fact: 'online_at_read', count: Number(m[3]), cpus: null, text: body.slice(2) } },
  ];
}

function traceCmdHeader(body: string, ctx: LineContext): ParsedItem[] | undefined {
  // Both header lines start with 'v' or 'c': event lines are not tested against the regexes.
  const first = body.charCodeAt(0);
  if (first !== 0x76 && first !== 0x63) return undefined;
  if (TRACE_CMD_VERSION.test(body)) {
    ctx.state.ftraceLayout = 'trace-cmd';
    return [];
  }
  const cpus = TRACE_CMD_CPUS.exec(body);
  if (!cpus) return undefined;
  ctx.state.ftraceLayout = 'trace-cmd';
  const count = Number(cpus[1]);
  const list = parseCpuList(`0-${count - 1}`);
  return [{ type: 'cpu_fact', fact: { fact: 'trace_cpus', count, cpus: list ? `0-${count - 1}` : null, text: body } }];
}

function parseEventLine(body: string, ctx: LineContext): ParsedItem[] | undefined {
  const m = CONTEXT.exec(body);
  if (!m) return undefined;
  const format = ctx.state.ftraceLayout;
  // A bare integer timestamp is a non-ns trace clock (counter, x86-tsc): kept in args, not in ts_ns.
  const hasNsClock = m[6] !== undefined;
  const ev = eventFromParts(format, hasNsClock ? 'ftrace' : 'none', m[7], m[8], m[9]);
  if (typeof ev !== 'string') {
    ev.ts_ns = hasNsClock ? secondsToNs(m[5], m[6]) : null;
    ev.task = m[1].trim();
    ev.pid = Number(m[2]);
    ev.cpu = Number(m[3]);
    ev.flags = m[4] ?? null;
  }
  return eventItems(ev, format);
}

export const ftraceTextParser = {
  name: 'ftrace',
  sniff(body: string): boolean {
    // Event lines contain "[NNN]"; header and marker lines start with '#', 'CPU:', 'version', 'cpus='.
    return body.includes('] ') || body.startsWith('#') || body.startsWith('CPU:') || body.startsWith('version = ')
      || body.startsWith('cpus=');
  },
  parse(body: string, ctx: LineContext): ParsedItem[] | undefined {
    if (body.startsWith('#')) {
      if (BUFFER_STARTED.test(body)) return [];
      return body.startsWith('# ') || body === '#' ? headerItems(body) : undefined;
    }
    if (body.startsWith('CPU:')) return lostItems(body, ctx.state.ftraceLayout);
    const header = traceCmdHeader(body, ctx);
    if (header) return header;
    return parseEventLine(body, ctx);
  },
} satisfies LineParser;
