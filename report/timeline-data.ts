// The data of the HTML timeline (report/timeline.ts draws it): a boot's CPU lanes and hotplug
// states, IPI sends, csd lifetimes and findings in a time window, read from the replayed tables;
// beyond maxItems IPIs + csds, per-lane density bins (problems stay individual). Times are ns of the
// clock the page shows (the reference clock, or the printk clock after an ftrace buffer reset).
import type { Finding } from '../detect/detect.js';
import { displayShiftNs, findingGroups } from '../detect/groups.js';
import { formatCpuList } from '../parsers/patterns.js';
import type { Db } from '../store/db.js';
import { IpitraceError } from '../store/errors.js';
import { displayPath } from './style.js';
import { bootSpan, cpuStates, cpuUniverse, onlineAtEnd, referenceClock, universeList, type StateRow } from './summary.js';

/** Beyond this many IPIs + csds in the window, draw per-lane density bins instead (problems stay individual). */
export const DEFAULT_MAX_ITEMS = 3000;
const DENSITY_BINS = 240;
const MAX_INDIVIDUAL_PROBLEMS = 2000;

export interface TimelineOptions {
  /** Window in seconds of the reference clock (default: the whole boot). */
  fromS?: number;
  toS?: number;
  maxItems?: number;
  /** The database the page was made from (null: a temporary one), for the zoom hint. */
  db?: string | null;
  /** The input files, for the zoom hint when the database was temporary. */
  files?: string[];
}

export interface Ipi { ts: number; src: number | null; target: number; kind: string; reason: string | null; state: string; path: string; line: number }
export interface Csd { id: number; csd: string | null; func: string | null; src: number | null; target: number; queued: number; released: number | null; outcome: string; path: string | null; line: number | null }
export interface Bin { cpu: number; bin: number; n: number }

export interface TimelineData {
  boot: string;
  clock: string | null;
  spanNs: { start: number; end: number } | null;
  fromNs: number;
  toNs: number;
  whole: boolean;
  cpus: number[];
  nonexistent: Set<number>;
  possible: string | null;
  present: string | null;
  onlineAtEnd: string;
  states: StateRow[];
  /** Per CPU: traced windows, when the boot has ftrace coverage rows. */
  coverage: Map<number, [number, number][]> | null;
  ipis: Ipi[];
  csds: Csd[];
  /** Set when the window holds more than maxItems IPIs + csds: per lane counts of IPIs and csds to it. */
  density: { bins: Bin[]; nbins: number; maxItems: number } | null;
  totals: { ipis: number; csds: number };
  /** Times as numbers: the page places them on a float axis (beyond 2^53 ns to within 256 ns). */
  findings: (Omit<Finding, 'ts_ns'> & { ts_ns: number | null })[];
  zoomHint: (fromS: number, toS: number) => string;
  /** The verdict lines of analyze (detect/groups.ts): one per group of warning or error findings. */
  headlines: { severity: string; text: string }[];
}

// A CPU is in cpu_online_mask from set_cpu_online(true) early in its bring-up ('coming_up': the AP sets it
// itself, untraced, well before its cpuhp steps end) until set_cpu_online(false) in take_cpu_down ('dying':
// untraced too). IPIs to a CPU coming up (reschedule IPIs to its idle task) or being taken down are normal;
// only a target known to be out of the mask, or that does not exist, is drawn as a problem.
const PROBLEM_IPI = "target_state IN ('offline', 'nonexistent')";

