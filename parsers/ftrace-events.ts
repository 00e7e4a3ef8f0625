// Typed arguments of the trace events ipitrace understands. Shared by every layout that carries
// events (trace text, trace-cmd report, oops-time dump, tp_printk console lines): each layout
// tokenizes its context columns and hands (name, args) here. Formats: shared/docs/formats.md A.
import type { EventRecord } from '../schema/records.js';
import { normalizePointer, parseCpumask, repeatRepair, symbolName } from './patterns.js';

/** Fills the typed columns of `ev` from its kind and args. Returns an error reason, or null. */
export type ArgDecoder = (args: string, ev: EventRecord) => string | null;

// ipi_send_cpu: cpu=2 callsite=ipi_fault_write+0x1cf/0x221 callback=generic_smp_call_function_single_interrupt+0x0/0xe
const IPI_SEND_CPU = /^cpu=(\d+) callsite=(\S+) callback=(\S+)/;
// ipi_send_cpumask: cpumask=00000000,0000000e callsite=on_each_cpu_cond_mask+0x24/0x40 callback=generic_smp_call_function_single_interrupt+0x0/0x20
const IPI_SEND_CPUMASK = /^cpumask=(\S*) callsite=(\S+) callback=(\S+)/;
// ipi_raise: target_mask=00000000,00000001 (Function call interrupts)
const IPI_RAISE = /^target_mask=(\S*) \((.*)\)$/;
// ipi_entry: (Function call interrupts)
const IPI_HANDLER = /^\((.*)\)$/;
// csd_queue_cpu: cpu=2 callsite=ipi_fault_write+0x1cf/0x221 func=ipi_fault_func csd=ffffffff819f4b80
const CSD_QUEUE = /^cpu=(\d+) callsite=(\S+) func=(\S+) csd=(\S+)/;
// csd_function_entry: func=ipi_fault_func, csd=ffffffff819f4b80   (note the comma)
const CSD_FUNCTION = /^func=(\S+?),? csd=(\S+)/;
// cpuhp_enter: cpu: 0002 target:   0 step: 145 (takedown_cpu)
const CPUHP_ENTER = /^cpu:\s*(\d+)\s+target:\s*(-?\d+)\s+step:\s*(-?\d+)\s+\((.*)\)/;
// cpuhp_exit:  cpu: 0002  state:  87 step: 145 ret: 0
const CPUHP_EXIT = /^cpu:\s*(\d+)\s+state:\s*(-?\d+)\s+step:\s*(-?\d+)\s+ret:\s*(-?\d+)/;
// call_function_single_entry: vector=251
const VECTOR = /^vector=(\d+)/;

/** Reason recorded for ipi_send_cpu/_cpumask, from the callback the kernel passed. */
function sendReason(callback: string): string {
  if (callback === '0x0' || callback === '0') return 'reschedule';
  const sym = symbolName(callback);
  return sym === 'generic_smp_call_function_single_interrupt' ? 'call_function' : sym;
}

const decodeIpiSend: ArgDecoder = (args, ev) => {
  const m = IPI_SEND_CPU.exec(args);
  if (!m) return 'ipi_send_cpu arguments do not parse';
  ev.op = 'ipi_send';
  ev.target_cpu = Number(m[1]);
  ev.targets = [ev.target_cpu];
  ev.callsite = m[2];
  ev.callback = m[3];
  ev.reason = sendReason(m[3]);
  return null;
};

const decodeIpiSendMask: ArgDecoder = (args, ev) => {
  const m = IPI_SEND_CPUMASK.exec(args);
  const cpus = m ? parseCpumask(m[1]) : null;
  if (!m || !cpus) return 'ipi_send_cpumask arguments do not parse';
  ev.op = 'ipi_send';
  ev.targets = cpus;
  ev.callsite = m[2];
  ev.callback = m[3];
  ev.reason = sendReason(m[3]);
  return null;
};

