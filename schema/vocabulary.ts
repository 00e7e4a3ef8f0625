// The plain values records are made of: the names a column may hold and records with every optional
// column NULL. No zod here: the parsers need only these, and the parser thread (ingest/parse-worker.ts)
// then starts without loading zod (~100 ms of its start-up). The schemas are in records.ts.
import type { ConsoleRecord, EventRecord } from './records.js';

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

export const CONSOLE_KINDS = [
  'csd_detected', 'csd_continued', 'csd_state', 'csd_resend', 'csd_unstuck', 'csd_toolong_warning', 'csd_history',
  'nmi_backtrace_request', 'nmi_backtrace', 'cpu_offline', 'cpu_dying', 'cpu_online', 'cpu_up_failed',
  'soft_lockup', 'hard_lockup', 'rcu_stall', 'hung_task', 'panic', 'warning', 'bug', 'oops',
  'ipi_offline_warning', 'ipi_offline_callback', 'resched_offline', 'frame', 'regs', 'task_dump',
  'stop_failed', 'dump_begin', 'dump_end', 'trace_clock_reset', 'cmdline', 'text',
] as const;
export type ConsoleKind = (typeof CONSOLE_KINDS)[number];

export const CPU_FACTS = [
  'possible', 'present', 'hotplug_cpus', 'online_at_read', 'brought_up', 'nr_cpus_cmdline', 'trace_cpus', 'hot_added',
] as const;
export type CpuFactKind = (typeof CPU_FACTS)[number];

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
export function blankConsole(kind: ConsoleKind, text: string, ts_ns: number | bigint | null): ConsoleRecord {
  return { ts_ns, kind, cpu: null, target_cpu: null, seq: null, wait_ns: null, func: null, info: null, cpus: null, text };
}
