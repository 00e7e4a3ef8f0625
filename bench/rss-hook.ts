// Preloaded (node --import) into a benchmark child when GNU time is missing: writes the process's
// peak RSS in KB and its user and system CPU time in s (as GNU time's %M %U %S) to
// $IPITRACE_BENCH_RSS_FILE on exit.
import { writeFileSync } from 'node:fs';

const file = process.env.IPITRACE_BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(file, `${usage.maxRSS} ${usage.userCPUTime / 1e6} ${usage.systemCPUTime / 1e6}\n`);
  });
}
