// What a number read from a line can possibly be. A serial line that garbles a digit run can turn a
// CPU number into 3402823669...456 or a CPU count into 16000000; taken as they are, replay would
// size per-CPU state by them (gigabytes, or "Set maximum size exceeded"), and a time beyond 64 bits
// cannot even be stored. The reader checks every record against these bounds before it goes to the
// sink: a record that breaks one becomes an `unparsed` row saying which (stat `out_of_range`).
import type { ConsoleRecord, CpuFactRecord, EventRecord } from '../schema/records.js';

/**
 * CPUs a Linux kernel can have: NR_CPUS is at most 8192 (x86 MAXSMP, arm64 and riscv
 * NR_CPUS ranges in their Kconfig), so a guest CPU number is below it.
 */
export const MAX_CPUS = 8192;

/** Linux PID_MAX_LIMIT (4M on 64-bit): no host thread id is larger. */
export const PID_MAX_LIMIT = 4194304;

const INT64_MAX = (1n << 63n) - 1n;

/** ` 42` for a number shown exactly; '' for one that a float rounded (the sample keeps its digits). */
const shown = (n: number | bigint): string => (typeof n === 'bigint' || Number.isSafeInteger(n) ? ` ${n}` : '');

/** A CPU number the kernel can have, or null (absent). */
function badCpu(cpu: number | null): boolean {
  return cpu !== null && !(Number.isInteger(cpu) && cpu >= -1 && cpu < MAX_CPUS);
}

function badTime(ts: number | bigint | null): boolean {
  if (ts === null) return false;
  if (typeof ts === 'bigint') return ts > INT64_MAX || ts < -INT64_MAX;
  return !Number.isInteger(ts) || Math.abs(ts) >= 2 ** 63;
}

/** True when a CPU list text ('0-3,8') names a CPU beyond MAX_CPUS (its decimal digit runs). */
function cpusTooLarge(cpus: string | null): boolean {
  if (cpus === null) return false;
  let run = 0;
  let value = 0;
  for (let i = 0; i <= cpus.length; i++) {
    const c = i < cpus.length ? cpus.charCodeAt(i) : 0;
    if (c >= 48 && c <= 57) {
      run++;
      value = value * 10 + (c - 48);
    } else {
      if (run > 0 && (run > 5 || value >= MAX_CPUS)) return true;
      run = 0;
      value = 0;
    }
  }
  return false;
}

/** Why an event cannot be true, or null. QEMU's targets are APIC IDs and GIC target lists, not CPU numbers. */
export function eventOutOfRange(ev: EventRecord): string | null {
  if (badTime(ev.ts_ns)) return `time${shown(ev.ts_ns!)} ns beyond 64 bits`;
  if (ev.format === 'qemu') {
    if (ev.host_tid !== null && !(Number.isInteger(ev.host_tid) && ev.host_tid >= 0 && ev.host_tid <= PID_MAX_LIMIT)) {
      return `host thread id${shown(ev.host_tid)} beyond Linux's PID_MAX_LIMIT ${PID_MAX_LIMIT}`;
    }
    if (ev.target_cpu !== null && !Number.isSafeInteger(ev.target_cpu)) return `target${shown(ev.target_cpu)} is no integer`;
    for (let i = 0; i < ev.targets.length; i++) {
      if (!Number.isSafeInteger(ev.targets[i])) return `target${shown(ev.targets[i])} is no integer`;
    }
    return null;
  }
  if (badCpu(ev.cpu)) return `CPU${shown(ev.cpu!)} beyond the kernel's limit of ${MAX_CPUS} CPUs`;
  if (badCpu(ev.target_cpu)) return `target CPU${shown(ev.target_cpu!)} beyond the kernel's limit of ${MAX_CPUS} CPUs`;
  const targets = ev.targets;
  if (targets.length > MAX_CPUS) return `${targets.length} target CPUs, beyond the kernel's limit of ${MAX_CPUS}`;
  for (let i = 0; i < targets.length; i++) {
    if (badCpu(targets[i])) return `target CPU${shown(targets[i])} beyond the kernel's limit of ${MAX_CPUS} CPUs`;
  }
  return null;
}

export function consoleOutOfRange(msg: ConsoleRecord): string | null {
  if (badTime(msg.ts_ns)) return `time${shown(msg.ts_ns!)} ns beyond 64 bits`;
  if (badTime(msg.wait_ns)) return `wait${shown(msg.wait_ns!)} ns beyond 64 bits`;
  if (badCpu(msg.cpu)) return `CPU${shown(msg.cpu!)} beyond the kernel's limit of ${MAX_CPUS} CPUs`;
  if (badCpu(msg.target_cpu)) return `target CPU${shown(msg.target_cpu!)} beyond the kernel's limit of ${MAX_CPUS} CPUs`;
  if (msg.seq !== null && !Number.isSafeInteger(msg.seq)) return `sequence number${shown(msg.seq)} is no integer`;
  if (cpusTooLarge(msg.cpus)) return `CPU list ${String(msg.cpus).slice(0, 40)} beyond the kernel's limit of ${MAX_CPUS} CPUs`;
  return null;
}

export function factOutOfRange(fact: CpuFactRecord): string | null {
  if (fact.count !== null && !(Number.isInteger(fact.count) && fact.count >= 0 && fact.count <= MAX_CPUS)) {
    return `${shown(fact.count).trim() || 'too many'} CPUs, beyond the kernel's limit of ${MAX_CPUS}`;
  }
  if (cpusTooLarge(fact.cpus)) return `CPU list ${String(fact.cpus).slice(0, 40)} beyond the kernel's limit of ${MAX_CPUS} CPUs`;
  return null;
}