/**
 * IPI names by index (= SGI number) as the arm64 and 32-bit arm kernels print them (arch/arm64/kernel/
 * smp.c, arch/arm/kernel/smp.c ipi_types[]; shared/docs/formats.md A.3).
 */
export const ARM_IPI_NAMES = {
  arm64: ['Rescheduling interrupts', 'Function call interrupts', 'CPU stop interrupts', 'CPU stop NMIs',
    'Timer broadcast interrupts', 'IRQ work interrupts', 'CPU backtrace interrupts', 'KGDB roundup interrupts'],
  arm32: ['CPU wakeup interrupts', 'Timer broadcast interrupts', 'Rescheduling interrupts', 'Function call interrupts',
    'CPU stop interrupts', 'IRQ work interrupts', 'completion interrupts'],
} as const;

/** Every IPI name ipi_raise / ipi_entry print: arm64 (and its older crash-dump stop), arm32, riscv. */
const IPI_REASONS = new Set<string>([...ARM_IPI_NAMES.arm64, ...ARM_IPI_NAMES.arm32, 'CPU stop (for crash dump) interrupts']);

/** The IPI name, repaired where a serial line repeated some of its characters (patterns.repeatRepair). */
const ipiReason = repeatRepair(IPI_REASONS);

const decodeIpiRaise: ArgDecoder = (args, ev) => {
  const m = IPI_RAISE.exec(args);
  const cpus = m ? parseCpumask(m[1]) : null;
  if (!m || !cpus) return 'ipi_raise arguments do not parse';
  ev.op = 'ipi_send';
  ev.targets = cpus;
  ev.reason = ipiReason(m[2]);
  return null;
};

function decodeIpiHandler(op: 'ipi_entry' | 'ipi_exit'): ArgDecoder {
  return (args, ev) => {
    const m = IPI_HANDLER.exec(args);
    if (!m) return `${ev.kind} arguments do not parse`;
    ev.op = op;
    ev.reason = ipiReason(m[1]);
    return null;
  };
}

const decodeCsdQueue: ArgDecoder = (args, ev) => {
  const m = CSD_QUEUE.exec(args);
  if (!m) return 'csd_queue_cpu arguments do not parse';
  ev.op = 'csd_queue';
  ev.target_cpu = Number(m[1]);
  ev.targets = [ev.target_cpu];
  ev.callsite = m[2];
  ev.func = symbolName(m[3]);
  ev.csd = normalizePointer(m[4]);
  return null;
};

function decodeCsdFunction(op: 'csd_entry' | 'csd_exit'): ArgDecoder {
  return (args, ev) => {
    const m = CSD_FUNCTION.exec(args);
    if (!m) return `${ev.kind} arguments do not parse`;
    ev.op = op;
    ev.func = symbolName(m[1]);
    ev.csd = normalizePointer(m[2]);
    return null;
  };
}

const decodeCpuhpEnter: ArgDecoder = (args, ev) => {
  const m = CPUHP_ENTER.exec(args.trimStart());
  if (!m) return `${ev.kind} arguments do not parse`;
  ev.op = 'hp_enter';
  ev.target_cpu = Number(m[1]);
  ev.hp_state = Number(m[2]);
  ev.hp_step = Number(m[3]);
  ev.func = symbolName(m[4]);
  return null;
};

const decodeCpuhpExit: ArgDecoder = (args, ev) => {
  const m = CPUHP_EXIT.exec(args.trimStart());
  if (!m) return 'cpuhp_exit arguments do not parse';
  ev.op = 'hp_exit';
  ev.target_cpu = Number(m[1]);
  ev.hp_state = Number(m[2]);
  ev.hp_step = Number(m[3]);
  ev.hp_ret = Number(m[4]);
  return null;
};

/** x86 irq_vectors handlers that are IPIs (op ipi_entry/ipi_exit) and their names. */
const IPI_VECTOR_EVENTS = new Set(['call_function', 'call_function_single', 'reschedule', 'irq_work']);

