// ipitrace analyze FILE... [--db F] [--html report.html] [--json] [--boot NAME] [--fail-on ...] [--csd-timeout S] [--grace S] [--cpus N]
// ingest + detect + a short summary per boot, in one go. Without --db the database lives in a
// temporary folder that is removed afterwards, or in memory for a small input.
import { statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { bootNameFor } from '../ingest/boot-name.js';
import { ingestFiles } from '../ingest/ingest.js';
import { openWritable, type Db } from '../store/db.js';
import { AnalyzeArgs, validateOptions } from './args.js';
import { processOutput, runVerdict, type Output } from './detect.js';
import { inputPaths } from './options.js';
import { checkOutputPath, writeOutput } from './outputs.js';
import { progressLine, type Progress } from './progress.js';

export type { AnalyzeArgs } from './args.js';

export { processOutput, type Output } from './detect.js';

/** What a caller (ipitrace batch) may read from the database before analyze closes it. */
export interface AnalyzeHooks {
  analyzed?: (db: Db, boots: string[]) => void;
}

/** Runs the whole analysis; returns the exit code (0, 1 at --fail-on, 2 for unreadable input or nothing to analyze). */
export async function runAnalyze(args: AnalyzeArgs, out: Output = processOutput, progress?: Progress, hooks: AnalyzeHooks = {}): Promise<number> {
  checkOutputPath(args.junit, '--junit');
  checkOutputPath(args.html, '--html');
  checkOutputPath(args.db, '--db');
  const timeline = args.html ? await import('../report/timeline.js') : null;
  // Without --db: small inputs in memory, the others in a temporary folder, removed on every way
  // out, Ctrl-C, SIGTERM, SIGHUP and kill -9 included (store/temp-dir.ts).
  const memory = !args.db && fitsInMemory(args.files);
  const tmp = args.db || memory ? null : (await import('../store/temp-dir.js')).makeTempDir('ipitrace-analyze-');
  try {
    const db = openWritable(args.db ?? (memory ? ':memory:' : join(tmp!.path, 'analyze.db')));
    try {
      const outcomes = await ingestFiles(db, args.files, { boot: args.boot ?? analyzeBootName(args.files), onProgress: progress?.file, maxInputSize: args.maxInputSize });
      progress?.done();
      const failed = outcomes.filter((o) => o.status === 'failed');
      for (const o of failed) out.stderr(`ipitrace: ${o.error.message}\n`);
      if (failed.length) return 2;
      const boots = [...new Set(outcomes.map((o) => o.boot))].sort();
      return await runVerdict(db, boots, args, out, {
        detail: true,
        progress,
        after: (_db, analyzed) => {
          hooks.analyzed?.(db, analyzed);
          if (!args.html || !timeline) return;
          const pages = analyzed.map((boot) => timeline.buildTimeline(db, boot, { db: args.db ?? null, files: args.files }));
          writeOutput(args.html, timeline.renderTimelinePage(pages), '--html');
          if (!args.json) out.stdout(`HTML timeline written to ${args.html}\n`);
        },
      });
    } finally {
      db.close();
    }
  } finally {
    tmp?.remove();
  }
}

/**
 * Inputs that add up to less than this (their size on disk, compressed or not) are analyzed in an
 * in-memory database when no --db is given: no temporary folder, no cleanup process, no journal files
 * (25 ms of a 10 KB console's analyze). A farm's typical console is far below it; what is above it
 * takes seconds, next to which the temporary folder costs nothing, and keeps memory flat. The same
 * rule serves `ipitrace batch` (batch/worker.ts).
 */
export const IN_MEMORY_BYTES = 4 * 1024 * 1024;

/** Whether these inputs are all regular files (not stdin, pipes or devices) that add up to less than IN_MEMORY_BYTES. */
export function fitsInMemory(files: string[]): boolean {
  let sum = 0;
  for (const file of files) {
    if (file === '-') return false;
    try {
      const stat = statSync(file);
      if (!stat.isFile()) return false;
      sum += stat.size;
    } catch {
      // analyze names the missing file itself
    }
  }
  return sum < IN_MEMORY_BYTES;
}

/**
 * The files of one analyze run are one boot's artifacts (console, ftrace, QEMU log) when they lie in
 * one folder, whatever their names (run42-console.log, run42-qemu.log): the boot is named after the
 * folder, or after the file when there is one. Files from several folders keep a boot each.
 */
export function analyzeBootName(files: string[]): string | undefined {
  const names = new Set(files.map(bootNameFor));
  if (names.size === 1) return [...names][0];
  if (files.includes('-')) return undefined;
  const folders = new Set(files.map((f) => dirname(resolve(f))));
  return folders.size === 1 ? basename([...folders][0]) : undefined;
}

/** `ipitrace analyze` (cli/commands.ts has its options). */
export async function analyzeHandler(argv: unknown): Promise<void> {
  const args = validateOptions(AnalyzeArgs, argv);
  process.exitCode = await runAnalyze({ ...args, files: inputPaths(args.files) }, processOutput, progressLine());
}
