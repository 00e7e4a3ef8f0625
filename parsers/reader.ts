// The reader owns framing for one input file (Perfetto's reader layer): physical line numbers,
// CR / NUL / escape-sequence stripping, console lines split by interleaved QEMU records (glued back
// together), the printk and syslog prefixes, and the oops-time dump section. Each logical line is
// then offered to the format modules in parsers/index.ts, and what they yield goes to a sink.
import type { ConsoleRecord, CpuFactRecord, EventRecord, Format, ParseIssue, ParsedItem } from '../schema/records.js';
import { blankConsole } from '../schema/vocabulary.js';
import type { StatName } from '../schema/stats.js';
import { consoleOutOfRange, eventOutOfRange, factOutOfRange, PID_MAX_LIMIT } from './bounds.js';
import { DUMP_EVENT_LIKE, DUMP_FENCE } from './ftrace-dump.js';
import { FTRACE_EVENT_LIKE } from './ftrace-text.js';
import { parseLine } from './index.js';
import { secondsToNs } from './patterns.js';
import { findQemuRecordStart, knownQemuTids, noteQemuTid } from './qemu-trace.js';
import { newSourceState, type LineContext, type SourceState } from './types.js';

/** Where the reader sends what it finds. Every item carries the physical line it came from. */
export interface ReaderSink {
  event(ev: EventRecord, line: number): void;
  console(msg: ConsoleRecord, line: number): void;
  cpuFact(fact: CpuFactRecord, line: number): void;
  issue(issue: ParseIssue, line: number, sample: string): void;
  stat(name: StatName, key: string, add: number): void;
  format(format: Format): void;
  /**
   * True when the sink reads an event record only during its event() call and keeps nothing of it
   * (not the object, not its targets array): the caller may then refill one record for every event.
   */
  readonly borrowsRecords?: boolean;
}

/** Lines longer than this are not parsed (no real event or message comes close). */
export const MAX_LINE_CHARS = 65536;

