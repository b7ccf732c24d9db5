/**
 * Invariant checks that stay on in production. A failed assertion is a bug in Skein, never an
 * expected outcome: it throws an {@link AssertionFailure} that agents must not swallow.
 */
export class AssertionFailure extends Error {
  override readonly name = 'AssertionFailure';
}

/**
 * Throws an {@link AssertionFailure} with `message` when `condition` is falsy. The message is
 * built before the call whatever the outcome: on a path taken per message, test first and call
 * {@link failAssertion} only when the test fails, so no string is built while all is well.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new AssertionFailure(message);
  }
}

/** Throws an {@link AssertionFailure}: the failing branch of a check made on a hot path. */
export function failAssertion(message: string): never {
  throw new AssertionFailure(message);
}

export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionFailure(`${message}: ${String(value)}`);
}
