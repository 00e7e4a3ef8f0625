// QEMU `log` trace-backend lines (shared/docs/formats.md C.1, C.3): one EventRecord per line.
//
// Prefix forms accepted (C.1; scripts/tracetool/backend/log.py and util/log.c of each version):
//   `TID@SECS.USEC:name args`              QEMU 7.2 .. 10.0 with -msg timestamp=on (log.py prints
//                                          qemu_get_thread_id() and gettimeofday(), no space after ':')
//   `name args`                            without -msg timestamp=on; only for BARE_EVENT_FAMILIES
//   `2025-08-20T10:11:12.123456Z (TID) name args`   June-2025 patch
//   `2025-08-20T10:11:12.123456Z name args`         QEMU >= 012842c0755 (11.x): log.py calls plain
//                                          qemu_log("name " fmt), which prefixes g_date_time_format_iso8601()
//                                          of UTC now; no thread id. glib leaves out the fraction when
//                                          the microsecond is 0 (`...T03:34:13Z name`).
//   `ISO [workload] prog: (TID:thread name): name args`   util/message.c qmessage_context_print()
//                                          (qemu-devel series "sync error_report & qemu_log output"),
//                                          each part optional; a vCPU thread is named `CPU N/TCG`
//                                          (or /KVM), which names the vCPU that logged the line.
// Times become clock 'qemu-host' with ts_ns a BigInt of host epoch ns (exact: epoch ns > 2^53).
//
// Typed decoding (a switch on the event name; every other event is stored with kind + raw args):
//   x86 APIC  apic_mem_writel / apic_register_write of ICR (ipi_send), EOI, apic_deliver_irq,
//             cpu_set_apic_base (x2APIC mode per thread).
//   GICv3     gicv3_icc_generate_sgi (ipi_send), gicv3_redist_send_sgi (ipi_pending),
//             gicv3_icc_iar1_read (ipi_ack for SGIs), gicv3_icc_eoir_write (eoi).
//   GICv2     gic_dist_write to GICD_SGIR (ipi_send), gic_acknowledge_irq (ipi_ack for SGIs),
//             gic_cpu_read of GICC_IAR (src=N), gic_cpu_write of GICC_EOIR (eoi).
//
// Per-source state (ctx.state.qemu, see QemuState) is keyed by host thread id: under MTTCG each
// vCPU runs on its own host thread, so the thread identifies the APIC / CPU interface that made
// an access. Lines without a thread id share one key (-1): pairing is then by file order only.
import type { Clock, EventRecord, ParsedItem } from '../schema/records.js';
import { blankEvent } from '../schema/vocabulary.js';
import {
  apicBaseWrite, apicRegisterRead, apicRegisterWrite, DELIVERY_MODES, newApicState, noteApicId, type ApicState,
} from './qemu-apic.js';
import type { LineContext, LineParser, SourceState } from './types.js';

// ---------------------------------------------------------------------------------------------
// Event-name families recognised without any prefix. An entry ending in '_' is a family prefix,
// any other entry an exact event name. This is the only list of them.
export const BARE_EVENT_FAMILIES: readonly string[] = [
  'apic_', 'cpu_set_apic_base', 'cpu_get_apic_base', 'gic_', 'gicv3_',
];

/** True when `name` (the first word of a prefix-less line) is a QEMU event we accept bare. */
export function isBareQemuEventName(name: string): boolean {
  for (const family of BARE_EVENT_FAMILIES) {
    if (family.endsWith('_') ? name.startsWith(family) && name.length > family.length : name === family) {
      return EVENT_NAME.test(name);
    }
  }
  return false;
}

const EVENT_NAME = /^[a-z][a-z0-9_]*$/;

// ---------------------------------------------------------------------------------------------
// Per-source state.

export interface QemuState {
  /** Host thread ids seen at the start of a record (reader: noteQemuTid). */
  tids: Set<number>;
  /** x86 local APIC state per host thread (parsers/qemu-apic.ts). */
  apic: ApicState;
  /** GICv2: the `cpu N` last named by gic_cpu_read/gic_cpu_write/gic_acknowledge_irq, per thread. */
  gicCpu: Map<number, number>;
}

