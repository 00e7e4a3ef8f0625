// Findings that tell one story, grouped, with one headline each: the verdict line a person reads
// first. A csd never released, the cross-call to an offline CPU that left it locked and the kernel's
// own CSD-lock report of the wait it causes are one group; its headline names who waits, for what,
// and why the target never answered:
//   CPU1 waits forever in csd_lock_wait: it queued ipi_fault_func to CPU2, which had gone offline
//   at 2.997 s (trace.txt:1466)
// Two findings join when they name the same csd, or the same sender -> target pair with the same
// function (or one of them names none). Info findings (panics, BUGs: context) stay groups of their own.
import type { Db } from '../store/db.js';
import { SEVERITIES, type Finding, type Severity } from './detect.js';

export interface FindingGroup {
  boot: string;
  severity: Severity;
  /** One line: the root cause, with the evidence location that shows it. */
  headline: string;
  /** The signature of the group's leading finding (detect/signature.ts). */
  signature: string;
  /** In severity order, the leading finding first. */
  findings: Finding[];
}

/** Which finding of a group leads it (and names its signature), at equal severity. */
const LEAD_ORDER = ['csd-never-released', 'ipi-to-nonexistent', 'ipi-to-offline', 'pending-at-offline', 'callback-on-offline-cpu',
  'csd-reuse-while-locked', 'kernel-reported', 'cross-call-wait', 'csd-held-too-long', 'csd-released-late', 'ipi-not-delivered', 'spurious-delivery'];

const rank = (f: Finding) => SEVERITIES.indexOf(f.severity) * 100 + (LEAD_ORDER.indexOf(f.detector) + 1 || 99);

/** Formats a path for display: relative to the working directory when that is shorter. */
export type PathDisplay = (file: string) => string;

export function groupFindings(findings: Finding[]): Finding[][] {
  const parent = findings.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const union = (i: number, j: number) => {
    const a = find(i), b = find(j);
    if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
  };
  // The transitive closure of related(), by keys in one pass (comparing every pair was quadratic:
  // 37 s for the 8188 findings of broadcasts to 8192 CPUs): the same csd; or the same sender ->
  // target pair with the same function, a finding of the pair that names none joining them all.
  const firstOf = new Map<string, number>();
  const join = (key: string, i: number) => {
    const first = firstOf.get(key);
    if (first === undefined) firstOf.set(key, i);
    else union(first, i);
  };
  findings.forEach((f, i) => {
    if (f.severity === 'info') return;
    if (f.csd !== null && f.csd !== '0x0') join(`csd\u0000${f.boot}\u0000${f.csd}`, i);
    if (f.cpu === null || f.target_cpu === null) return;
    const pair = `pair\u0000${f.boot}\u0000${f.cpu}\u0000${f.target_cpu}`;
    join(`${pair}\u0000${f.func === null ? '\u0000' : f.func}`, i);
    if (f.func === null) join(`${pair}\u0000any`, i);
  });
  // A pair with a function-less finding: every function of the pair joins it.
  findings.forEach((f, i) => {
    if (f.severity === 'info' || f.cpu === null || f.target_cpu === null || f.func === null) return;
    const any = firstOf.get(`pair\u0000${f.boot}\u0000${f.cpu}\u0000${f.target_cpu}\u0000any`);
    if (any !== undefined) union(any, i);
  });
  const groups = new Map<number, Finding[]>();
  findings.forEach((f, i) => {
    const root = find(i);
    const group = groups.get(root);
    if (group === undefined) groups.set(root, [f]);
    else group.push(f);
  });
  return [...groups.values()]
    .map((g) => g.sort((a, b) => rank(a) - rank(b) || Number(a.ts_ns ?? Infinity) - Number(b.ts_ns ?? Infinity)))
    .sort((a, b) => rank(a[0]) - rank(b[0]) || Number(a[0].ts_ns ?? Infinity) - Number(b[0].ts_ns ?? Infinity));
}

/**
 * What to add to a reference-clock time to show it: 0, or, when the reference is an ftrace clock that
 * restarted at a buffer reset (the kernel's "Unstable clock detected, switching default tracing
 * clock to global"), the shift back to the printk clock (kernel time since boot), so that no time
 * shown is negative or out of order against the console.
 */
export function displayShiftNs(db: Db, boot: string): number {
  const row = db.prepare(`SELECT offset_ns FROM clock_offsets WHERE boot = ? AND clock = 'printk' AND ref_clock = 'ftrace' AND method = 'buffer reset'`)
    .get(boot) as { offset_ns: number } | undefined;
  return row ? -row.offset_ns : 0;
}

interface TargetState { state: string; startNs: number | null; path: string | null; line: number | null }

