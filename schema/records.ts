// The records that parsers produce and the storage layer writes: the boundary between the two
// stages. Each has a zod schema (checked at the boundary by ingest/writer.ts) and the TypeScript
// type derived from it. Column meanings are documented in schema/schema.sql. The names a column
// may hold and the blank records are in vocabulary.ts (re-exported here), which the parsers import.
import * as z from 'zod';

import { CLOCKS, CONSOLE_KINDS, CPU_FACTS, OPS, type Format } from './vocabulary.js';

export * from './vocabulary.js';

const int = z.number().int();
/** ns: a safe integer, or a BigInt beyond 2^53 (QEMU host epoch times, uptimes over 104 days). */
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

export const ConsoleRecord = z.object({
  ts_ns: nsTime.nullable(),
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