/** The QEMU module's sub-object of the per-source state, created on first use. */
export function qemuState(state: SourceState): QemuState {
  const q = state.qemu as Partial<QemuState>;
  if (q.tids === undefined) {
    q.tids = new Set();
    q.apic = newApicState();
    q.gicCpu = new Map();
  }
  return q as QemuState;
}

/** Records a host thread id seen at the start of a `TID@SECS.USEC:` record. */
export function noteQemuTid(state: SourceState, tid: number): void {
  qemuState(state).tids.add(tid);
}

/** Host thread ids recorded so far (for findQemuRecordStart). */
export function knownQemuTids(state: SourceState): Set<number> {
  return qemuState(state).tids;
}

// ---------------------------------------------------------------------------------------------
// Embedded records in console lines.

/** Linux PID_MAX_LIMIT (4M, 64-bit): no host thread id is larger, so no tid has more than 7 digits. */
const PID_MAX_LIMIT = 4194304;
// What follows the '@' of a record: SECS.USEC:name, then a space or the end of the line.
const AFTER_AT = /\d{1,12}\.\d{1,9}:[A-Za-z_][A-Za-z0-9_]*(?: |$)/y;

/**
 * Index where an embedded `TID@SECS.USEC:name` record starts in a physical line (0 when the line
 * starts with one), or -1. When digits precede the record (`[    0.027265206@...` is console
 * `[    0.02726` + tid 5206), the split is ambiguous; candidates are digit suffixes without a leading
 * zero and <= PID_MAX_LIMIT. Preference: the longest candidate in knownTids; else the candidate
 * with the digit count most known tids have; else the longest candidate.
 */
export function findQemuRecordStart(line: string, knownTids: ReadonlySet<number>): number {
  let at = line.indexOf('@');
  while (at !== -1) {
    let runStart = at;
    while (runStart > 0 && isDigit(line.charCodeAt(runStart - 1))) runStart--;
    if (runStart < at) {
      AFTER_AT.lastIndex = at + 1;
      if (AFTER_AT.test(line)) {
        const start = chooseTidStart(line, runStart, at, knownTids);
        if (start !== -1) return start;
      }
    }
    at = line.indexOf('@', at + 1);
  }
  return -1;
}

function chooseTidStart(line: string, runStart: number, at: number, known: ReadonlySet<number>): number {
  // A line that is nothing but digits and a record: the record, whatever its tid (no console text to split off).
  if (runStart === 0 && at - runStart > 7) return 0;
  // Fast path: the whole digit run is a known tid (every record at a line start of a QEMU log).
  if (at - runStart <= 7 && line.charCodeAt(runStart) !== 48 && known.has(Number(line.slice(runStart, at)))) {
    return runStart;
  }
  let longest = -1;
  let bestKnown = -1;
  for (let i = Math.max(runStart, at - 7); i < at; i++) {
    if (line.charCodeAt(i) === 48) continue; // a leading zero: QEMU prints %d
    const tid = Number(line.slice(i, at));
    if (tid > PID_MAX_LIMIT) continue;
    if (longest === -1) longest = i;
    if (bestKnown === -1 && known.has(tid)) bestKnown = i;
  }
  if (bestKnown !== -1 || longest === -1) return bestKnown;
  const digits = commonDigitCount(known);
  if (digits > 0 && at - digits >= longest && line.charCodeAt(at - digits) !== 48) return at - digits;
  return longest;
}

