// ipitrace batch PATH... [--manifest F] [--out DIR] [--jobs N] [--json] [--fail-on ...]
// Many boots in one run, as a boot farm has them: each folder (its files) or file is one boot,
// analyzed as `ipitrace analyze --json` would, on every core. A boot that cannot be analyzed is
// reported and the run goes on.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultJobs, runPool } from '../batch/pool.js';
import { unitsFromManifest, unitsFromPaths } from '../batch/units.js';
import type { BootRow, FindingRow } from '../report/export.js';
import { commitStaged, discardStaged, exportPaths, stagedPaths, staging, writeJsonl, writeParquet } from '../report/export-write.js';
import { IpitraceError } from '../store/errors.js';
import { writeOutputFile } from '../store/output-file.js';
import { BatchArgs, validateOptions } from './args.js';
import { inputPaths } from './options.js';

export type { BatchArgs } from './args.js';

/** One boot's line of `batch --json` (JSON Lines: one object per boot, in completion order). */
export interface BatchLine {
  boot: string;
  files: string[];
  /** analyze's exit code for this boot: 0 clean, 1 findings at --fail-on, 2 not analyzed. */
  exit_code: number;
  errors: number;
  warnings: number;
  infos: number;
  seconds: number;
  /** The boot's first verdict line (analyze's headline of its most severe story), null when clean. */
  headline: string | null;
  /** Why the boot could not be analyzed (exit_code 2), else null. */
  error: string | null;
}

interface Counts { errors: number; warnings: number; infos: number; headline: string | null }

/** Severity counts and the headline from analyze's JSON document (whatever else it holds). */
function countFindings(json: string): Counts {
  const counts: Counts = { errors: 0, warnings: 0, infos: 0, headline: null };
  if (json.trim() === '') return counts;
  const doc = JSON.parse(json) as { boots?: { headlines?: string[]; findings?: { severity: string; title: string }[] }[] };
  const findings = (doc.boots ?? []).flatMap((b) => b.findings ?? []);
  for (const f of findings) {
    if (f.severity === 'error') counts.errors++;
    else if (f.severity === 'warning') counts.warnings++;
    else counts.infos++;
  }
  const rank = ['error', 'warning', 'info'];
  const first = [...findings].sort((a, b) => rank.indexOf(a.severity) - rank.indexOf(b.severity))[0];
  const headline = (doc.boots ?? []).flatMap((b) => b.headlines ?? [])[0];
  counts.headline = first && first.severity !== 'info' ? headline ?? first.title : null;
  return counts;
}