export function buildTimeline(db: Db, boot: string, options: TimelineOptions = {}): TimelineData {
  const span = bootSpan(db, boot);
  // After an ftrace buffer reset (unstable clock) the page shows the printk clock, as analyze does
  // (detect/groups.ts displayShiftNs): --from/--to are read on it, and every time is moved onto it below.
  const shift = displayShiftNs(db, boot);
  const fromNs = options.fromS !== undefined ? Math.round(options.fromS * 1e9) - shift : span?.startNs ?? 0;
  const toNs = options.toS !== undefined ? Math.round(options.toS * 1e9) - shift : span?.endNs ?? 0;
  if (toNs < fromNs) throw new IpitraceError('E_USAGE', `--from ${fromNs / 1e9} is after --to ${toNs / 1e9}`);
  const universe = cpuUniverse(db, boot);
  const states = cpuStates(db, boot);
  const window = { boot, from: fromNs, to: toNs };

  const ipiSql = `SELECT i.ts_ns AS ts, i.src_cpu AS src, i.target_cpu AS target, i.kind, i.reason, i.target_state AS state, s.path, i.line
    FROM ipi_sends i JOIN sources s USING (source_id)
    WHERE i.boot = :boot AND i.ts_ns BETWEEN :from AND :to AND i.repeats_event_id IS NULL`;
  const csdSql = `SELECT c.csd_use_id AS id, c.csd, c.func, c.src_cpu AS src, c.target_cpu AS target, c.queued_ns AS queued,
      c.released_ns AS released, c.outcome, s.path, e.line
    FROM csd_lifecycle c LEFT JOIN events e ON e.event_id = c.queue_event_id LEFT JOIN sources s ON s.source_id = e.source_id
    WHERE c.boot = :boot AND c.queued_ns IS NOT NULL AND c.queued_ns <= :to AND (c.released_ns IS NULL OR c.released_ns >= :from)`;
  const count = (sql: string) => (db.prepare(`SELECT count(*) AS n FROM (${sql})`).get(window) as { n: number }).n;
  const totals = { ipis: count(ipiSql), csds: count(csdSql) };
  const maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS;
  let ipis: Ipi[];
  let csds: Csd[];
  let density: TimelineData['density'] = null;
  if (totals.ipis + totals.csds <= maxItems) {
    ipis = db.prepare(`${ipiSql} ORDER BY i.ts_ns`).all(window) as Ipi[];
    csds = db.prepare(`${csdSql} ORDER BY c.queued_ns`).all(window) as Csd[];
  } else {
    ipis = db.prepare(`${ipiSql} AND i.${PROBLEM_IPI} ORDER BY i.ts_ns LIMIT ${MAX_INDIVIDUAL_PROBLEMS}`).all(window) as Ipi[];
    csds = db.prepare(`${csdSql} AND (c.outcome != 'released' OR c.reused_use_id IS NOT NULL) ORDER BY c.queued_ns LIMIT ${MAX_INDIVIDUAL_PROBLEMS}`).all(window) as Csd[];
    const binOf = (column: string) => `min(${DENSITY_BINS - 1}, CAST((${column} - :from) * 1.0 / max(1, :to - :from) * ${DENSITY_BINS} AS INTEGER))`;
    const bins = db.prepare(`SELECT cpu, bin, sum(n) AS n FROM (
        SELECT target_cpu AS cpu, ${binOf('ts_ns')} AS bin, count(*) AS n FROM ipi_sends
          WHERE boot = :boot AND ts_ns BETWEEN :from AND :to AND repeats_event_id IS NULL GROUP BY 1, 2
        UNION ALL
        SELECT target_cpu, ${binOf('max(queued_ns, :from)')}, count(*) FROM csd_lifecycle
          WHERE boot = :boot AND queued_ns IS NOT NULL AND queued_ns <= :to AND (released_ns IS NULL OR released_ns >= :from) GROUP BY 1, 2
      ) GROUP BY cpu, bin`).all(window) as Bin[];
    density = { bins, nbins: DENSITY_BINS, maxItems };
  }

  const findings = (db.prepare(`SELECT detector, severity, boot, ts_ns, cpu, target_cpu, csd, func, title, message, evidence, signature
    FROM findings WHERE boot = ? ORDER BY ts_ns IS NULL, ts_ns, detector`).all(boot) as (Omit<Finding, 'evidence'> & { evidence: string })[])
    .map((f) => ({ ...f, ts_ns: f.ts_ns === null ? null : Number(f.ts_ns), evidence: JSON.parse(f.evidence) as Finding['evidence'] }));
  const headlines = findingGroups(db, findings, displayPath).filter((g) => g.severity !== 'info').map((g) => ({ severity: g.severity, text: g.headline }));

  const nonexistent = new Set(universe.filter((u) => u.present === 0).map((u) => u.cpu));
  const cpus = new Set<number>(universe.filter((u) => u.present !== 0 || u.seen === 1).map((u) => u.cpu));
  for (const s of states) cpus.add(s.cpu);
  for (const i of ipis) { cpus.add(i.target); if (i.src !== null) cpus.add(i.src); }
  for (const c of csds) { cpus.add(c.target); if (c.src !== null) cpus.add(c.src); }
  for (const b of density?.bins ?? []) cpus.add(b.cpu);
  for (const f of findings) { if (f.cpu !== null) cpus.add(f.cpu); if (f.target_cpu !== null) cpus.add(f.target_cpu); }

  const coverageRows = db.prepare('SELECT cpu, start_ns, end_ns FROM cpu_coverage WHERE boot = ? ORDER BY cpu, start_ns')
    .all(boot) as { cpu: number; start_ns: number; end_ns: number }[];
  let coverage: Map<number, [number, number][]> | null = null;
  if (coverageRows.length) {
    coverage = new Map();
    for (const r of coverageRows) {
      const list = coverage.get(r.cpu) ?? [];
      list.push([r.start_ns, r.end_ns]);
      coverage.set(r.cpu, list);
    }
  }
  const list = (key: 'possible' | 'present') => universeList(universe, key);

  const data: TimelineData = {
    boot,
    clock: shift ? 'printk' : referenceClock(db, boot)?.clock ?? null,
    spanNs: span ? { start: span.startNs, end: span.endNs } : null,
    fromNs,
    toNs,
    whole: options.fromS === undefined && options.toS === undefined,
    cpus: [...cpus].sort((a, b) => a - b),
    nonexistent,
    possible: list('possible'),
    present: list('present'),
    onlineAtEnd: formatCpuList(onlineAtEnd(states)),
    states,
    coverage,
    ipis,
    csds,
    density,
    totals,
    findings,
    zoomHint: zoomHint(boot, options),
    headlines,
  };
  return shift ? shifted(data, shift) : data;
}

