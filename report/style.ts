// Terminal styling: colour only on a terminal, never when piped or redirected, and never with
// NO_COLOR set to anything (no-color.org) or TERM=dumb; FORCE_COLOR=1 forces it (tests, pagers).
// Paths are shown relative to the working directory (shorter and clickable in most terminals).
import { isAbsolute, relative, resolve } from 'node:path';

export interface Style {
  error: (s: string) => string;
  warning: (s: string) => string;
  info: (s: string) => string;
  ok: (s: string) => string;
  bold: (s: string) => string;
  dim: (s: string) => string;
}

const plain = (s: string) => s;
const sgr = (open: string) => (s: string) => `\x1b[${open}m${s}\x1b[0m`;

export const PLAIN: Style = { error: plain, warning: plain, info: plain, ok: plain, bold: plain, dim: plain };
export const COLOUR: Style = { error: sgr('1;31'), warning: sgr('1;33'), info: sgr('36'), ok: sgr('1;32'), bold: sgr('1'), dim: sgr('2') };

export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  return useColour(stream, env) ? COLOUR : PLAIN;
}

export const severityStyle = (style: Style, severity: string) =>
  severity === 'error' ? style.error : severity === 'warning' ? style.warning : style.info;

/** A stored path as the user should see it: relative to the working directory when that is shorter. */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  if (file === '-' || file === 'stdin') return file;
  const abs = isAbsolute(file) ? file : resolve(cwd, file);
  const rel = relative(cwd, abs);
  return rel !== '' && rel.length < abs.length ? rel : abs;
}
