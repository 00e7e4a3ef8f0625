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
 * character (`statee:`, `ccpu:`, `targget:`); `ev.args` keeps what was printed.
 */
export function decodeEventArgs(ev: EventRecord): string | null {
  const decoder = EVENT_DECODERS.get(ev.kind);
  if (!decoder) return null;
  const error = decoder(ev.args, ev);
  if (error === null) return null;
  const repaired = ev.args.replace(KEYWORD, (_all, word: string, mark: string) => argKeyword(word) + mark);
  return repaired !== ev.args && decoder(repaired, ev) === null ? null : error;
}

/** The keywords typed events print before ':' or '=' (the format strings of the decoders above). */
const ARG_KEYWORDS = ['cpu', 'callsite', 'callback', 'cpumask', 'target_mask', 'func', 'csd', 'target', 'step',
  'state', 'ret', 'vector'];
const argKeyword = repeatRepair(ARG_KEYWORDS);
const KEYWORD = /([a-z_]+)([:=])/g;