function decodeVector(name: string, edge: 'entry' | 'exit'): ArgDecoder {
  return (args, ev) => {
    const m = VECTOR.exec(args);
    if (!m) return `${ev.kind} arguments do not parse`;
    ev.vector = Number(m[1]);
    ev.reason = name;
    if (IPI_VECTOR_EVENTS.has(name)) ev.op = edge === 'entry' ? 'ipi_entry' : 'ipi_exit';
    return null;
  };
}

const decodeMarker: ArgDecoder = (args, ev) => {
  ev.op = 'marker';
  // trace-cmd prints `print: tracing_mark_write: text`; the trace file prints `tracing_mark_write: text`.
  ev.text = args.startsWith('tracing_mark_write: ') ? args.slice(20) : args;
  return null;
};

const X86_VECTOR_NAMES = [
  'local_timer', 'spurious_apic', 'error_apic', 'x86_platform_ipi', 'irq_work', 'reschedule',
  'call_function', 'call_function_single', 'threshold_apic', 'deferred_error_apic', 'thermal_apic',
];

/** Decoders by event name. Events not listed are stored with their raw arguments only. */
export const EVENT_DECODERS: ReadonlyMap<string, ArgDecoder> = new Map<string, ArgDecoder>([
  ['ipi_send_cpu', decodeIpiSend],
  ['ipi_send_cpumask', decodeIpiSendMask],
  ['ipi_raise', decodeIpiRaise],
  ['ipi_entry', decodeIpiHandler('ipi_entry')],
  ['ipi_exit', decodeIpiHandler('ipi_exit')],
  ['csd_queue_cpu', decodeCsdQueue],
  ['csd_function_entry', decodeCsdFunction('csd_entry')],
  ['csd_function_exit', decodeCsdFunction('csd_exit')],
  ['cpuhp_enter', decodeCpuhpEnter],
  ['cpuhp_multi_enter', decodeCpuhpEnter],
  ['cpuhp_exit', decodeCpuhpExit],
  ['tracing_mark_write', decodeMarker],
  ['print', decodeMarker],
  ...X86_VECTOR_NAMES.flatMap((name): [string, ArgDecoder][] => [
    [`${name}_entry`, decodeVector(name, 'entry')],
    [`${name}_exit`, decodeVector(name, 'exit')],
  ]),
]);

/** True for event names whose arguments ipitrace types. */
export function isTypedEvent(name: string): boolean {
  return EVENT_DECODERS.has(name);
}

/** A typed event name a serial line garbled by repeating characters, as the name it is; else the name. */
export const typedEventName = repeatRepair(EVENT_DECODERS.keys());

/**
 * Decodes `args` into `ev` when the event is typed. Returns an error reason, or null. Arguments that
 * do not decode are tried once more with their keywords repaired where a serial line repeated a
 * character (`statee:`, `ccpu:`, `targget:`); `ev.args` keeps what was printed. `ev` comes from
 * blankEvent (its typed columns empty).
 *
 * A trace repeats its arguments (the same csd, callback and cpuhp step lines over and over: 1,500
 * distinct arguments among 211 k events in a long hotplug recording), and a decoder is a function of
 * the event name and arguments alone: what it gave for equal arguments is copied instead of matching
 * them again (DecodeMemo). `ev.args` then becomes the equal string kept there.
 */
export function decodeEventArgs(ev: EventRecord): string | null {
  const decoder = EVENT_DECODERS.get(ev.kind);
  if (!decoder) return null;
  const memo = memoFor(ev.kind);
  const known = memo.get(ev.args);
  if (known !== undefined) return known.applyTo(ev);
  const error = decodeWith(decoder, ev);
  memo.remember(ev, error);
  return error;
}

function decodeWith(decoder: ArgDecoder, ev: EventRecord): string | null {
  const error = decoder(ev.args, ev);
  if (error === null) return null;
  const repaired = ev.args.replace(KEYWORD, (_all, word: string, mark: string) => argKeyword(word) + mark);
  return repaired !== ev.args && decoder(repaired, ev) === null ? null : error;
}

