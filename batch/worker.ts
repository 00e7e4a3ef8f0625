// Worker thread entry of `ipitrace batch`: analyzes one boot per message, as `ipitrace analyze --json`
// does, and posts back its exit code and output. A worker lives for the whole run, so the modules
// are loaded (and compiled) once per thread, not once per boot: for a farm's many small consoles,
// start-up is most of the cost of a separate process per boot.
import { parentPort } from 'node:worker_threads';
import { isIpitraceError } from '../store/errors.js';
import type { BatchJob, BatchResult } from './pool.js';

const port = parentPort!;

port.on('message', (job: BatchJob) => {
  void analyzeOne(job).then((result) => port.postMessage(result));
});

async function analyzeOne(job: BatchJob): Promise<BatchResult> {
  const { runAnalyze } = await import('../cli/analyze.js');
  const { exportRows } = await import('../report/export.js');
  let rows: BatchResult['rows'] = null;
  let stdout = '';
  let stderr = '';
  const started = performance.now();
  try {
    const code = await runAnalyze({
      // No --db: a boot whose files are small is analyzed in memory (cli/analyze.ts, fitsInMemory).
      ...job.options, files: job.unit.files, boot: job.unit.boot, json: true, verbose: false,
    }, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) }, undefined, {
      analyzed: job.exportRows ? (db, boots) => (rows = boots.map((boot) => exportRows(db, boot))) : undefined,
    });
    return { id: job.id, code, stdout, stderr, ms: performance.now() - started, rows };
  } catch (error) {
    const message = isIpitraceError(error) ? error.message : `internal error: ${(error as Error).message}`;
    return { id: job.id, code: 2, stdout, stderr: stderr + `ipitrace: ${message}\n`, ms: performance.now() - started, rows: null };
  }
}
