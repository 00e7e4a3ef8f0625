// Options shared by several commands, validated with zod after yargs has parsed them.
import { z } from 'zod';
import { IpitraceError } from '../store/errors.js';

export const DEFAULT_DB = 'ipitrace.db';

/** What cli/main.ts turns a '-' argument into, because yargs would drop it; see inputPaths(). */
export const STDIN_SENTINEL = '\u0000stdin';

/**
 * What cli/main.ts puts before each argument given after `--` (`ipitrace ingest -- -x.log`), so that
 * yargs takes it as a positional argument whatever it starts with; see literalArg().
 */
export const LITERAL_PREFIX = '\u0000arg:';

/** A positional argument as the user gave it (undoes the markers of cli/main.ts). */
export function literalArg(arg: string): string {
  if (arg === STDIN_SENTINEL) return '-';
  return arg.startsWith(LITERAL_PREFIX) ? arg.slice(LITERAL_PREFIX.length) : arg;
}

/** File arguments as the user gave them ('-' for stdin). */
export function inputPaths(files: string[]): string[] {
  return files.map(literalArg);
}

/**
 * Prepares the command line for yargs: a lone '-' (stdin) becomes STDIN_SENTINEL, because yargs
 * would drop it; after `--`, every argument is a file name (or SQL) however it starts, marked with
 * LITERAL_PREFIX. `record` keeps its `--`: what follows is the QEMU command line.
 */
export function markArgs(args: string[]): string[] {
  const dashes = args.indexOf('--');
  const command = args.find((arg) => !arg.startsWith('-'));
  const stdin = (arg: string) => (arg === '-' ? STDIN_SENTINEL : arg);
  if (dashes < 0 || command === 'record') return args.map(stdin);
  return [...args.slice(0, dashes).map(stdin), ...args.slice(dashes + 1).map((arg) => (arg === '-' ? STDIN_SENTINEL : LITERAL_PREFIX + arg))];
}

export const dbOption = {
  db: { type: 'string', default: DEFAULT_DB, describe: 'SQLite database file' },
} as const;

/** Validates parsed options; a failure becomes one usage line naming the option. */
export function validateOptions<T extends z.ZodType>(schema: T, argv: unknown): z.infer<T> {
  const result = schema.safeParse(argv);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new IpitraceError('E_USAGE', `--${issue.path.join('.')}: ${issue.message}`);
}
