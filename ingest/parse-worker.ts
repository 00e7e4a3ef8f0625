// Worker thread entry: reads and parses one file (workerData.path) and posts the reader's calls to
// the main thread in packed batches (ingest/packed-batch.ts), while the main thread stores the
// previous ones. At most MAX_IN_FLIGHT batches wait unacknowledged, so memory stays flat when
// storing is slower than parsing.
import { parentPort, workerData } from 'node:worker_threads';
import { SourceReader } from '../parsers/reader.js';
import { isIpitraceError } from '../store/errors.js';
import { openInput } from './input.js';
import { BatchPacker, transferList } from './packed-batch.js';
import type { WorkerMessage } from './read-file.js';

const MAX_IN_FLIGHT = 4;

const port = parentPort!;
const { path } = workerData as { path: string };
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
  const reader = new SourceReader(packer);
  try {
    const input = openInput(path);
    for await (const lines of input.batches) {
      for (let i = 0; i < lines.length; i++) reader.pushLine(lines[i]);
      inFlight++;
      post({ type: 'batch', batch: packer.take(), bytes: input.bytesRead(), lines: reader.lines });
      while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
    }
    reader.end();
    post({ type: 'batch', batch: packer.take(), bytes: input.bytesRead(), lines: reader.lines });
    post({ type: 'end', lines: reader.lines, sha256: input.digest(), bytes: input.bytesRead() });
  } catch (error) {
    const code = isIpitraceError(error) ? error.code : null;
    post({ type: 'error', code, message: (error as Error).message, lines: reader.lines });
  }
  // The main thread terminates this worker once it has the end or the error.
}

void run();
