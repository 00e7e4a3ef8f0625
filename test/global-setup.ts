import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Builds the project as `npm run build` does, so that tests can run dist/cli/main.js like a user would. */
export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root, '--noEmit'], { stdio: 'inherit' });
  execFileSync(process.execPath, [join(root, 'scripts', 'bundle.mjs')], { stdio: 'inherit' });
}
