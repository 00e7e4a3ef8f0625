// ipitrace export --db F --out DIR [--format jsonl|parquet] [--boot NAME]
// Findings and a per-boot summary as rows for a warehouse (report/export.ts): DIR/findings.EXT and
// DIR/boots.EXT.
import { mkdirSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { IpitraceError } from '../store/errors.js';
import type { ExportArgs } from './args.js';
import { dbOption } from './options.js';

export async function runExport(args: ExportArgs): Promise<{ boots: number; findings: number; paths: { findings: string; boots: string } }> {
  const { openReadOnly } = await import('../store/db.js');
  const { exportRows } = await import('../report/export.js');
  const { commitStaged, exportPaths, stagedPaths, staging, writeJsonl, writeParquet } = await import('../report/export-write.js');
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

export const exportCommand: CommandModule = {
  command: 'export',
  describe: 'write findings (with their cross-boot signature) and a summary per boot as JSON Lines or Parquet, for a warehouse',
  builder: (y) => y.options({
    ...dbOption,
    out: { type: 'string', demandOption: true, describe: 'folder to write findings.EXT and boots.EXT into' },
    format: { choices: ['jsonl', 'parquet'], default: 'jsonl', describe: 'file format' },
    boot: { type: 'string', describe: 'only this boot (default: every boot in the database)' },
  }).example('$0 export --db run.db --out warehouse/run42 --format parquet', 'then in DuckDB: SELECT signature, count(DISTINCT boot) FROM \'warehouse/*/findings.parquet\' GROUP BY 1'),
  handler: async (argv) => {
    const { ExportArgs, validateOptions } = await import('./args.js');
    const args = validateOptions(ExportArgs, argv);
    const result = await runExport(args);
    process.stderr.write(`ipitrace export: ${result.findings} finding${result.findings === 1 ? '' : 's'} of ${result.boots} boot${result.boots === 1 ? '' : 's'} written to ${result.paths.findings} and ${result.paths.boots}\n`);
  },
};