/** Runs the batch; returns the exit code: 1 if any boot has a finding at --fail-on, else 2 if any boot failed, else 0. */
export async function runBatch(args: BatchArgs, out = { stdout: (t: string) => process.stdout.write(t), stderr: (t: string) => process.stderr.write(t) }): Promise<number> {
  const units = [...(args.manifest ? unitsFromManifest(args.manifest) : []), ...unitsFromPaths(inputPaths(args.paths))];
  if (units.length === 0) throw new IpitraceError('E_USAGE', 'give boots to analyze: folders, files or --manifest FILE');
  if (args.out) mkdirSync(args.out, { recursive: true });
  // Warehouse rows: JSON Lines appended boot by boot (memory stays flat), Parquet written at the end.
  // Written to temporary files beside the final ones, renamed into place at the end (whole or not at all).
  const final = args.export ? exportPaths(args.export, args.exportFormat) : null;
  const exported = final ? stagedPaths(final) : null;
  const parquetRows: { boots: BootRow[]; findings: FindingRow[] } = { boots: [], findings: [] };
  if (exported) {
    mkdirSync(args.export!, { recursive: true });
    if (args.exportFormat === 'jsonl') await staging(exported, () => { for (const path of [exported.findings, exported.boots]) writeJsonl(path, [], false); });
  }
  const jobs = args.jobs ?? defaultJobs();
  const progress = args.progress ?? process.stderr.isTTY === true;
  let done = 0;
  const tally = { findings: 0, clean: 0, failed: 0 };
  const width = Math.min(40, Math.max(...units.map((u) => u.boot.length)));
  const started = performance.now();
  const pool = runPool(units, { failOn: args.failOn, csdTimeout: args.csdTimeout, grace: args.grace, cpus: args.cpus }, jobs, exported !== null, (unit, result) => {
    done++;
    if (exported && result.rows) {
      const boots = result.rows.map((r) => r.boot);
      const findings = result.rows.flatMap((r) => r.findings);
      if (args.exportFormat === 'jsonl') {
        try {
          writeJsonl(exported.findings, findings, true);
          writeJsonl(exported.boots, boots, true);
        } catch (error) {
          discardStaged(exported);
          throw new IpitraceError('E_OUTPUT', `--export ${args.export}: not written: ${(error as NodeJS.ErrnoException).code === 'ENOSPC' ? 'disk full' : (error as Error).message}; nothing was left half-written`);
        }
      } else {
        parquetRows.boots.push(...boots);
        for (const finding of findings) parquetRows.findings.push(finding);
      }
    }
    let counts: Counts = { errors: 0, warnings: 0, infos: 0, headline: null };
    let error: string | null = null;
    if (result.code === 2) error = result.stderr.trim().replace(/^ipitrace: /, '') || 'not analyzed';
    else {
      try {
        counts = countFindings(result.stdout);
      } catch {
        error = 'internal error: analyze printed no JSON';
      }
    }
    const code = error ? 2 : result.code;
    if (code === 1) tally.findings++;
    else if (code === 0) tally.clean++;
    else tally.failed++;
    if (args.out) {
      const name = unit.boot.replace(/[^\w.~-]/g, '_');
      if (error) writeOutputFile(join(args.out, `${name}.error.txt`), `${error}\n`, '--out');
      else writeOutputFile(join(args.out, `${name}.json`), result.stdout, '--out');
    }
    const line: BatchLine = {
      boot: unit.boot, files: unit.files, exit_code: code, errors: counts.errors, warnings: counts.warnings, infos: counts.infos,
      seconds: Math.round(result.ms) / 1000, headline: counts.headline, error,
    };
    if (progress) out.stderr('\r\x1b[K');
    out.stdout(args.json ? `${JSON.stringify(line)}\n` : `${formatLine(line, width)}\n`);
    if (progress) out.stderr(`[${done}/${units.length}] ${tally.findings} with findings, ${tally.failed} failed`);
  });
  try {
    await pool;
  } finally {
    if (progress) out.stderr('\r\x1b[K');
  }
  if (exported && final) {
    if (args.exportFormat === 'parquet') await staging(exported, () => writeParquet(exported, parquetRows.boots, parquetRows.findings));
    commitStaged(exported, final);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  out.stderr(`ipitrace batch: ${units.length} boot${units.length === 1 ? '' : 's'} in ${seconds} s on ${Math.min(jobs, units.length)} thread${jobs === 1 ? '' : 's'}: `
    + `${tally.findings} with findings at --fail-on ${args.failOn}, ${tally.clean} clean, ${tally.failed} not analyzed\n`);
  return tally.findings > 0 ? 1 : tally.failed > 0 ? 2 : 0;
}

function formatLine(line: BatchLine, width: number): string {
  const name = line.boot.padEnd(width);
  if (line.error) return `${name}  NOT ANALYZED  ${line.error}`;
  const counts = [line.errors && `${line.errors} error${line.errors === 1 ? '' : 's'}`, line.warnings && `${line.warnings} warning${line.warnings === 1 ? '' : 's'}`]
    .filter(Boolean).join(', ');
  return `${name}  ${counts ? `${counts}: ${line.headline}` : 'no IPI or CSD problem found'}`;
}

/** `ipitrace batch` (cli/commands.ts has its options). */
export async function batchHandler(argv: unknown): Promise<void> {
  const args = validateOptions(BatchArgs, argv);
  process.exitCode = await runBatch(args);
}
