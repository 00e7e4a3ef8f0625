// Fatal problems, as data: each has a code and a one-line message naming the file (and line) it is
// about. cli/ prints `ipitrace: <message>` and exits 2; the stack is shown only with --debug.

export type ErrorCode =
  | 'E_INPUT_MISSING'
  | 'E_INPUT_DIRECTORY'
  | 'E_INPUT_UNREADABLE'
  | 'E_INPUT_BINARY'
  | 'E_INPUT_CORRUPT'
  | 'E_INPUT_UNSUPPORTED'
  | 'E_DB_OPEN'
  | 'E_DB_SCHEMA'
  | 'E_QUERY_INVALID'
  | 'E_OUTPUT'
  | 'E_USAGE'
  | 'E_DETECTOR_INVALID';

/**
 * Marks our errors across copies of this module: the built CLI is a bundle per command
 * (scripts/bundle.mjs), so an error thrown by a command's code is of another class than the one
 * cli/main.ts's copy knows, and instanceof cannot tell.
 */
const MARK = Symbol.for('ipitrace.IpitraceError');

export class IpitraceError extends Error {
  override readonly name = 'IpitraceError';
  readonly [MARK] = true;
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

export function isIpitraceError(error: unknown): error is IpitraceError {
  return error instanceof IpitraceError || (typeof error === 'object' && error !== null && (error as { [MARK]?: unknown })[MARK] === true);
}
