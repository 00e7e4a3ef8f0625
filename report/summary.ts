// What `ipitrace analyze` prints per boot, read back from the replayed tables (schema/replay.sql):
// the CPU universe and hotplug transitions, IPI and cross-call counts per sender -> target pair, and
// the findings. Times are seconds of the boot's reference clock (clock_offsets.ref_clock).
import type { Finding } from '../detect/detect.js';
import { displayShiftNs } from '../detect/groups.js';
import { displayPath } from './style.js';
import { formatCpuList } from '../parsers/patterns.js';
import type { Db } from '../store/db.js';

export interface CpuTransition {
  cpu: number;
  /** cpu_states.state entered. */
  state: string;
  /** When, in seconds of the reference clock. */
  at_s: number;
  /** 'file:line' of the evidence, null when inferred. */
  evidence: string | null;
  basis: string;
}

export interface PairCount {
  /** Sender CPU, null when the trace does not say (tp_printk lines carry no CPU). */
  src: number | null;
  target: number;
  /** ipi_sends rows (one per target of a send). */
  ipis: number;
  /** csd_lifecycle rows (cross-calls queued). */
  csds: number;
}

export interface BootSummary {
  boot: string;
  /** The boot's reference clock ('ftrace' or 'printk'), null when not replayed. */
  clock: string | null;
  /** First and last time of the boot's evidence, seconds. */
  span_s: { start: number; end: number } | null;
  cpus: {
    /** CPU lists ('0-7'); null when no source says. */
    possible: string | null;
    present: string | null;
    online_at_end: string;
    transitions: CpuTransition[];
  };
  pairs: PairCount[];
  /** IPI handler entries per receiving CPU (the receive side; traced even by kernels without ipi_send_*). */
  received: { cpu: number; entries: number }[];
  /** Guest <-> QEMU correlation, null when the boot has no QEMU IPI writes. */
  qemu: QemuSummary | null;
  findings: Finding[];
}

export interface QemuSummary {
  /** IPIs QEMU's log shows sent (qemu_sends rows: one per target vCPU of an ICR / SGI write). */
  sends: number;
  /** Guest IPI sends (one per target) and how many were linked to a QEMU write. */
  guest_sends: number;
  linked: number;
  /** 'time' (clocks mapped), 'order' (no QEMU timestamps) or null (nothing linked). */
  method: string | null;
  /** QEMU host clock -> reference clock: offset (s) and rate error; null without timestamps. */
  offset_s: number | null;
  drift_ppm: number | null;
  /** Spread of the fitted pairs' residuals, microseconds. */
  spread_us: number | null;
  /** Host thread -> vCPU, as learned. */
  vcpus: { host_tid: number; cpu: number; basis: string }[];
}

/** ns -> seconds, rounded to the microsecond (ftrace's resolution). */
export const toSeconds = (ns: number): number => Math.round(ns / 1e3) / 1e6;

/** States in which a CPU is in cpu_online_mask. */
export const ONLINE_STATES = new Set(['online', 'going_down']);

export function referenceClock(db: Db, boot: string): { clock: string; offsetNs: number } | null {
  const row = db.prepare('SELECT ref_clock, offset_ns FROM clock_offsets WHERE boot = ? AND clock = \'printk\'').get(boot) as
    { ref_clock: string; offset_ns: number } | undefined;
  return row ? { clock: row.ref_clock, offsetNs: row.ref_clock === 'printk' ? 0 : row.offset_ns } : null;
}

/**
 * First and last time (ns, reference clock) of anything the boot's replayed tables or console say.
 * One scan per table, its columns' ends together (a UNION ALL of one column at a time read
 * csd_lifecycle, the biggest, twice).
 */
export function bootSpan(db: Db, boot: string): { startNs: number; endNs: number } | null {
  const ref = referenceClock(db, boot);
  // Per table: the time columns, and the rows of the boot.
  const tables: [columns: string[], from: string][] = [
    [['start_ns', 'end_ns'], 'cpu_coverage WHERE boot = :boot'],
    [['start_ns', 'end_ns'], 'cpu_states WHERE boot = :boot'],
    [['ts_ns'], 'ipi_sends WHERE boot = :boot'],
    [['queued_ns', 'released_ns'], 'csd_lifecycle WHERE boot = :boot'],
    [['ts_ns'], 'findings WHERE boot = :boot'],
    [['first_ns', 'last_ns'], 'csd_episodes WHERE boot = :boot'],
    [['ts_ns'], 'console_reports WHERE boot = :boot'],
    [['c.ts_ns + :offset'], 'console_messages c JOIN sources s USING (source_id) WHERE s.boot = :boot'],
  ];
  const rows = tables.map(([columns, from]) =>
    db.prepare(`SELECT ${columns.map((c) => `min(${c}), max(${c})`).join(', ')} FROM ${from}`).raw()
      .get({ boot, offset: ref?.offsetNs ?? 0 }) as (number | null)[]);
  let lo: number | null = null, hi: number | null = null;
  for (const row of rows) {
    for (let i = 0; i < row.length; i += 2) {
      if (row[i] !== null && (lo === null || row[i]! < lo)) lo = row[i];
      if (row[i + 1] !== null && (hi === null || row[i + 1]! > hi)) hi = row[i + 1];
    }
  }
  return lo === null || hi === null ? null : { startNs: lo, endNs: hi };
}