/** What a decoder wrote into a blank record for some arguments: every column a decoder may set. */
class Decoded {
  readonly args: string;
  readonly op: EventRecord['op'];
  readonly targetCpu: number | null;
  readonly targets: readonly number[];
  readonly csd: string | null;
  readonly func: string | null;
  readonly callsite: string | null;
  readonly callback: string | null;
  readonly reason: string | null;
  readonly vector: number | null;
  readonly hpState: number | null;
  readonly hpStep: number | null;
  readonly hpRet: number | null;
  readonly text: string | null;

  constructor(ev: EventRecord, readonly error: string | null) {
    // Copies, not slices of the line: a slice keeps the whole chunk of text it was cut from alive.
    this.args = own(ev.args)!;
    this.op = ev.op;
    this.targetCpu = ev.target_cpu;
    this.targets = ev.targets.slice();
    this.csd = own(ev.csd);
    this.func = own(ev.func);
    this.callsite = own(ev.callsite);
    this.callback = own(ev.callback);
    this.reason = own(ev.reason);
    this.vector = ev.vector;
    this.hpState = ev.hp_state;
    this.hpStep = ev.hp_step;
    this.hpRet = ev.hp_ret;
    this.text = own(ev.text);
  }

  /** Writes the decoded columns into a blank record; returns the decoder's error reason or null. */
  applyTo(ev: EventRecord): string | null {
    ev.args = this.args;
    ev.op = this.op;
    ev.target_cpu = this.targetCpu;
    ev.targets = this.targets.length === 0 ? [] : this.targets.slice();
    ev.csd = this.csd;
    ev.func = this.func;
    ev.callsite = this.callsite;
    ev.callback = this.callback;
    ev.reason = this.reason;
    ev.vector = this.vector;
    ev.hp_state = this.hpState;
    ev.hp_step = this.hpStep;
    ev.hp_ret = this.hpRet;
    ev.text = this.text;
    return this.error;
  }
}

/** A string that shares no storage with the text it was cut from (V8 copies below 13 characters). */
function own(text: string | null): string | null {
  return text === null || text.length < 13 ? text : (' ' + text).slice(1);
}

/**
 * Decoded arguments of one event name, bounded. Where the arguments hardly repeat (a trace of
 * unique markers), remembering costs more than it saves: after MEMO_TRIAL lookups with fewer than
 * one in MEMO_MIN_HITS found, the name is decoded every time.
 */
class DecodeMemo {
  private entries = new Map<string, Decoded>();
  private lookups = 0;
  private hits = 0;
  private off = false;

  get(args: string): Decoded | undefined {
    if (this.off) return undefined;
    const found = this.entries.get(args);
    if (found !== undefined) this.hits++;
    if (++this.lookups === MEMO_TRIAL && this.hits * MEMO_MIN_HITS < MEMO_TRIAL) {
      this.off = true;
      this.entries = new Map();
    }
    return found;
  }

  remember(ev: EventRecord, error: string | null): void {
    if (this.off) return;
    if (this.entries.size >= MEMO_ENTRIES) this.entries = new Map();
    const decoded = new Decoded(ev, error);
    this.entries.set(decoded.args, decoded);
  }
}

const MEMO_ENTRIES = 2048;
const MEMO_TRIAL = 8192;
const MEMO_MIN_HITS = 2;
const MEMOS = new Map<string, DecodeMemo>();

function memoFor(kind: string): DecodeMemo {
  let memo = MEMOS.get(kind);
  if (memo === undefined) MEMOS.set(kind, (memo = new DecodeMemo()));
  return memo;
}

/** The keywords typed events print before ':' or '=' (the format strings of the decoders above). */
const ARG_KEYWORDS = ['cpu', 'callsite', 'callback', 'cpumask', 'target_mask', 'func', 'csd', 'target', 'step',
  'state', 'ret', 'vector'];
const argKeyword = repeatRepair(ARG_KEYWORDS);
const KEYWORD = /([a-z_]+)([:=])/g;
