/** Expectations shared by the model tests. */
import { OwpError } from '../../shared/errors.js';

/** The OwpError `f` throws (any other error is rethrown; no throw fails the test). */
export function owpErrorOf(f: () => unknown): OwpError {
  try {
    f();
  } catch (e) {
    if (e instanceof OwpError) return e;
    throw e;
  }
  throw new Error('expected an OwpError');
}
