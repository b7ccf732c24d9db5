/**
 * Invariant checks that stay on in production. A failed assertion is a bug in Skein, never an
 * expected outcome: it throws an {@link AssertionFailure} that agents must not swallow.
 */
export class AssertionFailure extends Error {
  override readonly name = 'AssertionFailure';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new AssertionFailure(message);
  }
}

export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionFailure(`${message}: ${String(value)}`);
}
