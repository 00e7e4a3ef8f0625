// x86 local APIC writes in QEMU's trace (hw/intc/apic.c), decoded into IPIs the way QEMU delivers
// them. Used by parsers/qemu-trace.ts for `apic_mem_writel` (QEMU <= 8.x, MMIO byte offset) and
// `apic_register_write` (QEMU >= 9.0: register index, shared by the MMIO and x2APIC MSR paths).
//
// What QEMU does with an ICR-low write (index 0x30), from apic.c of 7.2 and of the x2APIC versions:
//   dest = x2APIC mode ? bits 63:32 of the 64-bit value : ICR-high (index 0x31) bits 31:24;
//   apic_deliver(dest, dest_mode = bit 11, delivery_mode = bits 10:8, vector = bits 7:0,
//                trigger = bit 15, shorthand = bits 19:18):
//   shorthand 1 self, 2 all (memset 0xff), 3 all but self; else apic_get_delivery_bitmask():
//     physical: the APIC whose id is dest; xAPIC dest 0xff, x2APIC 0xffffffff: broadcast.
//     logical, x2APIC (apicbase EXTD): (dest >> 16) == (LDR >> 16) && (dest & LDR & 0xffff), where
//       the x2APIC LDR is read-only, derived from the id: (id >> 4) << 16 | 1 << (id & 15). So a
//       cluster destination `cluster << 16 | bitmap` names the ids cluster * 16 + each bit.
//     logical, xAPIC: per APIC, its LDR (index 0x0d, bits 31:24) and DFR model (index 0x0e, bits
//       31:28; 0xf after reset): flat: dest & LDR; cluster: (dest & 0xf0) == 0xf0 (10.x) or equal
//       to LDR & 0xf0, and dest & LDR & 0x0f.
//   INIT level de-assert (bit 15 set, bit 14 clear) delivers nothing; lowest priority delivers to
//   the first APIC of the bitmask.
// QEMU's trace names neither the APIC written nor its id: the writer is the vCPU whose thread logged
// the line (QEMU <= 10.0 `TID@` prefix; ISO-prefixed logs have no thread id, so every line shares
// key -1 and per-APIC state is only what the whole machine shows). APIC ids are taken as CPU numbers.
import type { EventRecord } from '../schema/records.js';

/** ICR delivery mode, bits 10:8 (Intel SDM vol. 3 "Interrupt Command Register"). */
export const DELIVERY_MODES = ['fixed', 'lowest', 'smi', 'mode3', 'nmi', 'init', 'startup', 'mode7'] as const;
/** ICR destination shorthand, bits 19:18. */
const SHORTHANDS = ['', 'self', 'all', 'all-but-self'] as const;
/** DFR model (bits 31:28) after reset: flat. */
const DFR_FLAT = 0xf;
const DFR_CLUSTER = 0x0;

/** Per-source APIC state, keyed by host thread id (-1: lines without one). */
export interface ApicState {
  /** Last xAPIC ICR-high value written. */
  icrHigh: Map<number, number>;
  /** APIC mode: true = x2APIC, false = xAPIC; absent = not known yet. */
  x2apic: Map<number, boolean>;
  /** The mode the machine last showed on any thread (Linux switches every CPU to x2APIC or none). */
  machineX2apic: boolean | null;
  /** xAPIC logical id (LDR bits 31:24) and DFR model (bits 31:28) written. */
  ldr: Map<number, number>;
  dfr: Map<number, number>;
  /** Every xAPIC logical id bit any thread wrote (without thread ids the map above keeps only the last). */
  ldrBits: number;
  /** The APIC id of the thread's APIC: from an ID register read or write, or the vCPU thread name. */
  apicId: Map<number, number>;
}

export function newApicState(): ApicState {
  return { icrHigh: new Map(), x2apic: new Map(), machineX2apic: null, ldr: new Map(), dfr: new Map(), ldrBits: 0, apicId: new Map() };
}

