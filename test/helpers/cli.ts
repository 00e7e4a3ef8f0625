// Runs the compiled CLI the way a user does, capturing stdout, stderr and the exit code.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function ipitrace(args: string[], input?: Buffer | string, env: NodeJS.ProcessEnv = {}, cwd?: string): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env }, cwd,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ipitrace-${prefix}-`));
}
