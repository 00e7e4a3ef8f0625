// Worker thread entry: reads and parses one file (workerData.path) and posts the reader's calls to
// the main thread in packed batches (ingest/packed-batch.ts), while the main thread stores the
// previous ones. At most MAX_IN_FLIGHT batches wait unacknowledged, so memory stays flat when
// storing is slower than parsing.
import { parentPort, workerData } from 'node:worker_threads';
import { isIpitraceError } from '../store/errors.js';
import { BatchPacker, transferList } from './packed-batch.js';
import type { InputOptions } from './input.js';
import { readInThread, type WorkerMessage } from './read-file.js';

const MAX_IN_FLIGHT = 4;

const port = parentPort!;
const { path, options } = workerData as { path: string; options: InputOptions };
let inFlight = 0;
let wake: (() => void) | null = null;
port.on('message', () => {
  inFlight--;
  wake?.();
  wake = null;
});

function post(message: WorkerMessage): void {
  port.postMessage(message, message.type === 'batch' ? transferList(message.batch) : []);
}

async function run(): Promise<void> {
  const packer = new BatchPacker();
  const read = await readInThread(path, packer, async (input, reader) => {
    inFlight++;
    post({ type: 'batch', batch: packer.take(), bytes: input.bytesRead(), lines: reader.lines });
    while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
  }, options);
  if (read.ok) {
    // What the reader's end() flushed.
    post({ type: 'batch', batch: packer.take(), bytes: read.bytes, lines: read.lines });
    post({ type: 'end', lines: read.lines, sha256: read.sha256, bytes: read.bytes });
  } else {
    const code = isIpitraceError(read.error) ? read.error.code : null;
    post({ type: 'error', code, message: (read.error as Error).message, lines: read.lines });
  }
  // The main thread terminates this worker once it has the end or the error.
}

void run();