/** The digit count most known tids have (on a tie the longer one); 0 for an empty set. */
function commonDigitCount(known: ReadonlySet<number>): number {
  const counts = new Array<number>(12).fill(0);
  for (const tid of known) counts[Math.min(11, String(tid).length)]++;
  let best = 0;
  for (let d = 1; d < counts.length; d++) if (counts[d] > 0 && counts[d] >= counts[best]) best = d;
  return best;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

// ---------------------------------------------------------------------------------------------
// Line prefixes.

// 5208@1795310003.813836:apic_mem_writel 0xb0 = 0x00000000
// (Any digit count: a tid beyond PID_MAX_LIMIT is an unparsed row, parsers/bounds.ts.)
const TID_LINE = /^(\d+)@(\d+)\.(\d+):([A-Za-z_][A-Za-z0-9_]*)(?: (.*))?$/s;
// 2025-08-20T10:11:12.123456Z (4242) name args   |   2025-08-20T10:11:12.123456Z name args
const ISO_LINE = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z (?:\((\d+)\) )?(.*)$/s;
// The event after an ISO stamp: a trace event name (lowercase, with an '_'), so that other
// qemu_log() output ('qemu-system-arm: terminating ...', 'Taking exception ...') is not an event.
const ISO_EVENT = /^([a-z][a-z0-9]*_[a-z0-9_]*)(?: (.*))?$/s;
// qmessage_context_print() after the stamp: `[workload] `, `prog: `, `(tid:thread name): `, each optional.
const ISO_CONTEXT = /^(?:\[[^\]\n]*\] )?(?:[A-Za-z0-9_.+\/-]+: )?(?:\((\d+):([^)\n]*)\): )?/;
/** QEMU's vCPU thread names (qemu_thread_create "CPU %d/%s" in accel/tcg, kvm, hvf, ...). */
const VCPU_THREAD = /^CPU (\d+)\/[A-Za-z]+$/;

/** Host epoch ns from `SECS` and a decimal fraction of up to 9 digits, exact (BigInt). */
function epochNs(secs: string, fraction: string): bigint | null {
  if (fraction.length > 9 || secs.length > 12) return null;
  if (fraction.length === 6 && (secs.length < 10 || (secs.length === 10 && secs < '9007199254'))) {
    // The usual %06 usec: secs * 1e6 + usec is then below 2^53, an exact double, so one BigInt
    // multiply suffices (half the cost of parsing a 19-digit string as a BigInt).
    return BigInt(Number(secs) * 1_000_000 + Number(fraction)) * 1000n;
  }
  return BigInt(secs + fraction.padEnd(9, '0'));
}

function isoNs(m: RegExpExecArray): bigint | null {
  const mo = Number(m[2]), d = Number(m[3]), h = Number(m[4]), mi = Number(m[5]), s = Number(m[6]);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  const secs = Date.UTC(Number(m[1]), mo - 1, d, h, mi, s) / 1000;
  return BigInt(secs) * 1_000_000_000n + BigInt((m[7] ?? '').padEnd(9, '0'));
}

function issue(reason: string): ParsedItem[] {
  return [{ type: 'issue', issue: { format: 'qemu', reason } }];
}

// ---------------------------------------------------------------------------------------------
// The module.

function sniff(body: string, ctx: LineContext): boolean {
  if (ctx.fromConsole) return false;
  const c = body.charCodeAt(0);
  if (isDigit(c)) {
    let i = 1;
    while (i < body.length && isDigit(body.charCodeAt(i))) i++;
    const next = body.charCodeAt(i);
    if (next === 64 /* @ */) return true;
    return i === 4 && next === 45 /* - */ && body.charCodeAt(10) === 84 /* T */;
  }
  if (c === 97 /* a */ || c === 99 /* c */ || c === 103 /* g */) return isBareQemuEventName(firstWord(body));
  return false;
}

function firstWord(body: string): string {
  const sp = body.indexOf(' ');
  return sp < 0 ? body : body.slice(0, sp);
}

