/**
 * Vitest global setup: build dist/ from the sources once per test run, so every test that
 * runs the CLI or the relay as a child process (bin/owp.js, the Dockerfile's CMD) runs the
 * compiled build of exactly the code under test, never a stale one. Tests that import
 * modules run the sources directly; the child-process tests are the ones that also check
 * the build users run. The build is ~1 s (scripts/build.ts).
 */
import { buildServer } from '../scripts/build.js';

export default async function setup(): Promise<void> {
  await buildServer({ quiet: true });
}
