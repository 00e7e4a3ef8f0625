// Rows for a warehouse (ipitrace export, ipitrace batch --export): one per finding and one per boot,
// flat and self-describing, so that a farm's DuckDB / ClickHouse / BigQuery can answer fleet
// questions ("which callsite leaks CSDs this week, on which kernels") over many runs. Read back from
// the replayed tables and findings; nothing here is specific to one output format.
import type { Db } from '../store/db.js';
import { cpuStates, cpuUniverse, onlineAtEnd, universeList } from './summary.js';
import { formatCpuList } from '../parsers/patterns.js';

/** Version of the export rows' shape; a new column or a changed meaning bumps it. */
export const EXPORT_VERSION = 1;

export interface FindingRow {
  export_version: number;
  /** Stable across boots: no CPU numbers, addresses, times or boot names (detect/signature.ts). */
  signature: string;
  boot: string;
  kernel: string | null;
  arch: string | null;
  detector: string;
  severity: string;
  title: string;
  message: string;
  /** Exact nanoseconds of the boot's reference clock, as a decimal string (may exceed 2^53). */
  ts_ns: string | null;
  cpu: number | null;
  target_cpu: number | null;
  csd: string | null;
  func: string | null;
  /** 'file:line' of each input line that shows it. */
  evidence: string[];
}

export interface BootRow {
  export_version: number;
  boot: string;
  kernel: string | null;
  arch: string | null;
  /** Input files, as ingested. */
  files: string[];
  events: number;
  console_lines: number;
  cpus_possible: string | null;
  cpus_present: string | null;
  cpus_online_at_end: string;
  errors: number;
  warnings: number;
  infos: number;
  /** Distinct signatures of the boot's warning and error findings. */
  signatures: string[];
}

/** The console's banner ("Linux version 6.12.107+deb13-amd64 (...) ..."), the boot's first one; null without one. */
export function kernelBanner(db: Db, boot: string): string | null {
  const row = db.prepare(`SELECT c.text FROM console_messages c JOIN sources s USING (source_id)
      WHERE s.boot = ? AND c.text LIKE 'Linux version %' ORDER BY c.source_id, c.line LIMIT 1`).get(boot) as { text: string } | undefined;
  return row?.text ?? null;
}

/** The kernel release the banner names. */
export function kernelRelease(banner: string | null): string | null {
  return banner?.split(/\s+/)[2] ?? null;
}

/**
 * The architecture, from what the boot's own lines say: the banner's compiler triplet or release
 * suffix, else the interrupt controller QEMU traced, else the register dump layout of a report.
 */
export function architecture(db: Db, boot: string, banner: string | null): string | null {
  const fromBanner: [RegExp, string][] = [
    [/x86_64-linux|-amd64\b|x86_64/, 'x86_64'], [/aarch64-linux|-arm64\b|aarch64/, 'arm64'],
    [/arm-linux-gnueabi|-armmp\b|armv7/, 'arm'], [/riscv64/, 'riscv64'], [/i[3-6]86-linux|-686\b/, 'x86'],
  ];
  for (const [re, arch] of fromBanner) if (banner !== null && re.test(banner)) return arch;
  // The first QEMU record of a source that has QEMU lines (sources.format_counts): an apic_* or gic*
  // event. Without that gate the query read every event of a boot that has no QEMU log.
  const kind = db.prepare(`SELECT e.kind FROM events e WHERE e.format = 'qemu' AND (e.kind LIKE 'apic%' OR e.kind LIKE 'gic%') AND e.source_id IN (
      SELECT source_id FROM sources WHERE boot = ? AND coalesce(json_extract(format_counts, '$.qemu'), 0) > 0) LIMIT 1`)
    .pluck().get(boot) as string | undefined;
  if (kind?.startsWith('apic')) return 'x86_64';
  if (kind?.startsWith('gic')) return 'arm64';
  const regs = db.prepare(`SELECT c.text FROM console_messages c JOIN sources s USING (source_id)
      WHERE s.boot = ? AND (c.text LIKE 'RIP: %' OR c.text LIKE 'pc : %' OR c.text LIKE 'PC is at %' OR c.text LIKE 'epc : %') LIMIT 1`)
    .get(boot) as { text: string } | undefined;
  if (!regs) return null;
  return regs.text.startsWith('RIP') ? 'x86_64' : regs.text.startsWith('pc :') ? 'arm64' : regs.text.startsWith('PC is') ? 'arm' : 'riscv64';
}

export function exportRows(db: Db, boot: string): { boot: BootRow; findings: FindingRow[] } {
  const banner = kernelBanner(db, boot);
  const kernel = kernelRelease(banner);
  const arch = architecture(db, boot, banner);
  const findings = (db.prepare(`SELECT signature, detector, severity, title, message, CAST(ts_ns AS TEXT) AS ts_ns, cpu, target_cpu, csd, func, evidence
      FROM findings WHERE boot = ? ORDER BY finding_id`).all(boot) as (Omit<FindingRow, 'evidence' | 'boot' | 'kernel' | 'arch' | 'export_version'> & { evidence: string })[])
    .map((f): FindingRow => ({
      export_version: EXPORT_VERSION, signature: f.signature, boot, kernel, arch, detector: f.detector, severity: f.severity,
      title: f.title, message: f.message, ts_ns: f.ts_ns, cpu: f.cpu, target_cpu: f.target_cpu, csd: f.csd, func: f.func,
      evidence: (JSON.parse(f.evidence) as { file: string; line: number }[]).map((e) => `${e.file}:${e.line}`),
    }));
  const files = db.prepare('SELECT path FROM sources WHERE boot = ? ORDER BY source_id').pluck().all(boot) as string[];
  const count = (sql: string) => (db.prepare(sql).pluck().get(boot) as number | null) ?? 0;
  const universe = cpuUniverse(db, boot);
  const list = (key: 'possible' | 'present') => universeList(universe, key);
  const serious = findings.filter((f) => f.severity !== 'info');
  return {
    boot: {
      export_version: EXPORT_VERSION, boot, kernel, arch, files,
      events: count('SELECT count(*) FROM events JOIN sources USING (source_id) WHERE boot = ?'),
      console_lines: count('SELECT count(*) FROM console_messages JOIN sources USING (source_id) WHERE boot = ?'),
      cpus_possible: list('possible'), cpus_present: list('present'),
      cpus_online_at_end: formatCpuList(onlineAtEnd(cpuStates(db, boot))),
      errors: findings.filter((f) => f.severity === 'error').length,
      warnings: findings.filter((f) => f.severity === 'warning').length,
      infos: findings.filter((f) => f.severity === 'info').length,
      signatures: [...new Set(serious.map((f) => f.signature))].sort(),
    },
    findings,
  };
}
