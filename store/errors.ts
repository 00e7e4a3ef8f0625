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

export class IpitraceError extends Error {
  override readonly name = 'IpitraceError';
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

export function isIpitraceError(error: unknown): error is IpitraceError {
  return error instanceof IpitraceError;
}
