// Options shared by several commands (their zod schemas, checked in the handlers, are in cli/args.ts).

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

/**
 * --max-input-size: decoded bytes read at most per input, as a number with an optional K, M, G or
 * T (powers of 1024; cli/args.ts reads it); 0 means no limit. Default: see ingest/input.ts (none for a regular plain file).
 */
export const maxInputSizeOption = {
  'max-input-size': {
    type: 'string',
    describe: 'read at most this much decoded text per input (e.g. 2G; 0 = no limit); default: no limit for a plain file, '
      + '4G for stdin, pipes and devices, 200 times the file size (at least 1G) for compressed files; the lines before the limit are kept',
  },
} as const;
