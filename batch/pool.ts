// A fixed pool of worker threads (batch/worker.ts) that analyzes boots in parallel: each worker takes
// the next boot as soon as it is done with one, results come back in completion order.
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { packagePath } from '../store/paths.js';
import type { BootRow, FindingRow } from '../report/export.js';
import type { BootUnit } from './units.js';

/** Analyze options common to every boot of a run (those of `ipitrace analyze`, less files/boot/db). */
export interface BatchOptions {
  failOn: 'error' | 'warning' | 'never';
  csdTimeout: number;
  grace: number;
  cpus?: number;
}

export interface BatchJob {
  id: number;
  unit: BootUnit;
  options: BatchOptions;
  /** Also return the boot's warehouse rows (report/export.ts). */
  exportRows: boolean;
}

export interface BatchResult {
  id: number;
  /** analyze's exit code: 0 clean, 1 findings at --fail-on, 2 the boot could not be analyzed. */
  code: number;
  /** What analyze --json printed (empty when it failed before). */
  stdout: string;
  stderr: string;
  ms: number;
  /** The warehouse rows of each boot analyzed, when the job asked for them. */
  rows: { boot: BootRow; findings: FindingRow[] }[] | null;
}

/** The built worker entry, dist/batch/worker.js, found from the package root (see ingest/read-file.ts). */
function workerUrl(): URL {
  return pathToFileURL(packagePath('dist', 'batch', 'worker.js'));
}

export function defaultJobs(): number {
  return availableParallelism();
}

/**
 * Analyzes every unit with `jobs` workers; onResult is called once per unit, as each finishes. A
 * worker that dies takes only its current boot with it (reported as code 2); a new one replaces it.
 */
export async function runPool(units: BootUnit[], options: BatchOptions, jobs: number, exportRows: boolean,
  onResult: (unit: BootUnit, result: BatchResult) => void): Promise<void> {
  let next = 0;
  // A result that cannot be taken (the caller's output failed: disk full) stops the run: no lane takes
  // another boot, and the error is thrown once every lane has ended.
  let failure: unknown = null;
  const threads = Math.max(1, Math.min(jobs, units.length));
  const lane = async (): Promise<void> => {
    let worker: Worker | null = null;
    try {
      while (next < units.length) {
        const id = next++;
        worker ??= new Worker(workerUrl());
        const result = await runOne(worker, { id, unit: units[id], options, exportRows });
        if (result.died) {
          await worker.terminate();
          worker = null;
        }
        try {
          onResult(units[id], result.result);
        } catch (error) {
          failure ??= error;
          next = units.length;
        }
      }
    } finally {
      await worker?.terminate();
    }
  };
  await Promise.all(Array.from({ length: threads }, lane));
  if (failure !== null) throw failure;
}

function runOne(worker: Worker, job: BatchJob): Promise<{ result: BatchResult; died: boolean }> {
  return new Promise((resolve) => {
    const done = (result: BatchResult, died: boolean) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      resolve({ result, died });
    };
    const failed = (why: string) => done({ id: job.id, code: 2, stdout: '', stderr: `ipitrace: internal error: ${why}\n`, ms: 0, rows: null }, true);
    const onMessage = (result: BatchResult) => done(result, false);
    const onError = (error: Error) => failed(`analysis thread failed: ${error.message}`);
    const onExit = (code: number) => failed(`analysis thread exited (${code})`);
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(job);
  });
}
