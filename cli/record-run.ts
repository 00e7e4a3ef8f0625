// Runs the QEMU command of `ipitrace record` under a wall-clock limit: SIGTERM at the limit, SIGKILL
// after a grace period. A hung boot is the normal case, so a timeout is a result, not an error.
// QEMU's stdout (the console when it is on stdio) goes to our stderr, so that our stdout carries
// only the analysis; its stderr is copied to our stderr and to a log file.
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, createWriteStream, openSync, readSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export interface RunOptions {
  /** Wall-clock limit in ms; null or 0 for none. */
  timeoutMs: number | null;
  /** Time between SIGTERM and SIGKILL, in ms. */
  killAfterMs: number;
  /** File that receives a copy of QEMU's stderr. */
  stderrLog?: string;
  /** Where QEMU's stdout and stderr are shown (default: our stderr). */
  echo?: (text: string | Buffer) => void;
  /** A file QEMU writes (the serial console): shown through echo as it grows. */
  follow?: string | null;
}

export interface RunResult {
  /** Exit status, or null when a signal ended it. */
  status: number | null;
  signal: NodeJS.Signals | null;
  /** The limit was reached (SIGTERM sent). */
  timedOut: boolean;
  /** SIGINT or SIGTERM reached ipitrace while QEMU ran (passed on as SIGTERM). */
  interrupted: boolean;
  /** SIGKILL had to be sent. */
  killed: boolean;
  elapsedMs: number;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The path of an executable as a shell would find it (PATH search for a bare name), or null. */
export function findExecutable(command: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (command.includes('/')) {
    const path = isAbsolute(command) ? command : resolve(command);
    return isExecutableFile(path) ? path : null;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutableFile(join(dir, command))) return join(dir, command);
  }
  return null;
}

/** Echoes what is appended to a file, polled; call the returned function once more at the end. */
export function followFile(path: string, echo: (chunk: Buffer) => void): () => void {
  let offset = 0;
  const buffer = Buffer.alloc(1 << 16);
  return () => {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return; // not created yet
    }
    try {
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, offset);
        if (n <= 0) break;
        offset += n;
        echo(Buffer.from(buffer.subarray(0, n)));
      }
    } finally {
      closeSync(fd);
    }
  };
}

export function runQemu(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const echo = options.echo ?? ((text) => process.stderr.write(text));
  const started = Date.now();
  const poll = options.follow ? followFile(options.follow, echo) : null;
  const follower = poll ? setInterval(poll, 200) : undefined;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['inherit', 'pipe', 'pipe'] });
    const log = options.stderrLog ? createWriteStream(options.stderrLog) : null;
    child.stdout.on('data', (chunk: Buffer) => echo(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      echo(chunk);
      log?.write(chunk);
    });
    let timedOut = false;
    let interrupted = false;
    let killed = false;
    let killTimer: NodeJS.Timeout | undefined;
    const terminate = () => {
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, options.killAfterMs);
    };
    const limit = options.timeoutMs ? setTimeout(() => {
      timedOut = true;
      terminate();
    }, options.timeoutMs) : undefined;
    const onSignal = () => {
      if (interrupted) {
        killed = true;
        child.kill('SIGKILL');
        return;
      }
      interrupted = true;
      terminate();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const cleanup = () => {
      clearInterval(follower);
      poll?.();
      clearTimeout(limit);
      clearTimeout(killTimer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
    child.on('error', (error) => {
      cleanup();
      log?.end();
      reject(error);
    });
    child.on('exit', (status, signal) => {
      cleanup();
      const result: RunResult = { status, signal, timedOut, interrupted, killed, elapsedMs: Date.now() - started };
      // A child of QEMU (or of a wrapper) may keep the pipes open: do not wait for them long.
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        child.stdout.destroy();
        child.stderr.destroy();
        if (log) log.end(() => resolvePromise(result));
        else resolvePromise(result);
      };
      let open = 2;
      const closed = () => { if (--open === 0) finish(); };
      child.stdout.once('close', closed);
      child.stderr.once('close', closed);
      if (child.stdout.closed) closed();
      if (child.stderr.closed) closed();
      setTimeout(finish, 500).unref();
    });
  });
}
