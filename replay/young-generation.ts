// V8's young generation through replay's queue pass (replay.ts), a process-wide setting like those of
// cli/v8-flags.ts, set at run time because it depends on where the heap stands.
//
// V8 doubles its semi-spaces (1 -> 16 MB) whenever the bytes that survived scavenges since the last
// doubling exceed their size: a cumulative count, so a long enough pass doubles them whatever it keeps
// (replay's csd uses and batched rows outlive a scavenge or two). Detect reached 8 MB semi-spaces on
// the bench's 1 M-event inputs and 16 MB on the 5 M ones, 16 MB more RSS for the same working set
// (mixed-5M, same run, 3 runs: peak 194-197 -> 167-186 MB with the growth held at the queue pass,
// mixed-1M 124-125 -> 123-126 MB, CPU unchanged; held from the start instead, 1 MB semi-spaces
// promote more and cost ~8 % more CPU). The growth factor is read at each growth, so setting it
// mid-run takes effect.
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

/** From this young generation on (8 MB semi-spaces and their reserve), it grows no more. */
const HOLD_FROM_BYTES = 16 * 1024 * 1024;

/**
 * Stops the young generation's growth where it stands once it is HOLD_FROM_BYTES or more. Only on the
 * main thread: the flag is process-wide, and the worker threads of `ipitrace batch` each replay their
 * own boots, whose young generations it would freeze wherever they stand.
 */
export function holdYoungGeneration(): void {
  if (!isMainThread) return;
  const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  if (young !== undefined && young.space_size >= HOLD_FROM_BYTES) setFlagsFromString('--semi-space-growth-factor=1');
}