/** Records that the thread runs APIC `id` (its vCPU is known from elsewhere, e.g. the thread name). */
export function noteApicId(s: ApicState, key: number, id: number): void {
  s.apicId.set(key, id);
}

/** IA32_APIC_BASE written (cpu_set_apic_base): bit 11 = enable, bit 10 = x2APIC (EXTD). */
export function apicBaseWrite(s: ApicState, key: number, valueHex: string): void {
  const low = parseInt(valueHex.slice(-3), 16);
  setMode(s, key, (low & 0xc00) === 0xc00);
}

function setMode(s: ApicState, key: number, x2: boolean): void {
  s.x2apic.set(key, x2);
  s.machineX2apic = x2;
}

/** The thread's mode: its own, else the machine's; null: unknown. */
function modeOf(s: ApicState, key: number): boolean | null {
  return s.x2apic.get(key) ?? s.machineX2apic;
}

/** A read of APIC register `index` (the ID register tells the thread's APIC id). */
export function apicRegisterRead(s: ApicState, key: number, index: number, valueHex: string, regForm: boolean): void {
  if (index !== 0x02) return;
  const value = parseInt(valueHex.length > 8 ? valueHex.slice(-8) : valueHex, 16);
  // xAPIC: id in bits 31:24; x2APIC (only through apic_register_read): the 32-bit id.
  const x2 = regForm && modeOf(s, key) === true;
  s.apicId.set(key, x2 ? value : value >>> 24);
}

/**
 * A write to APIC register `index` (0x30 ICR low, 0x31 ICR high, 0x0b EOI, 0x0d LDR, 0x0e DFR,
 * 0x02 ID, 0x3f x2APIC SELF IPI). `valueHex` is the value as printed: %08x for apic_mem_writel,
 * %PRIx64 (no padding) for apic_register_write, where an x2APIC ICR write carries the destination
 * in bits 63:32. `regForm`: apic_register_write (MMIO or MSR) rather than apic_mem_writel (MMIO).
 */
export function apicRegisterWrite(
  ev: EventRecord, s: ApicState, key: number, index: number, valueHex: string, regForm: boolean,
): void {
  const low32 = () => parseInt(valueHex.length > 8 ? valueHex.slice(-8) : valueHex, 16);
  switch (index) {
    case 0x02:
      if (modeOf(s, key) !== true) s.apicId.set(key, low32() >>> 24); // ignored by QEMU in x2APIC mode
      return;
    case 0x0d:
      if (modeOf(s, key) !== true) {
        s.ldr.set(key, low32() >>> 24);
        s.ldrBits |= low32() >>> 24;
      }
      return;
    case 0x0e:
      if (modeOf(s, key) !== true) s.dfr.set(key, low32() >>> 28);
      return;
    case 0x31:
      s.icrHigh.set(key, low32());
      if (regForm) setMode(s, key, false); // x2APIC has no ICR high: QEMU refuses it, Linux never writes it
      return;
    case 0x30:
      icrWrite(ev, s, key, valueHex, regForm);
      return;
    case 0x0b:
      ev.text = 'eoi';
      return;
    case 0x3f:
      if (regForm) {
        // x2APIC SELF IPI register: apic_deliver(dev, 0, 0, APIC_DM_FIXED, val & 0xff, 0, 1).
        ev.op = 'ipi_send';
        ev.vector = low32() & 0xff;
        ev.text = 'fixed self';
      }
      return;
    default:
      return;
  }
}

