import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Compiles the project so that tests can run dist/cli/main.js like a user would. */
export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root], { stdio: 'inherit' });
}