function parse(body: string, ctx: LineContext): ParsedItem[] | undefined {
  if (ctx.fromConsole) return undefined;
  let clock: Clock = 'none';
  let ts: bigint | null = null;
  let tid: number | null = null;
  let vcpu: string | null = null;
  let name: string;
  let args: string;
  const c = body.charCodeAt(0);
  if (isDigit(c)) {
    const m = TID_LINE.exec(body);
    if (m !== null) {
      ts = epochNs(m[2], m[3]);
      if (ts === null) return issue('bad timestamp');
      clock = 'qemu-host';
      tid = Number(m[1]);
      name = m[4];
      args = m[5] ?? '';
    } else {
      const iso = ISO_LINE.exec(body);
      if (iso === null) {
        // `TID@...` that is not a record (truncated line, glued garbage): clearly QEMU, malformed.
        let i = 1;
        while (i < body.length && isDigit(body.charCodeAt(i))) i++;
        return body.charCodeAt(i) === 64 ? issue('malformed QEMU trace record') : undefined;
      }
      let rest = iso[9];
      let threadTid: number | null = null;
      if (iso[8] === undefined) {
        const context = ISO_CONTEXT.exec(rest)!;
        if (context[0].length > 0) {
          rest = rest.slice(context[0].length);
          if (context[1] !== undefined) {
            threadTid = Number(context[1]);
            vcpu = VCPU_THREAD.exec(context[2])?.[1] ?? null;
          }
        }
      }
      const ev = ISO_EVENT.exec(rest);
      if (ev === null) {
        // With a (TID) it is the June-2025 trace prefix, so a trace record; without, other qemu_log output.
        return iso[8] !== undefined ? issue('malformed QEMU trace record') : undefined;
      }
      ts = isoNs(iso);
      if (ts === null) return issue('bad timestamp');
      clock = 'qemu-host';
      tid = iso[8] !== undefined ? Number(iso[8]) : threadTid;
      name = ev[1];
      args = ev[2] ?? '';
    }
  } else {
    const sp = body.indexOf(' ');
    name = sp < 0 ? body : body.slice(0, sp);
    if (!isBareQemuEventName(name)) return undefined;
    args = sp < 0 ? '' : body.slice(sp + 1);
  }

  const ev = blankEvent('qemu', clock, name, args);
  ev.ts_ns = ts;
  ev.host_tid = tid;
  if (vcpu !== null && tid !== null) noteApicId(qemuState(ctx.state).apic, tid, Number(vcpu));
  const bad = decode(ev, ctx.state, tid);
  // The thread name names the vCPU that logged the line: the sender of an x86 ICR write.
  if (vcpu !== null && ev.cpu === null && ev.kind.startsWith('apic_')) ev.cpu = Number(vcpu);
  if (bad !== undefined) return issue(bad);
  return [{ type: 'event', event: ev }];
}

export const qemuParser = { name: 'qemu', sniff, parse } satisfies LineParser;

// ---------------------------------------------------------------------------------------------
// Typed decoding. Returns an issue reason when a known IPI event's arguments do not parse.

const APIC_MEM = /^0x([0-9a-f]{1,16}) = 0x([0-9a-f]{1,16})$/;
const APIC_REG = /^register 0x([0-9a-f]{1,2}) = 0x([0-9a-f]{1,16})$/;
const APIC_DELIVER = /^dest (-?\d+) dest_mode (\d+) delivery_mode (\d+) vector (\d+) trigger_mode (\d+)$/;
const APIC_BASE = /^0x([0-9a-f]{1,16})$/;
const V3_GEN_SGI = /^GICv3 CPU i\/f 0x([0-9a-f]{1,8}) generating SGI (\d+) IRM (\d) target affinity 0x([0-9a-f]{1,8})xx targetlist 0x([0-9a-f]{1,4})$/;
const V3_SEND_SGI = /^GICv3 redistributor 0x([0-9a-f]{1,8}) pending SGI (\d+)$/;
const V3_IAR1 = /^GICv3 ICC_IAR1 read cpu 0x([0-9a-f]{1,8}) value 0x([0-9a-f]{1,13})$/;
const V3_EOIR = /^GICv3 ICC_EOIR[01] write cpu 0x([0-9a-f]{1,8}) value 0x([0-9a-f]{1,13})$/;
const V2_DIST_W = /^dist write at 0x([0-9a-f]{1,8}) size (\d+): 0x([0-9a-f]{1,8})$/;
const V2_ACK = /^(v?cpu) (\d+) acknowledged irq (\d+)$/;
const V2_CPU_R = /^(v?cpu) (\d+) iface read at 0x([0-9a-f]{1,8}): 0x([0-9a-f]{1,8})$/;
const V2_CPU_W = /^(v?cpu) (\d+) iface write at 0x([0-9a-f]{1,8}) 0x([0-9a-f]{1,8})$/;

/** GICv2 GICC_IAR / GICC_EOIR offsets, GICD_SGIR offset. (INTID 1023 = spurious: vector 1023, op null.) */
const GICC_IAR = 0x0c;
const GICC_EOIR = 0x10;
const GICD_SGIR = 0xf00;

