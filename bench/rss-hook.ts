// Preloaded (node --import) into a benchmark child when GNU time is missing: writes the process's
// peak RSS in KB to $IPITRACE_BENCH_RSS_FILE on exit.
import { writeFileSync } from 'node:fs';

const file = process.env.IPITRACE_BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, `${process.resourceUsage().maxRSS}\n`));
