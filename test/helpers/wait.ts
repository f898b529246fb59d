/**
 * Waiting for a condition without depending on the machine's speed. A timeout here is a hang
 * guard, not a speed test: a wait that succeeds returns as soon as its condition holds, so
 * the guard is the quiet-machine figure the caller gives times WAIT_SCALE (default 6; set
 * OWP_TEST_WAIT_SCALE to change it). Eight suites on two cores must not turn into failures.
 */
export const WAIT_SCALE = Math.max(1, Number(process.env.OWP_TEST_WAIT_SCALE) || 6);

/** Poll `fn` until it returns a truthy value (returned) or throw after `timeoutMs` x WAIT_SCALE. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const guard = timeoutMs * WAIT_SCALE;
  const deadline = Date.now() + guard;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${guard} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}
