// V8 settings for ipitrace's bulk jobs, set on import, before any work (main.ts imports this first).
//
// No allocation-site pretenuring: replay's csd uses (and the like) outlive a scavenge or two, so V8
// soon allocates them straight in the old space, where they die and pile up until a full collection,
// which comes late (the old space grew to ~115 MB of dead objects around ~25 MB live). Allocated
// young, they die there. Measured on detect of ftrace-5M: peak RSS 226 -> 144-158 MB and 7.5-7.8 ->
// 6.3-6.6 s. The flag is read at each collection, so setting it at run time takes effect; it is
// process-wide (the parser thread too).
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-allocation-site-pretenuring');
