// ipitrace analyze FILE... [--db F] [--html report.html] [--json] [--boot NAME] [--fail-on ...] [--csd-timeout S] [--grace S] [--cpus N]
// ingest + detect + a short summary per boot, in one go. Without --db the database lives in a
// temporary folder that is removed afterwards.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { z } from 'zod';
import type { Finding } from '../detect/detect.js';
import { bootNameFor } from '../ingest/boot-name.js';
import { DetectArgs, detectOptions } from './detect.js';
import { inputPaths, validateOptions } from './options.js';

export { timelineCommand } from './timeline.js';

export const AnalyzeArgs = DetectArgs.extend({
  db: z.string().min(1).optional(),
  html: z.string().min(1).optional(),
  files: z.array(z.string()).min(1),
});
export type AnalyzeArgs = z.infer<typeof AnalyzeArgs>;

export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs the whole analysis; returns the exit code (0, 1 at --fail-on, 2 for unreadable input). */
export async function runAnalyze(args: AnalyzeArgs, out: Output = processOutput): Promise<number> {
  const { detect, reachesThreshold } = await import('../detect/detect.js');
  const { formatJunit } = await import('../detect/report.js');
  const { ingestFiles } = await import('../ingest/ingest.js');
  const { formatSummaryJson, formatSummaryText, summarizeBoot } = await import('../report/summary.js');
  const { buildTimeline, renderTimelinePage } = await import('../report/timeline.js');
  const { openWritable } = await import('../store/db.js');
  const tmp = args.db ? null : mkdtempSync(join(tmpdir(), 'ipitrace-analyze-'));
  try {
    const db = openWritable(args.db ?? join(tmp as string, 'analyze.db'));
    try {
      const outcomes = await ingestFiles(db, args.files, { boot: args.boot ?? analyzeBootName(args.files) });
      const failed = outcomes.filter((o) => o.status === 'failed');
      for (const o of failed) out.stderr(`ipitrace: ${o.error.message}\n`);
      if (failed.length) return 2;
      const boots = [...new Set(outcomes.map((o) => o.boot))].sort();
      const options = { csdTimeoutNs: Math.round(args.csdTimeout * 1e9), graceNs: Math.round(args.grace * 1e9), cpus: args.cpus };
      const findings: Finding[] = [];
      for (const boot of boots) findings.push(...detect(db, { ...options, boot }));
      const summaries = boots.map((boot) => summarizeBoot(db, boot, findings));
      out.stdout((args.json ? formatSummaryJson(summaries) : formatSummaryText(summaries)) + '\n');
      if (args.junit) writeFileSync(args.junit, formatJunit(findings, boots));
      if (args.html) {
        const pages = boots.map((boot) => buildTimeline(db, boot, { db: args.db ?? null, files: args.files }));
        writeFileSync(args.html, renderTimelinePage(pages));
        if (!args.json) out.stdout(`HTML timeline written to ${args.html}\n`);
      }
      return reachesThreshold(findings, args.failOn) ? 1 : 0;
    } finally {
      db.close();
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
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

export const analyzeCommand: CommandModule = {
  command: 'analyze <files..>',
  describe: 'ingest, replay and detect in one go; print CPUs, IPI counts per CPU pair and findings per boot',
  builder: (y) => y
    .positional('files', { type: 'string', array: true, describe: 'console logs, ftrace text, QEMU trace logs (plain, .gz or - for stdin)' })
    .options({
      ...detectOptions,
      db: { type: 'string', describe: 'keep the database in this file (default: a temporary one, removed afterwards)' },
      boot: { type: 'string', describe: 'boot name for all files (default: files in one folder are one boot, named after the folder; else a boot per file, from its name)' },
      json: { type: 'boolean', default: false, describe: 'print only one JSON object {boots:[{boot, clock, span_s, cpus, pairs, received, qemu, findings}]}' },
      html: { type: 'string', describe: 'also write a self-contained HTML timeline (CPU lanes, IPIs, csds, findings) to this file' },
    })
    .example('$0 analyze console.log trace.txt qemu-trace.log.gz --html report.html', 'one boot, all three artifact kinds')
    .example('$0 analyze boot.log', 'a single mixed console log'),
  handler: async (argv) => {
    const args = validateOptions(AnalyzeArgs, argv);
    process.exitCode = await runAnalyze({ ...args, files: inputPaths(args.files) });
  },
};
