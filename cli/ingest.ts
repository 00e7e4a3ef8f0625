// ipitrace ingest [--db F] [--boot NAME] [--replace] FILE...
import { ingestFiles, type FileOutcome } from '../ingest/ingest.js';
import { STATS } from '../schema/stats.js';
import { openWritable } from '../store/db.js';
import { IngestArgs, validateOptions } from './args.js';
import { inputPaths } from './options.js';

/** `ipitrace ingest` (cli/commands.ts has its options). */
export async function ingestHandler(argv: unknown): Promise<void> {
  const args = validateOptions(IngestArgs, argv);
  const db = openWritable(args.db);
  const progress = process.stderr.isTTY ? progressPrinter() : undefined;
  const outcomes = await ingestFiles(db, inputPaths(args.files), { boot: args.boot, replace: args.replace, validate: args.validate, parseThread: args.parseThread, maxInputSize: args.maxInputSize, onProgress: progress });
  if (progress) process.stderr.write('\r\x1b[K');
  db.close();
  printSummary(outcomes);
  if (outcomes.some((o) => o.status === 'failed')) process.exitCode = 2;
}

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
