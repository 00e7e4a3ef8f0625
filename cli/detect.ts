// ipitrace detect [--db F] [--boot NAME] [--json] [--junit FILE] [--fail-on error|warning|never] [--csd-timeout S] [--verbose]
// Also the verdict half of `analyze` (runVerdict): input check, detect, groups, text / JSON / JUnit.
import { existsSync } from 'node:fs';
import { detect, reachesThreshold, type Finding } from '../detect/detect.js';
import { checkInputs } from '../detect/input-check.js';
import { readEvidence } from '../report/evidence.js';
import { formatBoot, verdictLines } from '../report/findings-text.js';
import { formatFindingsJson } from '../report/json.js';
import { formatJunit } from '../report/junit.js';
import { displayPath, styleFor } from '../report/style.js';
import { formatSummaryText } from '../report/summary.js';
import { bootVerdict } from '../report/verdict.js';
import { listBoots } from '../replay/replay.js';
import { openWritable, type Db } from '../store/db.js';
import { IpitraceError } from '../store/errors.js';
import { DetectArgs, validateOptions } from './args.js';
import { checkOutputPath, writeOutput } from './outputs.js';
import { progressLine, type Progress } from './progress.js';

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

/** `ipitrace detect` (cli/commands.ts has its options). */
export async function detectHandler(argv: unknown): Promise<void> {
  const args = validateOptions(DetectArgs, argv);
  checkOutputPath(args.junit, '--junit');
  if (!existsSync(args.db)) {
    throw new IpitraceError('E_DB_OPEN', `${args.db}: no such database (run 'ipitrace ingest --db ${args.db} FILE...' first, or 'ipitrace analyze FILE...')`);
  }
  const db = openWritable(args.db, { create: false });
  try {
    const all = listBoots(db);
    if (args.boot && !all.includes(args.boot)) {
      throw new IpitraceError('E_USAGE', `--boot ${args.boot}: no such boot in ${args.db} (have: ${all.join(', ') || 'none'})`);
    }
    if (all.length === 0) throw new IpitraceError('E_USAGE', `${args.db}: the database holds no boot: nothing to analyze (ingest files first)`);
    process.exitCode = await runVerdict(db, args.boot ? [args.boot] : all, args, processOutput, { progress: progressLine() });
  } finally {
    db.close();
  }
}