function decode(ev: EventRecord, state: SourceState, tid: number | null): string | undefined {
  switch (ev.kind) {
    case 'apic_mem_writel': {
      const m = APIC_MEM.exec(ev.args);
      if (m === null) return 'bad apic_mem_writel arguments';
      const addr = parseInt(m[1], 16);
      // QEMU traces only APIC-page offsets (<= 0xfff); register index = (addr >> 4) & 0xff.
      if (addr <= 0xfff) apicRegisterWrite(ev, qemuState(state).apic, tid ?? -1, (addr >> 4) & 0xff, m[2], false);
      return undefined;
    }
    case 'apic_register_write': {
      const m = APIC_REG.exec(ev.args);
      if (m === null) return 'bad apic_register_write arguments';
      apicRegisterWrite(ev, qemuState(state).apic, tid ?? -1, parseInt(m[1], 16), m[2], true);
      return undefined;
    }
    case 'apic_mem_readl': {
      const m = APIC_MEM.exec(ev.args);
      if (m === null) return 'bad apic_mem_readl arguments';
      const addr = parseInt(m[1], 16);
      if (addr <= 0xfff) apicRegisterRead(qemuState(state).apic, tid ?? -1, (addr >> 4) & 0xff, m[2], false);
      return undefined;
    }
    case 'apic_register_read': {
      const m = APIC_REG.exec(ev.args);
      if (m === null) return 'bad apic_register_read arguments';
      apicRegisterRead(qemuState(state).apic, tid ?? -1, parseInt(m[1], 16), m[2], true);
      return undefined;
    }
    case 'apic_deliver_irq': {
      const m = APIC_DELIVER.exec(ev.args);
      if (m === null) return 'bad apic_deliver_irq arguments';
      // IOAPIC / MSI delivery, not an IPI: op stays null. `dest %d` of a uint32_t prints the x2APIC
      // broadcast 0xffffffff as -1 (QEMU >= 9.0).
      const dest = Number(m[1]);
      const logical = m[2] !== '0';
      const broadcast = dest === 0xff || dest === -1;
      ev.vector = Number(m[4]);
      ev.text = DELIVERY_MODES[Number(m[3]) & 7] + (logical ? ' logical' : broadcast ? ' broadcast' : '');
      if (!logical && !broadcast) {
        ev.target_cpu = dest;
        ev.targets = [dest];
      }
      return undefined;
    }
    case 'cpu_set_apic_base': {
      // IA32_APIC_BASE, written on the vCPU's thread.
      const m = APIC_BASE.exec(ev.args);
      if (m !== null) apicBaseWrite(qemuState(state).apic, tid ?? -1, m[1]);
      return undefined;
    }
    case 'gicv3_icc_generate_sgi': {
      const m = V3_GEN_SGI.exec(ev.args);
      if (m === null) return 'bad gicv3_icc_generate_sgi arguments';
      ev.op = 'ipi_send';
      ev.cpu = parseInt(m[1], 16);
      ev.vector = Number(m[2]);
      if (m[3] !== '0') {
        ev.text = 'irm=' + m[3]; // IRM 1: every PE but the sender
        return undefined;
      }
      // `aff` is Aff3<<16 | Aff2<<8 | Aff1 and targetlist holds Aff0 bits (QEMU icc_generate_sgi);
      // the target's id is packed like the i/f and redistributor ids (gicv3_redist_affid):
      // aff<<8 | Aff0. With aff 0 that is just the Aff0 bit number.
      const aff = parseInt(m[4], 16) * 256;
      const list = parseInt(m[5], 16);
      for (let bit = 0; bit < 16; bit++) if ((list >> bit) & 1) ev.targets.push(aff + bit);
      if (ev.targets.length === 1) ev.target_cpu = ev.targets[0];
      return undefined;
    }
    case 'gicv3_redist_send_sgi': {
      const m = V3_SEND_SGI.exec(ev.args);
      if (m === null) return 'bad gicv3_redist_send_sgi arguments';
      ev.op = 'ipi_pending';
      ev.target_cpu = parseInt(m[1], 16);
      ev.targets = [ev.target_cpu];
      ev.vector = Number(m[2]);
      return undefined;
    }
    case 'gicv3_icc_iar1_read': {
      const m = V3_IAR1.exec(ev.args);
      if (m === null) return 'bad gicv3_icc_iar1_read arguments';
      ev.cpu = parseInt(m[1], 16);
      ev.vector = parseInt(m[2], 16);
      if (ev.vector < 16) ev.op = 'ipi_ack';
      return undefined;
    }
    case 'gicv3_icc_eoir_write': {
      const m = V3_EOIR.exec(ev.args);
      if (m === null) return 'bad gicv3_icc_eoir_write arguments';
      ev.cpu = parseInt(m[1], 16);
      ev.vector = parseInt(m[2], 16);
      ev.text = 'eoi';
      return undefined;
    }
    case 'gic_dist_write': {
      const m = V2_DIST_W.exec(ev.args);
      if (m === null) return 'bad gic_dist_write arguments';
      if (parseInt(m[1], 16) === GICD_SGIR && m[2] === '4') gicv2Sgi(ev, state, tid, parseInt(m[3], 16));
      return undefined;
    }
    case 'gic_acknowledge_irq': {
      const m = V2_ACK.exec(ev.args);
      if (m === null) return 'bad gic_acknowledge_irq arguments';
      ev.cpu = Number(m[2]);
      ev.vector = Number(m[3]);
      if (m[1] === 'vcpu') {
        ev.text = 'vcpu';
        return undefined;
      }
      noteGicCpu(state, tid, ev.cpu);
      if (ev.vector < 16) ev.op = 'ipi_ack';
      return undefined;
    }
    case 'gic_cpu_read': {
      const m = V2_CPU_R.exec(ev.args);
      if (m === null) return 'bad gic_cpu_read arguments';
      ev.cpu = Number(m[2]);
      if (m[1] === 'vcpu') {
        ev.text = 'vcpu';
        return undefined;
      }
      noteGicCpu(state, tid, ev.cpu);
      if (parseInt(m[3], 16) === GICC_IAR) {
        const value = parseInt(m[4], 16);
        ev.vector = value & 0x3ff;
        if (ev.vector < 16) ev.text = 'src=' + ((value >> 10) & 7); // GICC_IAR.CPUID for SGIs
      }
      return undefined;
    }
    case 'gic_cpu_write': {
      const m = V2_CPU_W.exec(ev.args);
      if (m === null) return 'bad gic_cpu_write arguments';
      ev.cpu = Number(m[2]);
      if (m[1] === 'vcpu') {
        ev.text = 'vcpu';
        return undefined;
      }
      noteGicCpu(state, tid, ev.cpu);
      if (parseInt(m[3], 16) === GICC_EOIR) {
        ev.vector = parseInt(m[4], 16) & 0x3ff;
        ev.text = 'eoi';
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** GICD_SGIR write: INTID bits 3:0, CPU target list bits 23:16, filter bits 25:24. */
function gicv2Sgi(ev: EventRecord, state: SourceState, tid: number | null, value: number): void {
  ev.op = 'ipi_send';
  ev.vector = value & 0xf;
  // GICv2 does not log the writer: the thread's last `cpu N` (under MTTCG one thread per vCPU).
  ev.cpu = tid === null ? null : qemuState(state).gicCpu.get(tid) ?? null;
  switch ((value >> 24) & 3) {
    case 0: {
      const list = (value >> 16) & 0xff;
      for (let bit = 0; bit < 8; bit++) if ((list >> bit) & 1) ev.targets.push(bit);
      if (ev.targets.length === 1) ev.target_cpu = ev.targets[0];
      return;
    }
    case 1:
      ev.text = 'all-but-self';
      return;
    case 2:
      ev.text = 'self';
      return;
    default:
      ev.text = 'filter=3'; // reserved; QEMU sends to every CPU interface
      return;
  }
}

function noteGicCpu(state: SourceState, tid: number | null, cpu: number): void {
  if (tid !== null) qemuState(state).gicCpu.set(tid, cpu);
}
