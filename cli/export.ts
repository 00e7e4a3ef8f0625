// ipitrace export --db F --out DIR [--format jsonl|parquet] [--boot NAME]
// Findings and a per-boot summary as rows for a warehouse (report/export.ts): DIR/findings.EXT and
// DIR/boots.EXT.
import { mkdirSync } from 'node:fs';
import { exportRows } from '../report/export.js';
import { commitStaged, exportPaths, stagedPaths, staging, writeJsonl, writeParquet } from '../report/export-write.js';
import { openReadOnly } from '../store/db.js';
import { IpitraceError } from '../store/errors.js';
import { ExportArgs, validateOptions } from './args.js';

export async function runExport(args: ExportArgs): Promise<{ boots: number; findings: number; paths: { findings: string; boots: string } }> {
  const db = openReadOnly(args.db);
  try {
    const all = db.prepare('SELECT DISTINCT boot FROM sources ORDER BY boot').pluck().all() as string[];
    if (args.boot && !all.includes(args.boot)) throw new IpitraceError('E_USAGE', `--boot ${args.boot}: no such boot in ${args.db} (have: ${all.join(', ') || 'none'})`);
    const boots = args.boot ? [args.boot] : all;
    const replayed = new Set(db.prepare('SELECT DISTINCT boot FROM cpu_universe UNION SELECT DISTINCT boot FROM clock_offsets UNION SELECT DISTINCT boot FROM findings').pluck().all() as string[]);
    const stale = boots.filter((b) => !replayed.has(b));
    if (stale.length) throw new IpitraceError('E_USAGE', `${args.db}: boot ${stale.join(', ')} has not been replayed: run 'ipitrace detect --db ${args.db}' first`);
    const rows = boots.map((boot) => exportRows(db, boot));
    mkdirSync(args.out, { recursive: true });
    const paths = exportPaths(args.out, args.format);
    const staged = stagedPaths(paths);
    const findings = rows.flatMap((r) => r.findings);
    await staging(staged, async () => {
      if (args.format === 'parquet') await writeParquet(staged, rows.map((r) => r.boot), findings);
      else {
        writeJsonl(staged.findings, findings, false);
        writeJsonl(staged.boots, rows.map((r) => r.boot), false);
      }
    });
    commitStaged(staged, paths);
    return { boots: rows.length, findings: findings.length, paths };
  } finally {
    db.close();
  }
}

/** `ipitrace export` (cli/commands.ts has its options). */
export async function exportHandler(argv: unknown): Promise<void> {
  const args = validateOptions(ExportArgs, argv);
  const result = await runExport(args);
  process.stderr.write(`ipitrace export: ${result.findings} finding${result.findings === 1 ? '' : 's'} of ${result.boots} boot${result.boots === 1 ? '' : 's'} written to ${result.paths.findings} and ${result.paths.boots}\n`);
}
