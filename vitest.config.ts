import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Obsidian cannot run here: tests get the faithful double of the API subset we use.
    alias: { obsidian: fileURLToPath(new URL('./test/obsidian/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // dist/ (the compiled relay and CLI that child-process tests run) is rebuilt once per run.
    globalSetup: ['test/build-dist.ts'],
    // Hang guards, not speed limits: properties are CPU-bound and relay tests wait for
    // conditions (test/helpers/wait.ts), so a busy machine must only make them slower.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // Tests start real relays and child processes; two cores do not like many at once.
    maxWorkers: 2,
  },
});