// [    4.074854] text   |   <6>[    4.074854] text   |   [ 1118.013725][    C0] text   |   [  3.1][ T123] text
const PRINTK_PREFIX = /^(?:<\d+>)?\[\s*(\d+)\.(\d+)\](?:\[\s*([CT])(\d+)\])? ?/;
// Jan 23 23:39:43 worker0 kernel: [285737.522743] ...   |   2024-01-23T23:39:43.123+00:00 host kernel: ...
const SYSLOG_PREFIX = /^(?:[A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?) \S+ kernel: /;
// dmesg -x: `kern  :warn  : [    5.100000] text` (facility and level names, util-linux dmesg.c)
const DMESG_LEVEL = /^(?:kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local[0-7]) *:(?:emerg|alert|crit|err|warn|notice|info|debug) *: /;
// dmesg -T / --time-format ctime: `[Wed Dec  2 03:00:00 2026] text`; --time-format iso:
// `2026-12-02T03:00:00,123456+00:00 text`. Wall-clock times, computed by dmesg from the monotonic
// stamp and an estimated boot time: not kept (they are no printk clock).
const DMESG_WALL = /^(?:\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\]|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d+[+-]\d\d:?\d\d) /;
// journalctl -k -o short-monotonic: `[    6.123456] host kernel: text` (the host after the stamp)
const JOURNAL_HOST = /^\S+ kernel: /;
// A printk stamp inside a line (console output glued after other text): six decimals, as printk prints.
const GLUED_PRINTK = /(?:<\d+>)?\[\s*\d+\.\d{6}\](?:\[\s*[CT]\d+\])?/;
// A QEMU record's thread id: `29728@1795309286.727317:apic_local_deliver ...`
const QEMU_TID = /^(\d+)@/;
// ANSI escape sequences (SeaBIOS clears the screen on the serial console).
const ESCAPES = /\x1b(?:\[[0-9;?]*[A-Za-z]|[A-Za-z])/g;
// LAVA CI logs keep a JSON residue at each line end: `[    1.143924] ------------[ cut here ]------------"}`
const LAVA_RESIDUE = '"}';

/**
 * True when some ']' in `body` has a '.' seven characters before it (`.123456]`), which every match
 * of GLUED_PRINTK contains: a test of a few characters instead of the regex on every line (an ftrace
 * event line has '[', '.' and ']' but never that).
 */
function hasPrintkStampEnd(body: string): boolean {
  for (let at = body.indexOf(']', 7); at >= 0; at = body.indexOf(']', at + 1)) {
    if (body.charCodeAt(at - 7) === 0x2e) return true;
  }
  return false;
}

interface Fragment {
  text: string;
  line: number;
}

export class SourceReader {
  private lineNo = 0;
  private readonly state: SourceState = newSourceState();
  private fragment: Fragment | null = null;

  constructor(private readonly sink: ReaderSink) {}

  /** Physical lines read so far. */
  get lines(): number {
    return this.lineNo;
  }

  /** Feeds one physical line (without its '\n'). */
  pushLine(raw: string): void {
    const lineNo = ++this.lineNo;
    if (raw.length > MAX_LINE_CHARS) {
      this.sink.stat('long_lines', '', 1);
      this.sink.issue({ format: 'input', reason: `line longer than ${MAX_LINE_CHARS} characters` }, lineNo, raw);
      this.sink.format('other');
      return;
    }
    const line = this.clean(raw);
    const start = line.includes('@') ? findQemuRecordStart(line, knownQemuTids(this.state)) : -1;
    if (start > 0) {
      this.holdFragment(line.slice(0, start), lineNo);
      this.dispatch(line.slice(start), lineNo);
    } else if (start === 0) {
      this.dispatch(line, lineNo);
    } else {
      this.dispatchConsoleText(line, lineNo);
    }
  }

  /** Flushes a console fragment still waiting for its continuation (file cut mid-line). */
  end(): void {
    if (this.fragment) {
      const { text, line } = this.fragment;
      this.fragment = null;
      this.dispatch(text, line);
    }
    if (this.state.dump !== 'none') this.sink.stat('dump_truncated', '', 1);
  }

  private clean(raw: string): string {
    let line = raw;
    if (line.includes('\0')) {
      const before = line.length;
      line = line.replaceAll('\0', '');
      this.sink.stat('nul_bytes', '', before - line.length);
    }
    if (line.includes('\uFFFD')) this.sink.stat('invalid_utf8_lines', '', 1);
    while (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.includes('\x1b')) line = line.replace(ESCAPES, '');
    return line;
  }

  private holdFragment(text: string, lineNo: number): void {
    if (this.fragment) this.fragment.text += text;
    else this.fragment = { text, line: lineNo };
  }

  /** A line with no QEMU record in it: it completes a held console fragment, if there is one. */
  private dispatchConsoleText(line: string, lineNo: number): void {
    if (this.fragment) {
      const { text, line: first } = this.fragment;
      this.fragment = null;
      this.sink.stat('glued_console_fragments', '', 1);
      this.dispatch(text + line, first);
      return;
    }
    this.dispatch(line, lineNo);
  }

  /** One logical line: strip the console prefix, track dump sections, ask the format modules. */
  private dispatch(line: string, lineNo: number): void {
    const ctx: LineContext = { consoleTsNs: null, callerCpu: null, fromConsole: false, state: this.state };
    let body = line;
    const first = body.charCodeAt(0);
    const qemuTid = first >= 0x30 && first <= 0x39 ? QEMU_TID.exec(body) : null;
    if (qemuTid) {
      const tid = Number(qemuTid[1]);
      if (tid <= PID_MAX_LIMIT) noteQemuTid(this.state, tid);
    }
    else body = this.stripConsolePrefix(body, ctx);
    if (!qemuTid) body = this.splitGluedConsole(body, ctx, lineNo);

    const sectionItems = this.trackDumpSection(body, ctx);
    const parsed = sectionItems ? { format: 'ftrace-dump' as const, items: sectionItems } : parseLine(body, ctx);
    if (parsed === undefined) {
      this.unrecognized(body, ctx, lineNo);
      return;
    }
    this.emit(parsed.items, lineNo, line);
    this.sink.format(parsed.format);
  }

  /**
   * A kernel message glued after other output (`...test output[  123.456789] CPU3 is now offline`,
   * `syzkaller login: [  417.725670][    C1] rcu: INFO: ...`): the text before the printk stamp is
   * kept as console text and counted (stat console_after_text); the message is read as a line of
   * its own. Only a stamp with six decimals (printk's own) counts, and never inside an ftrace
   * event line.
   */
  private splitGluedConsole(body: string, ctx: LineContext, lineNo: number): string {
    if (!hasPrintkStampEnd(body)) return body;
    const m = GLUED_PRINTK.exec(body);
    if (m === null || m.index === 0 || FTRACE_EVENT_LIKE.test(body) || body.slice(m.index + m[0].length).trim() === '') return body;
    const before = body.slice(0, m.index);
    const beforeTs = ctx.consoleTsNs;
    const probe: LineContext = { ...ctx, consoleTsNs: null, callerCpu: null, caller: null, fromConsole: false };
    const rest = this.stripConsolePrefix(body.slice(m.index), probe);
    if (!probe.fromConsole) return body;
    Object.assign(ctx, { consoleTsNs: probe.consoleTsNs, callerCpu: probe.callerCpu, caller: probe.caller ?? null, fromConsole: true });
    if (before.trim() !== '') this.sink.console(blankConsole('text', before, beforeTs ?? ctx.consoleTsNs), lineNo);
    this.sink.stat('console_after_text', '', 1);
    return rest;
  }

  private stripConsolePrefix(line: string, ctx: LineContext): string {
    let body = line;
    // Both syslog forms start with a capital letter (month) or a digit (year).
    const first = body.charCodeAt(0);
    const syslog = (first >= 0x41 && first <= 0x5a) || (first >= 0x30 && first <= 0x39) ? SYSLOG_PREFIX.exec(body) : null;
    if (syslog) {
      body = body.slice(syslog[0].length);
      ctx.fromConsole = true;
    }
    const level = first >= 0x61 && first <= 0x7a ? DMESG_LEVEL.exec(body) : null;
    if (level) body = body.slice(level[0].length);
    const start = body.charCodeAt(0);
    const wall = start === 0x5b || (start >= 0x30 && start <= 0x39) ? DMESG_WALL.exec(body) : null;
    if (wall) {
      body = body.slice(wall[0].length);
      ctx.fromConsole = true;
    }
    const printk = !wall && (start === 0x5b || start === 0x3c) ? PRINTK_PREFIX.exec(body) : null;
    if (printk) {
      ctx.consoleTsNs = secondsToNs(printk[1], printk[2]);
      if (printk[3] === 'C') ctx.callerCpu = Number(printk[4]);
      if (printk[3] !== undefined) ctx.caller = `${printk[3]}${printk[4]}`;
      ctx.fromConsole = true;
      body = body.slice(printk[0].length);
      if (body.endsWith(LAVA_RESIDUE)) body = body.slice(0, -LAVA_RESIDUE.length);
      const host = body.includes(' kernel: ') ? JOURNAL_HOST.exec(body) : null;
      if (host) body = body.slice(host[0].length);
    }
    return body;
  }

  /** 'Dumping ftrace buffer:', then a dash fence, the dump, a dash fence (trace.c ftrace_dump_one()). */
  private trackDumpSection(body: string, ctx: LineContext): ParsedItem[] | undefined {
    const state = this.state;
    if (body.startsWith('Dumping ftrace') && body.endsWith('buffer:')) {
      state.dump = 'header';
      return [{ type: 'console', message: blankConsole('dump_begin', body, ctx.consoleTsNs) }];
    }
    if (state.dump === 'none') return undefined;
    const trimmed = body.trim();
    if (trimmed === DUMP_FENCE) {
      const closing = state.dump === 'body';
      state.dump = closing ? 'none' : 'body';
      return closing ? [{ type: 'console', message: blankConsole('dump_end', body, ctx.consoleTsNs) }] : [];
    }
    if (trimmed === '(ftrace buffer empty)') {
      state.dump = 'none';
      return [{ type: 'console', message: blankConsole('dump_end', body, ctx.consoleTsNs) }];
    }
    if (state.dump === 'header' && trimmed.startsWith('#')) return [];
    return undefined;
  }

  private unrecognized(body: string, ctx: LineContext, lineNo: number): void {
    if (FTRACE_EVENT_LIKE.test(body)) {
      // An event line whose layout is off (a garbled column): reported, not taken for console noise.
      this.sink.issue({ format: ctx.state.ftraceLayout, reason: 'ftrace event line whose columns do not parse' }, lineNo, body);
      this.sink.format(ctx.state.ftraceLayout);
    } else if (this.state.dump === 'body' && DUMP_EVENT_LIKE.test(body)) {
      this.sink.issue({ format: 'ftrace-dump', reason: 'ftrace dump line whose columns do not parse' }, lineNo, body);
      this.sink.format('ftrace-dump');
    } else if (ctx.fromConsole && ctx.consoleTsNs !== null && body.trim() !== '') {
      this.sink.console(blankConsole('text', body, ctx.consoleTsNs), lineNo);
      this.sink.format('console');
    } else {
      this.sink.format('other');
    }
  }

  /** A record with a number it cannot have (parsers/bounds.ts): an unparsed row instead. */
  private outOfRange(format: Format, reason: string, lineNo: number, line: string): void {
    this.sink.issue({ format, reason }, lineNo, line);
    this.sink.stat('unparsed_lines', format, 1);
    this.sink.stat('out_of_range', format, 1);
  }

  private emit(items: ParsedItem[], lineNo: number, line: string): void {
    for (const item of items) {
      switch (item.type) {
        case 'event': {
          const bad = eventOutOfRange(item.event);
          if (bad === null) this.sink.event(item.event, lineNo);
          else this.outOfRange(item.event.format, bad, lineNo, line);
          break;
        }
        case 'console': {
          const bad = consoleOutOfRange(item.message);
          if (bad === null) this.sink.console(item.message, lineNo);
          else this.outOfRange('console', bad, lineNo, line);
          break;
        }
        case 'cpu_fact': {
          const bad = factOutOfRange(item.fact);
          if (bad === null) this.sink.cpuFact(item.fact, lineNo);
          else this.outOfRange('console', bad, lineNo, line);
          break;
        }
        case 'issue':
          this.sink.issue(item.issue, lineNo, line);
          this.sink.stat('unparsed_lines', item.issue.format, 1);
          break;
        case 'stat':
          this.sink.stat(item.name, item.key ?? '', item.add ?? 1);
          break;
      }
    }
  }
}
