// The records that parsers produce and the storage layer writes: the boundary between the two
// stages. Each has a zod schema (checked at the boundary by ingest/writer.ts) and the TypeScript
// type derived from it. Column meanings are documented in schema/schema.sql.
import { z } from 'zod';

/** Input formats a line can be recognised as. 'console' = a kernel console message, 'other' = noise. */
export const FORMATS = ['ftrace', 'trace-cmd', 'ftrace-dump', 'tp-printk', 'qemu', 'console', 'other'] as const;
export type Format = (typeof FORMATS)[number];

/** Clock domains; see schema.sql. */
export const CLOCKS = ['ftrace', 'printk', 'qemu-host', 'none'] as const;
export type Clock = (typeof CLOCKS)[number];

/** Semantic operation of an event, see events.op in schema.sql. */
export const OPS = [
  'ipi_send', 'ipi_pending', 'ipi_entry', 'ipi_exit', 'ipi_ack',
  'csd_queue', 'csd_entry', 'csd_exit', 'hp_enter', 'hp_exit', 'marker', 'lost',
] as const;
export type Op = (typeof OPS)[number];

const int = z.number().int();
const nsTime = z.union([int, z.bigint()]);

export const EventRecord = z.object({
  format: z.enum(['ftrace', 'trace-cmd', 'ftrace-dump', 'tp-printk', 'qemu']),
  clock: z.enum(CLOCKS),
  ts_ns: nsTime.nullable(),
  cpu: int.nullable(),
  task: z.string().nullable(),
  pid: int.nullable(),
  flags: z.string().nullable(),
  kind: z.string().min(1),
  op: z.enum(OPS).nullable(),
  target_cpu: int.nullable(),
  targets: z.array(int),
  csd: z.string().nullable(),
  func: z.string().nullable(),
  callsite: z.string().nullable(),
  callback: z.string().nullable(),
  reason: z.string().nullable(),
  vector: int.nullable(),
  hp_state: int.nullable(),
  hp_step: int.nullable(),
  hp_ret: int.nullable(),
  text: z.string().nullable(),
  host_tid: int.nullable(),
  args: z.string(),
}).strict();
export type EventRecord = z.infer<typeof EventRecord>;

export const CONSOLE_KINDS = [
  'csd_detected', 'csd_continued', 'csd_state', 'csd_resend', 'csd_unstuck', 'csd_toolong_warning',
  'nmi_backtrace_request', 'nmi_backtrace', 'cpu_offline', 'cpu_dying', 'cpu_online', 'cpu_up_failed',
  'soft_lockup', 'hard_lockup', 'rcu_stall', 'hung_task', 'panic', 'warning', 'bug', 'oops',
  'ipi_offline_warning', 'ipi_offline_callback', 'resched_offline', 'frame',
  'stop_failed', 'dump_begin', 'dump_end', 'trace_clock_reset', 'cmdline', 'text',
] as const;
export type ConsoleKind = (typeof CONSOLE_KINDS)[number];

export const ConsoleRecord = z.object({
  ts_ns: int.nullable(),
  kind: z.enum(CONSOLE_KINDS),
  cpu: int.nullable(),
  target_cpu: int.nullable(),
  seq: int.nullable(),
  wait_ns: int.nullable(),
  func: z.string().nullable(),
  info: z.string().nullable(),
  cpus: z.string().nullable(),
  text: z.string(),
}).strict();
export type ConsoleRecord = z.infer<typeof ConsoleRecord>;

export const CPU_FACTS = [
  'possible', 'present', 'hotplug_cpus', 'online_at_read', 'brought_up', 'nr_cpus_cmdline', 'trace_cpus',
] as const;
export type CpuFactKind = (typeof CPU_FACTS)[number];

export const CpuFactRecord = z.object({
  fact: z.enum(CPU_FACTS),
  count: int.nullable(),
  cpus: z.string().nullable(),
  text: z.string(),
}).strict();
export type CpuFactRecord = z.infer<typeof CpuFactRecord>;

/** A line that looked like one of our formats but did not parse. */
export interface ParseIssue {
  format: Format | 'input';
  reason: string;
}

/** Everything one input line can yield. A line may yield several (a console line that is also a fact). */
export type ParsedItem =
  | { type: 'event'; event: EventRecord }
  | { type: 'console'; message: ConsoleRecord }
  | { type: 'cpu_fact'; fact: CpuFactRecord }
  | { type: 'issue'; issue: ParseIssue }
  | { type: 'stat'; name: StatName; key?: string; add?: number };

import type { StatName } from './stats.js';

/** Builds an event record with every optional column NULL. */
export function blankEvent(
  format: EventRecord['format'], clock: Clock, kind: string, args: string,
): EventRecord {
  return {
    format, clock, ts_ns: null, cpu: null, task: null, pid: null, flags: null, kind, op: null,
    target_cpu: null, targets: [], csd: null, func: null, callsite: null, callback: null, reason: null,
    vector: null, hp_state: null, hp_step: null, hp_ret: null, text: null, host_tid: null, args,
  };
}

/** Builds a console record with every optional column NULL. */
export function blankConsole(kind: ConsoleKind, text: string, ts_ns: number | null): ConsoleRecord {
  return { ts_ns, kind, cpu: null, target_cpu: null, seq: null, wait_ns: null, func: null, info: null, cpus: null, text };
}
