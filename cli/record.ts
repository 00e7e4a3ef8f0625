// ipitrace record [--out DIR] [--timeout S] [--kill-after S] [--no-analyze] [analyze options] -- qemu-system-ARCH ARGS...
// Runs the user's QEMU command with the tracing ipitrace needs added (cli/record-args.ts), under a
// wall-clock limit (cli/record-run.ts), then analyzes what it wrote (console and QEMU trace log) as
// `ipitrace analyze --boot $(basename DIR)` would. A timeout is reported, not an error: a hung boot
// is what this tool is for. Exit code: analyze's (0, or 1 for findings at --fail-on), 2 for usage
// errors (no command after --, QEMU binary not found) or when QEMU wrote nothing to analyze.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { IpitraceError } from '../store/errors.js';
import { processOutput, runAnalyze, type Output } from './analyze.js';
import { RecordArgs, validateOptions } from './args.js';
import { inputPaths } from './options.js';
import { checkOutputPath } from './outputs.js';
import { buildRecordArgs } from './record-args.js';
import { findExecutable, runQemu, type RunResult } from './record-run.js';

export type { RecordArgs } from './args.js';

/** Shell-quotes one word (for command.txt). */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function defaultOutDir(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `ipitrace-record-${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
}

function describeEnd(run: RunResult, args: RecordArgs): string {
  const secs = (run.elapsedMs / 1000).toFixed(1);
  const how = run.signal ? `was ended by ${run.signal}` : `exited with status ${run.status}`;
  if (run.timedOut) {
    return `timeout: QEMU still ran after ${args.timeout} s (a hung boot?); sent SIGTERM${run.killed ? `, then SIGKILL after ${args.killAfter} s` : ''}; it ${how}. Analyzing what it wrote.`;
  }
  if (run.interrupted) return `interrupted: QEMU ${how} after ${secs} s${run.killed ? ' (SIGKILL)' : ''}. Analyzing what it wrote.`;
  return `QEMU ${how} after ${secs} s.`;
}

const nonEmpty = (path: string) => existsSync(path) && statSync(path).isFile() && statSync(path).size > 0;

/** Lines of QEMU's stderr and of the kernel console that say tracing or the recording is incomplete. */
const QEMU_WARNING = /warning|error|kvm|cannot|unable|failed/i;
const KERNEL_WARNING = /Failed to enable trace event|Unstable clock detected, switching default tracing clock|Unknown kernel command line parameters|Hypervisor detected: KVM/;

/**
 * QEMU's and the kernel's own warnings, passed on after the run (the live echo scrolls away): what
 * QEMU printed on stderr, and console lines that say the tracing is not what was asked for.
 */
export function ownWarnings(stderrLog: string, consoleFile: string | null): string[] {
  const out: string[] = [];
  const read = (path: string) => (existsSync(path) && statSync(path).isFile() ? readFileSync(path, 'latin1') : '');
  const qemu = [...new Set(read(stderrLog).split(/\r?\n/).filter((l) => QEMU_WARNING.test(l)).map((l) => l.trim()))];
  for (const line of qemu.slice(0, 10)) out.push(`QEMU said: ${cleanLine(line)}`);
  if (consoleFile) {
    const lines = read(consoleFile).split(/\r?\n/);
    const seen = new Set<string>();
    lines.forEach((line, i) => {
      const m = KERNEL_WARNING.exec(line);
      const text = cleanLine(line.replace(/^.*?\]\s*/, ''));
      if (!m || seen.has(text)) return;
      seen.add(text);
      out.push(`the kernel said: ${text} (${basename(consoleFile)}:${i + 1})`);
    });
  }
  return out;
}

const cleanLine = (line: string) => line.replace(/[\x00-\x1f\x7f]/g, '').slice(0, 240);

/** Records one boot and analyzes it; returns the exit code. */
export async function runRecord(args: RecordArgs, out: Output = processOutput): Promise<number> {
  if (!args.command.length) throw new IpitraceError('E_USAGE', 'give the QEMU command after --, e.g. ipitrace record --out run1 -- qemu-system-x86_64 -kernel bzImage ...');
  // The analysis's output files are checked before QEMU runs, not after a boot of minutes.
  checkOutputPath(args.junit, '--junit');
  checkOutputPath(args.html, '--html');
  checkOutputPath(args.db, '--db');
  const outDir = resolve(args.out ?? defaultOutDir());
  const plan = buildRecordArgs(args.command, outDir);
  const binary = plan.argv[0];
  if (!findExecutable(binary)) throw new IpitraceError('E_USAGE', `QEMU binary not found: ${binary}`);
  mkdirSync(outDir, { recursive: true });
  for (const file of plan.outputs.owned) rmSync(file, { force: true });
  writeFileSync(resolve(outDir, 'command.txt'), plan.argv.map(shellQuote).join(' ') + '\n');

  const say = (text: string) => out.stderr(`ipitrace: ${text}\n`);
  say(`recording into ${outDir} (limit ${args.timeout ? `${args.timeout} s` : 'none'}); command in command.txt`);
  for (const change of plan.changes) say(`  added ${change}`);
  for (const note of plan.notes) say(`  note: ${note}`);

  let run: RunResult;
  try {
    run = await runQemu(plan.argv, {
      timeoutMs: args.timeout ? args.timeout * 1000 : null,
      killAfterMs: args.killAfter * 1000,
      stderrLog: resolve(outDir, 'qemu-stderr.log'),
      echo: (text) => out.stderr(text.toString()),
      follow: plan.outputs.console && resolve(plan.outputs.console),
    });
  } catch (error) {
    throw new IpitraceError('E_USAGE', `cannot run ${binary}: ${(error as Error).message}`);
  }
  say(describeEnd(run, args));
  for (const line of ownWarnings(resolve(outDir, 'qemu-stderr.log'), plan.outputs.console && resolve(plan.outputs.console))) say(line);

  const files = [plan.outputs.console, plan.outputs.qemuTrace]
    .filter((f): f is string => f !== null)
    .map((f) => resolve(f))
    .filter(nonEmpty);
  const consoleFile = plan.outputs.console && resolve(plan.outputs.console);
  if (consoleFile && !nonEmpty(consoleFile)) {
    say(`the guest printed nothing on the serial console (${consoleFile} is empty): is console=ttyS0 (x86) or console=ttyAMA0 (arm) on -append, and did the kernel start?`);
  }
  if (!args.analyze) {
    say(`not analyzed (--no-analyze); files: ${files.join(' ') || 'none'}`);
    return 0;
  }
  if (!files.length) {
    say('QEMU wrote neither a console log nor a trace log: nothing to analyze (see qemu-stderr.log)');
    return 2;
  }
  const { out: _out, timeout: _t, killAfter: _k, analyze: _a, command: _c, ...analyzeArgs } = args;
  return runAnalyze({ ...analyzeArgs, boot: args.boot ?? basename(outDir), files }, out);
}

/** `ipitrace record` (cli/commands.ts has its options). */
export async function recordHandler(argv: Record<string, unknown>): Promise<void> {
  const command = inputPaths(((argv['--'] as unknown[] | undefined) ?? []).map(String));
  const args = validateOptions(RecordArgs, { ...argv, command });
  process.exitCode = await runRecord(args);
}
