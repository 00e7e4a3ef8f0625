// ipitrace ingest [--db F] [--boot NAME] [--replace] FILE...
import type { CommandModule } from 'yargs';
import type { FileOutcome } from '../ingest/ingest.js';
import { STATS } from '../schema/stats.js';
import { dbOption, inputPaths, maxInputSizeOption } from './options.js';

export const ingestCommand: CommandModule = {
  command: 'ingest <files..>',
  describe: 'read consoles, ftrace text and dumps, and QEMU trace logs (plain, gzip, bzip2, xz or zstd, or - for stdin) into the database',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, describe: 'input files; - reads stdin' })
    .options({
      ...dbOption,
      boot: { type: 'string', describe: 'boot name for all files (default: from the folder or file name)' },
      replace: { type: 'boolean', default: false, describe: 'ingest again files already in the database' },
      validate: { type: 'boolean', default: false, describe: 'check every record against its schema (slower)' },
      ...maxInputSizeOption,
      'parse-thread': {
        choices: ['auto', 'main', 'worker'], default: 'auto',
        describe: 'where lines are parsed: auto = a worker thread for files of 4 MiB and more on a multi-core machine',
      },
    })
    .example('$0 ingest --db run.db console.log trace.txt qemu-trace.log.gz', 'one boot: console, ftrace and QEMU log'),
  handler: async (argv) => {
    const { IngestArgs, validateOptions } = await import('./args.js');
    const args = validateOptions(IngestArgs, argv);
    const { openWritable } = await import('../store/db.js');
    const { ingestFiles } = await import('../ingest/ingest.js');
    const db = openWritable(args.db);
    const progress = process.stderr.isTTY ? progressPrinter() : undefined;
    const outcomes = await ingestFiles(db, inputPaths(args.files), { boot: args.boot, replace: args.replace, validate: args.validate, parseThread: args.parseThread, maxInputSize: args.maxInputSize, onProgress: progress });
    if (progress) process.stderr.write('\r\x1b[K');
    db.close();
    printSummary(outcomes);
    if (outcomes.some((o) => o.status === 'failed')) process.exitCode = 2;
  },
};

function progressPrinter() {
  let last = 0;
  return (path: string, bytes: number, size: number | null): void => {
    const now = Date.now();
    if (now - last < 250) return;
    last = now;
    const done = size ? ` ${Math.min(100, Math.round((bytes / size) * 100))}%` : '';
    process.stderr.write(`\r\x1b[K${path}: ${(bytes / 1e6).toFixed(1)} MB${done}`);
  };
}

function printSummary(outcomes: FileOutcome[]): void {
  const out: string[] = [];
  for (const outcome of outcomes) {
    if (outcome.status === 'failed') {
      process.stderr.write(`ipitrace: ${outcome.error.message}\n`);
      continue;
    }
    if (outcome.status === 'skipped') {
      out.push(`${outcome.path}: skipped, ${outcome.reason}`);
      continue;
    }
    const { counts } = outcome;
    const events = [...counts.events.values()].reduce((a, b) => a + b, 0);
    out.push(`${outcome.path}: boot ${outcome.boot}, ${outcome.lines} lines, ${events} events, ${counts.unparsedTotal} unparsed`);
    out.push(`  lines per format: ${formatMap(counts.formats)}`);
    if (events > 0) out.push(`  events per kind: ${formatMap(counts.events)}`);
    for (const [id, value] of counts.stats) {
      const [name, key] = id.split('\u0000') as [keyof typeof STATS, string];
      if ((STATS[name].severity !== 'info' || name === 'console_after_text') && name !== 'unparsed_lines') out.push(`  ${name}${key ? `[${key}]` : ''}: ${value} (${STATS[name].description})`);
    }
    for (const { line, reason } of counts.unparsed.slice(0, 5)) out.push(`  unparsed ${outcome.path}:${line}: ${reason}`);
    if (counts.unparsedTotal > 5) out.push(`  ... ${counts.unparsedTotal - 5} more in table unparsed`);
  }
  if (out.length) process.stdout.write(out.join('\n') + '\n');
}

function formatMap(map: Map<string, number>): string {
  return [...map].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
}