function icrWrite(ev: EventRecord, s: ApicState, key: number, valueHex: string, regForm: boolean): void {
  let low: number;
  let dest: number | null;
  let x2: boolean;
  if (valueHex.length > 8) {
    // A 64-bit ICR: only the x2APIC MSR path writes one (split as text: no BigInt needed).
    low = parseInt(valueHex.slice(-8), 16);
    dest = parseInt(valueHex.slice(0, -8), 16);
    x2 = true;
    setMode(s, key, true);
  } else {
    low = parseInt(valueHex, 16);
    const mode = regForm ? modeOf(s, key) : false; // apic_mem_writel (QEMU <= 8.x) is xAPIC MMIO
    if (mode === true) {
      dest = 0; // x2APIC ICR with bits 63:32 zero
      x2 = true;
    } else {
      x2 = false;
      const high = s.icrHigh.get(key);
      // Mode unknown and no ICR high on this thread: the destination is unknown (QEMU's reset zeroes
      // icr[], but the log may not start at the reset: an excerpt, a trace switched on later).
      dest = high === undefined ? null : (high >>> 24) & 0xff;
    }
  }
  ev.op = 'ipi_send';
  ev.vector = low & 0xff;
  const mode = (low >> 8) & 7;
  let text: string = DELIVERY_MODES[mode];
  if (mode === 5 && (low & 0xc000) === 0x8000) text += ' deassert'; // INIT level de-assert: nothing delivered
  const shorthand = (low >> 18) & 3;
  const logical = (low & 0x800) !== 0;
  if (shorthand !== 0) {
    text += ' ' + SHORTHANDS[shorthand];
  } else if (dest === null) {
    text += (logical ? ' logical' : '') + ' undecoded';
  } else if (dest === (x2 ? 0xffffffff : 0xff) && (x2 || !logical)) {
    // x2APIC 0xffffffff in either mode, xAPIC physical 0xff: every APIC (of that mode).
    text += ' broadcast';
  } else if (!logical) {
    ev.targets = [dest];
  } else {
    text += ' logical dest=0x' + dest.toString(16);
    const targets = x2 ? x2apicLogical(dest) : xapicLogical(s, dest);
    if (targets === null) text += ' undecoded';
    else ev.targets = targets;
  }
  // Lowest priority: QEMU picks the first APIC of the bitmask (apic_bus_deliver).
  if (mode === 1 && ev.targets.length > 1) ev.targets = [Math.min(...ev.targets)];
  if (ev.targets.length === 1) ev.target_cpu = ev.targets[0];
  ev.text = text;
}

/** x2APIC logical: the ids whose derived LDR matches `cluster << 16 | bitmap`. */
function x2apicLogical(dest: number): number[] {
  const cluster = dest >>> 16;
  const targets: number[] = [];
  for (let bit = 0; bit < 16; bit++) if ((dest >> bit) & 1) targets.push(cluster * 16 + bit);
  return targets;
}

/**
 * xAPIC logical: the APICs whose LDR / DFR match, when every APIC that matches has a known id;
 * otherwise (no thread ids, ids never read) Linux's apic_flat convention, LDR = 1 << CPU number
 * (arch/x86/kernel/apic/apic_flat_64.c), under the flat model only, and only the bits some APIC's
 * LDR holds when the log shows LDR writes (QEMU delivers a bit no LDR has to no one); null when that
 * does not apply.
 */
function xapicLogical(s: ApicState, dest: number): number[] | null {
  const targets: number[] = [];
  let exact = s.ldr.size > 0 && !s.ldr.has(-1);
  for (const [key, ldr] of s.ldr) {
    const model = s.dfr.get(key) ?? DFR_FLAT;
    const match = model === DFR_FLAT ? (dest & ldr) !== 0
      : model === DFR_CLUSTER ? ((dest & 0xf0) === 0xf0 || (dest & 0xf0) === (ldr & 0xf0)) && (dest & ldr & 0x0f) !== 0
      : false;
    if (!match) continue;
    const id = s.apicId.get(key);
    if (id === undefined) {
      exact = false;
      break;
    }
    targets.push(id);
  }
  if (exact) return targets.sort((a, b) => a - b);
  for (const model of s.dfr.values()) if (model !== DFR_FLAT) return null;
  const flat: number[] = [];
  const held = s.ldr.size > 0 ? dest & s.ldrBits : dest;
  for (let bit = 0; bit < 8; bit++) if ((held >> bit) & 1) flat.push(bit);
  return flat;
}