/** The target's hotplug state at a time (the cpu_states interval in force), or nonexistent. */
function targetStateAt(db: Db, boot: string, cpu: number, ns: number | null): TargetState | null {
  const absent = db.prepare('SELECT 1 FROM cpu_universe WHERE boot = ? AND cpu = ? AND present = 0').get(boot, cpu);
  if (absent) return { state: 'nonexistent', startNs: null, path: null, line: null };
  if (ns === null) return null;
  const row = db.prepare(`SELECT st.state, st.start_ns AS startNs, s.path, st.line FROM cpu_states st
      LEFT JOIN sources s ON s.source_id = st.source_id
    WHERE st.boot = ? AND st.cpu = ? AND (st.start_ns IS NULL OR st.start_ns <= ?) ORDER BY st.start_ns IS NULL, st.start_ns DESC LIMIT 1`)
    .get(boot, cpu, ns) as TargetState | undefined;
  return row ?? null;
}

/** The present count per boot while findingGroups runs: asked once per headline, it read the whole universe each time (8 s for 8188 groups). */
let presentMemo: Map<string, string | null> | null = null;

function presentList(db: Db, boot: string): string | null {
  const known = presentMemo?.get(boot);
  if (known !== undefined) return known;
  const n = (db.prepare('SELECT count(*) AS n FROM cpu_universe WHERE boot = ? AND present = 1').get(boot) as { n: number }).n;
  const list = n ? `${n} present` : null;
  presentMemo?.set(boot, list);
  return list;
}

const at = (path: string | null, line: number | null, display: PathDisplay) => (path !== null && line !== null ? ` (${display(path)}:${line})` : '');

/** "which had gone offline at 2.997 s (trace.txt:1466)", from replay's tables. */
function whyTarget(db: Db, f: Finding, display: PathDisplay): string {
  if (f.target_cpu === null) return '';
  const t = targetStateAt(db, f.boot, f.target_cpu, f.ts_ns === null ? null : Number(f.ts_ns));
  if (t === null) return ` to CPU${f.target_cpu}`;
  if (t.startNs !== null) t.startNs += displayShiftNs(db, f.boot);
  const when = t.startNs !== null ? ` at ${(t.startNs / 1e9).toFixed(3)} s` : '';
  switch (t.state) {
    case 'nonexistent': {
      const present = presentList(db, f.boot);
      return ` to CPU${f.target_cpu}, which does not exist${present ? ` (${present})` : ''}`;
    }
    case 'offline': return ` to CPU${f.target_cpu}, which had gone offline${when}${at(t.path, t.line, display)}`;
    case 'dying': return ` to CPU${f.target_cpu}, which was going offline (dying${t.startNs !== null ? ` since ${(t.startNs / 1e9).toFixed(3)} s` : ''})${at(t.path, t.line, display)}`;
    case 'online': case 'going_down': return ` to CPU${f.target_cpu}, which was online and never ran it`;
    default: return ` to CPU${f.target_cpu}, ${t.state} then${at(t.path, t.line, display)}`;
  }
}

const firstEvidence = (f: Finding, display: PathDisplay) => (f.evidence.length ? ` (${display(f.evidence[0].file)}:${f.evidence[0].line})` : '');

/** The verdict line of one group. */
export function headline(db: Db, group: Finding[], display: PathDisplay): string {
  const lead = group[0];
  const kernelWait = group.find((f) => f.detector === 'kernel-reported' && /^CSD lock never released/.test(f.title));
  const cause = group.find((f) => ['csd-never-released', 'ipi-to-offline', 'ipi-to-nonexistent', 'pending-at-offline'].includes(f.detector)
    && f.cpu !== null && f.target_cpu !== null);
  const func = cause?.func ?? lead.func ?? 'a cross-call';
  if (cause && kernelWait) {
    return `CPU${cause.cpu} waits forever in csd_lock_wait: it queued ${func}${whyTarget(db, cause, display)}`;
  }
  if (cause && group.some((f) => f.detector === 'csd-never-released')) {
    return `CPU${cause.cpu} queued ${func}${whyTarget(db, cause, display)}; its csd stays locked (the next csd_lock_wait on it hangs)`;
  }
  if (cause) return `CPU${cause.cpu} sent ${func}${whyTarget(db, cause, display)}`;
  return `${lead.title}${firstEvidence(lead, display)}`;
}

export function findingGroups(db: Db, findings: Finding[], display: PathDisplay): FindingGroup[] {
  presentMemo = new Map();
  try {
    return groupFindings(findings).map((g) => ({
      boot: g[0].boot, severity: g[0].severity, headline: headline(db, g, display), signature: g[0].signature, findings: g,
    }));
  } finally {
    presentMemo = null;
  }
}