/** Every time of the page moved by `shift` ns (reference clock -> the clock shown). */
function shifted(d: TimelineData, shift: number): TimelineData {
  const t = (ns: number) => ns + shift;
  const tn = (ns: number | null) => (ns === null ? null : ns + shift);
  return {
    ...d,
    spanNs: d.spanNs && { start: t(d.spanNs.start), end: t(d.spanNs.end) },
    fromNs: t(d.fromNs),
    toNs: t(d.toNs),
    states: d.states.map((st) => ({ ...st, start_ns: tn(st.start_ns), end_ns: tn(st.end_ns) })),
    coverage: d.coverage && new Map([...d.coverage].map(([cpu, w]) => [cpu, w.map(([a, b]) => [t(a), t(b)] as [number, number])])),
    ipis: d.ipis.map((i) => ({ ...i, ts: t(i.ts) })),
    csds: d.csds.map((c) => ({ ...c, queued: t(c.queued), released: tn(c.released) })),
    findings: d.findings.map((f) => ({ ...f, ts_ns: tn(f.ts_ns) })),
  };
}

const shellWord = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

function zoomHint(boot: string, options: TimelineOptions): (fromS: number, toS: number) => string {
  const window = (fromS: number, toS: number) => `--from ${fromS} --to ${toS}`;
  if (options.db) {
    return (fromS, toS) => `ipitrace timeline --db ${shellWord(options.db as string)} --boot ${shellWord(boot)} ${window(fromS, toS)} --html zoom.html`;
  }
  const files = (options.files ?? ['FILE...']).map(shellWord).join(' ');
  return (fromS, toS) => `ipitrace analyze --db run.db --boot ${shellWord(boot)} ${files} && ipitrace timeline --db run.db --boot ${shellWord(boot)} ${window(fromS, toS)} --html zoom.html`;
}

