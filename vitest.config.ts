import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Obsidian cannot run here: tests get the faithful double of the API subset we use.
    alias: { obsidian: fileURLToPath(new URL('./test/obsidian/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Tests start real relays and child processes; two cores do not like many at once.
    maxWorkers: 2,
  },
});
