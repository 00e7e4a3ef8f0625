// A temporary folder that goes away however the process ends. `analyze` keeps its database in one
// (GBs for big inputs). A finally block does not run when Ctrl-C, SIGTERM or SIGHUP (a closed
// terminal, a CI job cancelled) ends Node, nor on kill -9, and a signal handler cannot run while the
// main thread is busy in a long synchronous replay. So a small watchdog process, in its own session
// (the terminal's Ctrl-C does not reach it), waits for its stdin pipe from us to close, which the
// kernel does whenever and however we exit, and then removes the folder.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  path: string;
  /** Removes the folder now (the normal way out). */
  remove(): void;
}

export function makeTempDir(prefix: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  let watchdog: ReturnType<typeof spawn> | null = null;
  try {
    watchdog = spawn('/bin/sh', ['-c', 'cat >/dev/null; rm -rf -- "$1"', 'ipitrace-cleanup', path], {
      stdio: ['pipe', 'ignore', 'ignore'], detached: true,
    });
    watchdog.on('error', () => { /* no /bin/sh: the finally block still removes it on a normal exit */ });
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  } catch {
    watchdog = null;
  }
  return {
    path,
    remove() {
      rmSync(path, { recursive: true, force: true });
      watchdog?.stdin?.destroy();
    },
  };
}
