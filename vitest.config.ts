import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';

// The shared corpus (../shared/corpus) is used only where present: without it, its suite is left out
// (a test file that defines no test fails the run), and the run says so.
const CORPUS = join(import.meta.dirname, '..', 'shared', 'corpus');
const withCorpus = existsSync(join(CORPUS, 'README.md'));
if (!withCorpus) console.warn(`test/corpus.test.ts left out: ${CORPUS} is not there`);

export default defineConfig({
  test: {
    // The CLI tests run the compiled command, as users do: build it once before the suite.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    exclude: withCorpus ? configDefaults.exclude : [...configDefaults.exclude, 'test/corpus.test.ts'],
  },
});