export interface StateRow { cpu: number; state: string; start_ns: number | null; end_ns: number | null; path: string | null; line: number | null; basis: string }

export function cpuStates(db: Db, boot: string): StateRow[] {
  return db.prepare(`SELECT st.cpu, st.state, st.start_ns, st.end_ns, s.path, st.line, st.basis FROM cpu_states st
    LEFT JOIN sources s ON s.source_id = st.source_id WHERE st.boot = ?
    ORDER BY st.cpu, st.start_ns IS NOT NULL, st.start_ns`).all(boot) as StateRow[];
}

export interface UniverseRow { cpu: number; possible: number | null; present: number | null; seen: number; basis: string }

/** The CPUs of the universe that are possible (or present), as a CPU list; null when no source says for every CPU. */
export function universeList(universe: UniverseRow[], key: 'possible' | 'present'): string | null {
  return universe.length === 0 || universe.some((u) => u[key] === null) ? null
    : formatCpuList(universe.filter((u) => u[key] === 1).map((u) => u.cpu));
}

export function cpuUniverse(db: Db, boot: string): UniverseRow[] {
  return db.prepare('SELECT cpu, possible, present, seen, basis FROM cpu_universe WHERE boot = ? ORDER BY cpu').all(boot) as UniverseRow[];
}

/** CPUs whose last known state is in cpu_online_mask. */
export function onlineAtEnd(states: StateRow[]): number[] {
  const last = new Map<number, string>();
  for (const s of states) last.set(s.cpu, s.state);
  return [...last].filter(([, state]) => ONLINE_STATES.has(state)).map(([cpu]) => cpu);
}

/** Rows of a derived table grouped at a time (rowid ranges): see pairCounts. */
const GROUP_ROWS = 65_536;

/**
 * Grouped by rowid ranges of GROUP_ROWS rows, the groups added up here: one GROUP BY over the whole
 * table has SQLite's sorter hold every row (up to 16 MB, 250 pages, before it spills), and the peak
 * RSS grew with the input (+26 MB at 5 M events, 1 M: +5 MB). Same rows as one
 * GROUP BY src, target ORDER BY src IS NULL, src, target (a NULL sender is a pair of its own).
 */
export function pairCounts(db: Db, boot: string): PairCount[] {
  const pairs = new Map<string, PairCount>();
  const count = (table: string, where: string, column: 'ipis' | 'csds') => {
    const { lo, hi } = db.prepare(`SELECT (SELECT min(rowid) FROM ${table}) AS lo, (SELECT max(rowid) FROM ${table}) AS hi`).get() as { lo: number | null; hi: number | null };
    if (lo === null || hi === null) return;
    const group = db.prepare(`SELECT src_cpu, target_cpu, count(*) FROM ${table}
      WHERE rowid BETWEEN ? AND ? AND boot = ?${where} GROUP BY 1, 2`).raw();
    for (let from = lo; from <= hi; from += GROUP_ROWS) {
      for (const [src, target, n] of group.all(from, from + GROUP_ROWS - 1, boot) as [number | null, number, number][]) {
        const key = `${src}:${target}`;
        let pair = pairs.get(key);
        if (pair === undefined) pairs.set(key, (pair = { src, target, ipis: 0, csds: 0 }));
        pair[column] += n;
      }
    }
  };
  count('ipi_sends', ' AND repeats_event_id IS NULL', 'ipis');
  count('csd_lifecycle', '', 'csds');
  return [...pairs.values()].sort((a, b) => (a.src === null ? 1 : 0) - (b.src === null ? 1 : 0)
    || (a.src ?? 0) - (b.src ?? 0) || a.target - b.target);
}

/** Event ids grouped at a time by receivedCounts (a range's IPI entries are what SQLite's sorter holds). */
const GROUP_EVENT_IDS = 262_144;

