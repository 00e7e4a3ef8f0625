// ipitrace detect [--db F] [--boot NAME] [--json] [--junit FILE] [--fail-on error|warning|never] [--csd-timeout S] [--verbose]
// Also the verdict half of `analyze` (runVerdict): input check, detect, groups, text / JSON / JUnit.
import { existsSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import type { Finding } from '../detect/detect.js';
import type { Db } from '../store/db.js';
import { IpitraceError } from '../store/errors.js';
import type { DetectArgs } from './args.js';
import { dbOption } from './options.js';
import { checkOutputPath, writeOutput } from './outputs.js';
import type { Progress } from './progress.js';

export const detectOptions = {
  boot: { type: 'string', describe: 'only this boot (default: every boot in the database)' },
  json: { type: 'boolean', default: false, describe: `print only the JSON document {format: "ipitrace-findings", version: 1, boots: [...]} (README: JSON output)` },
  junit: { type: 'string', describe: 'also write every finding as JUnit XML to this file (errors and warnings fail, info passes with its text)' },
  'fail-on': { choices: ['error', 'warning', 'never'], default: 'error', describe: 'exit 1 when a finding reaches this severity' },
  'csd-timeout': { type: 'number', default: 5, describe: 'seconds after which a released csd counts as held too long' },
  grace: { type: 'number', default: 1, describe: 'seconds the trace must go on after a queue to an online CPU before it counts as never released' },
  cpus: { type: 'number', describe: 'number of CPUs that exist (present), when the logs do not say or are wrong' },
  verbose: { type: 'boolean', default: false, describe: 'show every evidence line of each finding (default: the first 3)' },
} as const;

export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stdout is a terminal (colour). */
  stdoutIsTTY?: boolean;
}

export const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdoutIsTTY: process.stdout.isTTY,
};

export interface VerdictExtras {
  /** Text printed per boot before its findings (analyze's summary). */
  detail?: boolean;
  /** Called with the verdicts before the exit code is decided (analyze's --html). */
  after?: (db: Db, boots: string[]) => void;
  progress?: Progress;
}

/**
 * Checks each boot's input, replays and detects the boots that have something to analyze, prints
 * the answer first and the detail after it. Returns the exit code: 2 when a boot had nothing to
 * analyze, else 1 when a finding reaches --fail-on, else 0.
 */
export async function runVerdict(db: Db, boots: string[], args: Omit<DetectArgs, 'db'>, out: Output, extras: VerdictExtras = {}): Promise<number> {
  const { detect, reachesThreshold } = await import('../detect/detect.js');
  const { checkInputs } = await import('../detect/input-check.js');
  const { readEvidence } = await import('../report/evidence.js');
  const { formatBoot, verdictLines } = await import('../report/findings-text.js');
  const { formatFindingsJson } = await import('../report/json.js');
  const { formatJunit } = await import('../report/junit.js');
  const { displayPath, styleFor } = await import('../report/style.js');
  const { formatSummaryText } = await import('../report/summary.js');
  const { bootVerdict } = await import('../report/verdict.js');
  const options = { csdTimeoutNs: Math.round(args.csdTimeout * 1e9), graceNs: Math.round(args.grace * 1e9), cpus: args.cpus };
  const findings: Finding[] = [];
  for (const boot of boots) {
    if (checkInputs(db, boot, displayPath, { limits: false }).nothing !== null) continue;
    extras.progress?.step(`replaying and detecting boot ${boot}...`);
    // A loop, not push(...): a spread of hundreds of thousands of findings overflows the stack.
    for (const finding of detect(db, { ...options, boot })) findings.push(finding);
  }
  // The summary (clock, CPUs, per-pair counts, QEMU) only where it is shown: JSON, analyze's detail.
  const summary = args.json || extras.detail === true;
  const verdicts = boots.map((boot) => bootVerdict(db, boot, findings, displayPath, { summary }));
  extras.progress?.step('reading the evidence lines...');
  const evidence = await readEvidence(verdicts.flatMap((v) => v.findings.flatMap((f) => f.evidence)));
  extras.progress?.done();
  for (const v of verdicts) {
    if (v.input.nothing !== null) out.stderr(`ipitrace: ${v.input.nothing}\n`);
    for (const w of v.input.warnings) out.stderr(`ipitrace: warning: ${w}\n`);
  }
  if (args.json) out.stdout(formatFindingsJson(verdicts, evidence) + '\n');
  else {
    const style = styleFor({ isTTY: out.stdoutIsTTY });
    const text = { style, verbose: args.verbose, evidence };
    const lines = [...verdictLines(verdicts, text)];
    for (const v of verdicts) {
      if (v.verdict === 'nothing-to-analyze') continue;
      lines.push('');
      if (extras.detail && v.summary) lines.push(...formatSummaryText(v.summary));
      lines.push(...formatBoot(v, text));
    }
    out.stdout(lines.join('\n') + '\n');
  }
  if (args.junit) writeOutput(args.junit, formatJunit(verdicts, evidence), '--junit');
  extras.after?.(db, boots.filter((b) => verdicts.find((v) => v.boot === b)?.verdict !== 'nothing-to-analyze'));
  if (verdicts.some((v) => v.verdict === 'nothing-to-analyze')) return 2;
  return reachesThreshold(findings, args.failOn) ? 1 : 0;
}

export const detectCommand: CommandModule = {
  command: 'detect',
  describe: 'replay hotplug, queues and CSD locks, run the detectors (queries/*.sql); print the verdict, then the findings with evidence',
  builder: (y) => y.options({ ...dbOption, ...detectOptions })
    .example('$0 detect --db run.db --fail-on warning --junit findings.xml', 'CI gate')
    .epilog('Exit codes: 0 no finding at --fail-on, 1 findings at or above it, 2 usage or input errors (no such database, nothing to analyze).'),
  handler: async (argv) => {
    const { DetectArgs, validateOptions } = await import('./args.js');
    const args = validateOptions(DetectArgs, argv);
    checkOutputPath(args.junit, '--junit');
    if (!existsSync(args.db)) {
      throw new IpitraceError('E_DB_OPEN', `${args.db}: no such database (run 'ipitrace ingest --db ${args.db} FILE...' first, or 'ipitrace analyze FILE...')`);
    }
    const { openWritable } = await import('../store/db.js');
    const { listBoots } = await import('../replay/replay.js');
    const db = openWritable(args.db, { create: false });
    try {
      const all = listBoots(db);
      if (args.boot && !all.includes(args.boot)) {
        throw new IpitraceError('E_USAGE', `--boot ${args.boot}: no such boot in ${args.db} (have: ${all.join(', ') || 'none'})`);
      }
      if (all.length === 0) throw new IpitraceError('E_USAGE', `${args.db}: the database holds no boot: nothing to analyze (ingest files first)`);
      const { progressLine } = await import('./progress.js');
      process.exitCode = await runVerdict(db, args.boot ? [args.boot] : all, args, processOutput, { progress: progressLine() });
    } finally {
      db.close();
    }
  },
};
