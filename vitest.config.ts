import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The CLI tests run the compiled command, as users do: build it once before the suite.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