/** IPI handler entries per receiving CPU, grouped by event_id ranges for the reason pairCounts gives (5 M events: +15 MB). */
export function receivedCounts(db: Db, boot: string): { cpu: number; entries: number }[] {
  const { lo, hi } = db.prepare('SELECT (SELECT min(event_id) FROM events) AS lo, (SELECT max(event_id) FROM events) AS hi').get() as { lo: number | null; hi: number | null };
  if (lo === null || hi === null) return [];
  const group = db.prepare(`SELECT e.cpu, count(*) FROM events e JOIN sources s USING (source_id)
    WHERE s.boot = ? AND e.op = 'ipi_entry' AND e.event_id BETWEEN ? AND ? AND e.format != 'qemu' AND e.cpu IS NOT NULL
    GROUP BY e.cpu`).raw();
  const entries = new Map<number, number>();
  for (let from = lo; from <= hi; from += GROUP_EVENT_IDS) {
    for (const [cpu, n] of group.all(boot, from, from + GROUP_EVENT_IDS - 1) as [number, number][]) entries.set(cpu, (entries.get(cpu) ?? 0) + n);
  }
  return [...entries].sort((a, b) => a[0] - b[0]).map(([cpu, n]) => ({ cpu, entries: n }));
}

export function summarizeBoot(db: Db, boot: string, findings: Finding[]): BootSummary {
  const universe = cpuUniverse(db, boot);
  const states = cpuStates(db, boot);
  const list = (key: 'possible' | 'present') => universeList(universe, key);
  const span = bootSpan(db, boot);
  // After a ring-buffer reset (unstable clock) the ftrace clock starts late: times are shown on the
  // printk clock instead, so that none is negative (detect/groups.ts displayShiftNs).
  const shift = displayShiftNs(db, boot);
  return {
    boot,
    clock: shift ? 'printk' : referenceClock(db, boot)?.clock ?? null,
    span_s: span ? { start: toSeconds(span.startNs + shift), end: toSeconds(span.endNs + shift) } : null,
    cpus: {
      possible: list('possible'),
      present: list('present'),
      online_at_end: formatCpuList(onlineAtEnd(states)),
      transitions: states.filter((s) => s.start_ns !== null).map((s) => ({
        cpu: s.cpu, state: s.state, at_s: toSeconds((s.start_ns as number) + shift),
        evidence: s.path !== null && s.line !== null ? `${s.path}:${s.line}` : null, basis: s.basis,
      })).sort((a, b) => a.at_s - b.at_s || a.cpu - b.cpu),
    },
    pairs: pairCounts(db, boot),
    received: receivedCounts(db, boot),
    qemu: qemuSummary(db, boot),
    findings: findings.filter((f) => f.boot === boot),
  };
}

export function qemuSummary(db: Db, boot: string): QemuSummary | null {
  const sends = (db.prepare('SELECT count(*) AS n FROM qemu_sends WHERE boot = ?').get(boot) as { n: number }).n;
  if (sends === 0) return null;
  // One correlation writes all of a boot's links, with one method (replay/qemu-correlate.ts): any
  // linked row says it. (GROUP BY method had SQLite's sorter hold every link: +7 MB at mixed-5M.)
  const method = `(SELECT method FROM qemu_links WHERE boot = :boot AND method IS NOT NULL LIMIT 1) AS method`;
  // arm kernels trace one IPI twice (ipi_send_cpu, then ipi_raise: ipi_sends.repeats_event_id): one IPI
  // is one guest send, linked when either of its rows is.
  const repeats = db.prepare('SELECT 1 FROM ipi_sends WHERE boot = ? AND repeats_event_id IS NOT NULL LIMIT 1').get(boot) !== undefined;
  const links = (repeats
    ? db.prepare(`SELECT count(*) AS n, coalesce(sum(linked), 0) AS linked, ${method} FROM (
        SELECT coalesce(p.repeats_event_id, l.guest_event_id) AS ipi, l.target_cpu, max(l.qemu_event_id IS NOT NULL) AS linked
          FROM qemu_links l LEFT JOIN ipi_sends p ON p.boot = l.boot AND p.event_id = l.guest_event_id AND p.target_cpu = l.target_cpu
         WHERE l.boot = :boot GROUP BY 1, 2)`)
    : db.prepare(`SELECT count(*) AS n, count(qemu_event_id) AS linked, ${method} FROM qemu_links WHERE boot = :boot`))
    .get({ boot }) as { n: number; linked: number; method: string | null };
  const clock = db.prepare("SELECT offset_ns, drift_ppm, spread_ns FROM clock_offsets WHERE boot = ? AND clock = 'qemu-host'").get(boot) as
    { offset_ns: number; drift_ppm: number | null; spread_ns: number | null } | undefined;
  return {
    sends, guest_sends: links.n, linked: links.linked, method: links.method,
    offset_s: clock ? clock.offset_ns / 1e9 : null, drift_ppm: clock?.drift_ppm ?? null,
    spread_us: clock?.spread_ns == null ? null : Math.round(clock.spread_ns / 1e3),
    vcpus: db.prepare('SELECT host_tid, cpu, basis FROM qemu_vcpus WHERE boot = ? ORDER BY cpu, host_tid').all(boot) as QemuSummary['vcpus'],
  };
}

