/**
 * The one place fast-check options come from: every `fc.assert` in the suite passes
 * `fcOptions(numRuns)` (lint enforces it).
 * - `npm test`: the fixed seed FIXED_SEED, so CI sees the same runs every time.
 * - `npm run test:random` (FC_SEED=random): a fresh seed per test file.
 * - `FC_SEED=<n>`: replay that seed.
 * A failure names the seed, the counterexample and the command that replays it; turn each
 * counterexample into a named regression test beside the property.
 */
import fc from 'fast-check';
import path from 'node:path';
import { expect } from 'vitest';

export const FIXED_SEED = 20_260_301;

function seedFrom(value: string | undefined): number {
  if (value === undefined || value === '') return FIXED_SEED;
  if (value === 'random') return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`FC_SEED must be an integer or "random", got ${JSON.stringify(value.slice(0, 40))}`);
  return n | 0;
}

/** This file's seed: one per test file, so the printed command replays the whole file. */
export const SEED = seedFrom(process.env.FC_SEED);

function replayCommand(seed: number): string {
  const file = expect.getState().testPath;
  const where = file ? path.relative(process.cwd(), file) : '<test file>';
  return `FC_SEED=${seed} npx vitest run ${where}`;
}

/** Throws fast-check's own report plus the seed and the command that replays this failure. */
const replayPlugin: fc.Plugin<unknown> = () => ({
  onAllRunsComplete: (details) => {
    if (!details.failed) return;
    const test = expect.getState().currentTestName ?? '';
    const report = fc.defaultReportMessage(details) ?? 'Property failed.';
    throw new Error(`${report}\n\nProperty "${test}" failed with seed ${details.seed}. Replay it with:\n  ${replayCommand(details.seed)}\n`);
  },
});

/** Options for one property: `numRuns` generated cases from this file's seed. */
export function fcOptions<T>(numRuns: number): fc.Parameters<T> {
  return { numRuns, seed: SEED, plugins: [replayPlugin as fc.Plugin<T>] };
}
