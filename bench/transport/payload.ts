/**
 * Every benchmark message starts with a little-endian 32-bit sequence number (0, 1, 2, … wrapping
 * at 2^32), so receivers can check order and count losses without allocating.
 */
export function writeSequence(buffer: Uint8Array, offset: number, sequence: number): void {
  buffer[offset] = sequence & 0xff;
  buffer[offset + 1] = (sequence >>> 8) & 0xff;
  buffer[offset + 2] = (sequence >>> 16) & 0xff;
  buffer[offset + 3] = (sequence >>> 24) & 0xff;
}

export function readSequence(buffer: Uint8Array, offset: number): number {
  return (buffer[offset]! | (buffer[offset + 1]! << 8) | (buffer[offset + 2]! << 16) | (buffer[offset + 3]! << 24)) >>> 0;
}

/** A payload of `length` bytes filled with a pattern (the first 4 bytes are the sequence). */
export function patternPayload(length: number): Uint8Array {
  const payload = new Uint8Array(length);
  for (let i = 4; i < length; i++) payload[i] = i & 0xff;
  return payload;
}

/** Polls `condition` every millisecond until it holds; rejects after `timeoutMs`, naming `what`. */
export function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  return new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (condition()) resolve();
      else if (performance.now() >= deadlineMs) reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      else setTimeout(check, 1);
    };
    check();
  });
}
