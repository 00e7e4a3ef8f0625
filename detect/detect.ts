// `ipitrace detect` as a library function: replay every boot, run every detector, store findings.
import type { Statement } from 'better-sqlite3';
import * as z from 'zod';
import { listBoots, replayBoot, type ReplayOptions } from '../replay/replay.js';
import { bulkWriteMode, type Db } from '../store/db.js';
import { IpitraceError } from '../store/errors.js';
import { FINDING_COLUMNS, loadDetectors } from './detectors.js';
import { absoluteNs, bootEpoch, enterEpoch } from './epoch.js';
import { signature } from './signature.js';

export const SEVERITIES = ['error', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const Evidence = z.array(z.object({ file: z.string(), line: z.number().int().positive() }).strict());

/** The columns every detector's SELECT returns (FINDING_COLUMNS), evidence parsed. */
export const DetectorRow = z.object({
  detector: z.string(),
  severity: z.enum(SEVERITIES),
  boot: z.string(),
  // A BigInt beyond 2^53 ns (uptimes over 104 days, detect/epoch.ts).
  ts_ns: z.union([z.number().int(), z.bigint()]).nullable(),
  cpu: z.number().int().nullable(),
  target_cpu: z.number().int().nullable(),
  csd: z.string().nullable(),
  func: z.string().nullable(),
  title: z.string(),
  message: z.string(),
  evidence: Evidence,
}).strict();

/** A finding: a detector's row and its signature (detect/signature.ts), stable across boots. */
export const Finding = DetectorRow.extend({ signature: z.string().min(1) }).strict();
export type Finding = z.infer<typeof Finding>;

export interface DetectOptions extends ReplayOptions {
  boot?: string;
  /** csd-held-too-long threshold in ns (the kernel's CSD_LOCK_WAIT_DEBUG default is 5 s). */
  csdTimeoutNs?: number;
}

export const DEFAULT_CSD_TIMEOUT_NS = 5_000_000_000;

export function detect(db: Db, options: DetectOptions = {}): Finding[] {
  const boots = options.boot ? [options.boot] : listBoots(db);
  if (options.boot && !listBoots(db).includes(options.boot)) {
    throw new IpitraceError('E_USAGE', `--boot ${options.boot}: no such boot in the database (have: ${listBoots(db).join(', ') || 'none'})`);
  }
  const detectors = loadDetectors();
  const findings: Finding[] = [];
  const restore = bulkWriteMode(db);
  try {
    for (const boot of boots) {
      const run = db.transaction(() => {
        const epoch = bootEpoch(db, boot);
        const leaveEpoch = epoch > 0n ? enterEpoch(db, boot, epoch) : null;
        replayBoot(db, boot, options);
        const own: Finding[] = [];
        // A loop, not push(...rows): a spread of 300,000 findings overflows the stack.
        for (const detector of detectors) for (const finding of runDetector(db, detector.sql, detector.file, boot, options)) own.push(finding);
        if (leaveEpoch) {
          leaveEpoch();
          for (const f of own) f.ts_ns = absoluteNs(f.ts_ns, epoch);
        }
        storeFindings(db, own);
        for (const f of own) findings.push(f);
      });
      run();
    }
  } finally {
    restore();
  }
  return findings;
}

function runDetector(db: Db, sql: string, file: string, boot: string, options: DetectOptions): Finding[] {
  const params: Record<string, unknown> = { boot };
  if (sql.includes(':csd_timeout_ns')) params.csd_timeout_ns = options.csdTimeoutNs ?? DEFAULT_CSD_TIMEOUT_NS;
  let rows: Record<string, unknown>[];
  try {
    const statement = db.prepare(sql);
    const columns = statement.columns().map((c) => c.name);
    if (columns.join(',') !== FINDING_COLUMNS.join(',')) {
      throw new Error(`returns columns (${columns.join(', ')}), expected (${FINDING_COLUMNS.join(', ')})`);
    }
    rows = statement.all(params) as Record<string, unknown>[];
  } catch (error) {
    throw new IpitraceError('E_DETECTOR_INVALID', `${file}: ${(error as Error).message}`);
  }
  // Prepared for the first finding about a csd: most detectors find nothing on most boots.
  let csdRow: Statement | null = null;
  return rows.map((row) => {
    const f = DetectorRow.parse({ ...row, evidence: JSON.parse(String(row.evidence ?? '[]')) });
    csdRow ??= f.csd === null ? null : db.prepare(`SELECT callsite, target_state FROM csd_lifecycle WHERE boot = :boot AND csd = :csd
      ORDER BY queued_ns = :ts DESC, func IS :func DESC, queued_ns LIMIT 1`);
    const csd = f.csd === null || csdRow === null ? undefined
      : csdRow.get({ boot, csd: f.csd, ts: f.ts_ns, func: f.func }) as { callsite: string | null; target_state: string | null } | undefined;
    return { ...f, signature: signature({ ...f, callsite: csd?.callsite, targetState: csd?.target_state }) };
  });
}

function storeFindings(db: Db, findings: Finding[]): void {
  const insert = db.prepare(`INSERT INTO findings (boot, detector, severity, ts_ns, cpu, target_cpu, csd, func, title, message, evidence, signature)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`);
  for (const f of findings) {
    insert.run(f.boot, f.detector, f.severity, f.ts_ns, f.cpu, f.target_cpu, f.csd, f.func, f.title, f.message, JSON.stringify(f.evidence), f.signature);
  }
}

/** True when some finding is at or above the threshold ('never': never). */
export function reachesThreshold(findings: Finding[], failOn: Severity | 'never'): boolean {
  if (failOn === 'never') return false;
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  return findings.some((f) => rank(f.severity) <= rank(failOn));
}
