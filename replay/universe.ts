// The CPU universe of a boot: which CPU numbers exist. Explicit priority: --cpus, then what the
// console says (present / possible counts), then the ftrace header, then CPUs seen in the traces.
// A CPU number outside the present set is nonexistent: an IPI to it can never be served.
import { formatCpuList } from '../parsers/patterns.js';
import type { Db } from '../store/db.js';

export interface Universe {
  /** Number of possible CPUs (nr_cpu_ids), null when no source says. */
  possible: number | null;
  /** Number of present CPUs (vCPUs that exist), null when no source says. */
  present: number | null;
  /** CPUs that recorded events or were reported online. */
  seen: Set<number>;
  /** True when `present` only counts CPUs seen working: CPUs above it may exist (not nonexistent). */
  presentIsLowerBound: boolean;
  basis: string;
}

interface FactRow { fact: string; count: number | null }

export function computeUniverse(db: Db, boot: string, seen: Set<number>, cpusOverride?: number): Universe {
  if (cpusOverride !== undefined) return { possible: cpusOverride, present: cpusOverride, seen, presentIsLowerBound: false, basis: '--cpus' };
  const facts = new Map<string, number>();
  const rows = db.prepare(`SELECT fact, max(count) AS count FROM cpu_facts JOIN sources USING (source_id)
    WHERE boot = ? AND count IS NOT NULL GROUP BY fact`).all(boot) as FactRow[];
  for (const row of rows) if (row.count !== null) facts.set(row.fact, row.count);

  const hotplug = facts.get('hotplug_cpus');
  let possible = facts.get('possible') ?? facts.get('trace_cpus') ?? null;
  let present = facts.get('present') ?? null;
  const bases: string[] = [];
  if (present === null && possible !== null && hotplug !== undefined) present = possible - hotplug;
  if (possible === null && present !== null && hotplug !== undefined) possible = present + hotplug;
  if (present !== null) bases.push(`console: ${present} present`);
  if (possible !== null) bases.push(`console: ${possible} possible`);
  if (present === null && possible !== null) present = possible;
  const floor = Math.max(-1, ...seen) + 1;
  const online = Math.max(facts.get('online_at_read') ?? 0, facts.get('brought_up') ?? 0);
  if (present !== null && present < Math.max(floor, online)) {
    bases.push(`raised to ${Math.max(floor, online)}: CPUs ${formatCpuList(seen)} seen`);
    present = Math.max(floor, online);
    if (possible !== null && possible < present) possible = present;
  }
  if (present === null) return fromTracesAndQemu(db, boot, seen, floor, online);
  return { possible, present, seen, presentIsLowerBound: false, basis: bases.join('; ') };
}

/** At most this many events on a CPU number beyond nr_cpu_ids are taken as garbled digits. */
const GARBLED_MAX_EVENTS = 3;
/** CONFIG_NR_CPUS is at most 8192 (x86 MAXSMP): a CPU number beyond it is garbled whatever its count. */
const MAX_NR_CPUS = 8192;

/**
 * CPU numbers that recorded events although the console says no such CPU exists (nr_cpu_ids, the
 * 'possible' count), on a handful of events only: digits a serial line repeated in the CPU column
 * (`11d.h..` for `1d.h..` in a real armhf dump). A CPU that really runs records events all the time;
 * these are not CPUs, and replay ignores them as such (their events still count for coverage). Nor
 * is any number beyond the largest NR_CPUS a kernel can be built with.
 */
export function garbledCpus(db: Db, boot: string, eventsPerCpu: Map<number, number>): Set<number> {
  const possible = (db.prepare(`SELECT max(count) FROM cpu_facts JOIN sources USING (source_id)
    WHERE boot = ? AND fact = 'possible'`).pluck().get(boot) as number | null);
  const garbled = new Set<number>();
  for (const [cpu, events] of eventsPerCpu) {
    if (cpu >= MAX_NR_CPUS || (possible !== null && cpu >= possible && events <= GARBLED_MAX_EVENTS)) garbled.add(cpu);
  }
  return garbled;
}

/** No console counts: QEMU's vCPUs (GIC CPU interfaces that acknowledged interrupts) decide; else a lower bound. */
function fromTracesAndQemu(db: Db, boot: string, seen: Set<number>, floor: number, online: number): Universe {
  const qemu = (db.prepare(`SELECT count(DISTINCT e.cpu) AS n FROM events e JOIN sources s USING (source_id)
    WHERE s.boot = ? AND e.format = 'qemu' AND e.op = 'ipi_ack' AND e.cpu IS NOT NULL`).get(boot) as { n: number }).n;
  if (qemu > 0) {
    const present = Math.max(qemu, floor);
    return { possible: present, present, seen, presentIsLowerBound: false, basis: `qemu: ${qemu} vCPUs acknowledge interrupts (possible: at least those)` };
  }
  const present = Math.max(floor, online);
  if (present === 0) return { possible: null, present: null, seen, presentIsLowerBound: true, basis: 'unknown' };
  return { possible: null, present, seen, presentIsLowerBound: true,
    basis: `at least ${present}: CPUs seen in traces (${formatCpuList(seen)}) or online when the trace was read; others unknown` };
}

/** True when the CPU certainly does not exist (outside the present set); false when it may. */
export function isNonexistent(universe: Universe, cpu: number): boolean {
  return universe.present !== null && !universe.presentIsLowerBound && cpu >= universe.present && !universe.seen.has(cpu);
}

export function writeUniverse(db: Db, boot: string, universe: Universe, targets: Iterable<number>): void {
  const insert = db.prepare('INSERT INTO cpu_universe (boot, cpu, possible, present, seen, basis) VALUES (?,?,?,?,?,?)');
  const cpus = new Set<number>([...universe.seen, ...targets]);
  const top = Math.max(universe.possible ?? 0, universe.present ?? 0);
  for (let cpu = 0; cpu < top; cpu++) cpus.add(cpu);
  for (const cpu of [...cpus].sort((a, b) => a - b)) {
    const possible = universe.possible === null ? null : cpu < universe.possible ? 1 : 0;
    const present = universe.present === null ? null : cpu < universe.present || universe.seen.has(cpu) ? 1
      : universe.presentIsLowerBound ? null : 0;
    insert.run(boot, cpu, possible, present, universe.seen.has(cpu) ? 1 : 0, universe.basis);
  }
}