function formatQemu(q: QemuSummary): string[] {
  const pct = q.guest_sends === 0 ? '' : ` (${((100 * q.linked) / q.guest_sends).toFixed(1)} %)`;
  const how = q.method === 'time' && q.offset_s !== null
    ? `, by time: reference = QEMU host time ${q.offset_s >= 0 ? '+' : '-'} ${Math.abs(q.offset_s).toFixed(6)} s${q.drift_ppm !== null ? `, drift ${q.drift_ppm.toFixed(1)} ppm${Math.abs(q.drift_ppm) >= 100_000 ? ` (the guest clock runs ${(1 + q.drift_ppm / 1e6).toFixed(3)} times QEMU's)` : ''}` : ''}${q.spread_us !== null ? `, residual spread ${q.spread_us} us` : ''}`
    : q.method === 'order' ? ', by order (QEMU logged no timestamps)' : '';
  const out = [q.guest_sends === 0
    ? `QEMU: ${q.sends} IPI sends logged; the guest traced none to link them to`
    : `QEMU: ${q.sends} IPI sends logged; ${q.linked} of ${q.guest_sends} guest IPI sends linked to one${pct}${how}`];
  if (q.vcpus.length) out.push(`  vCPU threads: ${q.vcpus.map((v) => `${v.host_tid}=CPU${v.cpu}`).join(', ')}`);
  return out;
}

const MAX_TRANSITIONS = 24;
const MAX_PAIRS = 24;

/** Seconds to the millisecond, without a '-0.000' for times a hair before zero. */
const seconds3 = (s: number) => (Math.abs(s) < 0.0005 ? 0 : s).toFixed(3);

const cpuName = (cpu: number | null) => (cpu === null ? 'CPU?' : `CPU${cpu}`);

/** The detail of one boot: its clock and span, CPUs and hotplug transitions, IPI counts, QEMU. */
export function formatSummaryText(s: BootSummary): string[] {
  const out: string[] = [];
  {
    const span = s.span_s ? `, ${seconds3(s.span_s.start)} to ${seconds3(s.span_s.end)} s` : '';
    out.push(`== boot ${s.boot} (times in seconds of the ${s.clock ?? 'unknown'} clock${span})`);
    out.push(`CPUs: possible ${s.cpus.possible ?? 'unknown'}, present ${s.cpus.present ?? 'unknown'}, online at end ${s.cpus.online_at_end || 'none known'}`);
    const shown = s.cpus.transitions.slice(0, MAX_TRANSITIONS);
    if (shown.length) out.push('  hotplug transitions:');
    for (const t of shown) {
      const where = t.evidence === null ? '' : t.evidence.replace(/^(.*):(\d+)$/, (_m, path: string, line: string) => `${displayPath(path)}:${line}`);
      out.push(`    ${t.at_s.toFixed(6).padStart(12)} s  ${cpuName(t.cpu).padEnd(6)} ${t.state.padEnd(10)} ${where} (${t.basis})`);
    }
    if (s.cpus.transitions.length > shown.length) out.push(`    ... ${s.cpus.transitions.length - shown.length} more (--json lists all)`);
    if (s.pairs.length === 0 && s.received.length > 0) {
      out.push(`IPIs and cross-calls: no sends traced (no ipi_send_*/csd_* events); IPI handler entries received: ${
        s.received.map((r) => `CPU${r.cpu} ${r.entries}`).join(', ')}`);
    } else if (s.pairs.length === 0) {
      out.push('IPIs and cross-calls: none seen (no IPI or csd trace events in the input)');
    } else {
      const ipis = s.pairs.reduce((a, p) => a + p.ipis, 0);
      const csds = s.pairs.reduce((a, p) => a + p.csds, 0);
      out.push(`IPIs and cross-calls (sender -> target: IPIs sent, csds queued; ${ipis} IPIs, ${csds} csds in all):`);
      const pairs = s.pairs.length <= MAX_PAIRS ? s.pairs
        : [...s.pairs].sort((a, b) => b.ipis + b.csds - (a.ipis + a.csds)).slice(0, MAX_PAIRS);
      for (const p of pairs) {
        out.push(`    ${`${cpuName(p.src)} -> ${cpuName(p.target)}`.padEnd(16)} ${String(p.ipis).padStart(7)} IPIs ${String(p.csds).padStart(7)} csds`);
      }
      if (s.pairs.length > pairs.length) out.push(`    ... ${s.pairs.length - pairs.length} more pairs with fewer (--json lists all)`);
    }
    if (s.qemu) out.push(...formatQemu(s.qemu));
  }
  return out;
}
