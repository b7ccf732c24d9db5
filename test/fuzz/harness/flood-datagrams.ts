/**
 * What a SETUP flood sends (the simulated flood of setup-flood.ts and the flood fixture of the
 * process test): mostly valid SETUPs of new random sessions for the subscribed stream, with random
 * term lengths up to 1 GiB and positions; some of them mutated; random bytes; DATA of random
 * unknown sessions. SETUP sessions are even and DATA sessions odd, so the flood never answers one
 * of its own SETUPs (which would be a sender establishing an image, not a flood).
 */
import type { Prng } from '../../../src/env/prng.js';
import { dataDatagram, setupDatagram } from './frames.js';

export function floodDatagram(prng: Prng, streamId: number): { bytes: Uint8Array; isSetup: boolean } {
  const roll = prng.nextInt(100);
  if (roll < 84) {
    const termLength = 1 << (16 + prng.nextInt(15));
    const initialTermId = prng.nextUint32() | 0;
    const bytes = setupDatagram({
      sessionId: (prng.nextUint32() & ~1) | 0,
      streamId,
      initialTermId,
      activeTermId: (initialTermId + prng.nextInt(4)) | 0,
      termLength,
      termOffset: prng.nextInt(termLength / 32) * 32,
      mtu: 1408,
    });
    if (roll >= 76) {
      // Mutated: a few bytes overwritten; many of these are still valid SETUPs of other sessions.
      const flips = 1 + prng.nextInt(3);
      for (let i = 0; i < flips; i++) bytes[prng.nextInt(bytes.length)] = prng.nextInt(256);
    }
    return { bytes, isSetup: true };
  }
  if (roll < 92) {
    const bytes = new Uint8Array(1 + prng.nextInt(96));
    for (let i = 0; i < bytes.length; i++) bytes[i] = prng.nextInt(256);
    return { bytes, isSetup: false };
  }
  const bytes = dataDatagram({ sessionId: prng.nextUint32() | 1, streamId, termId: prng.nextUint32() | 0, termOffset: 0, frameLength: 32 + prng.nextInt(64) });
  return { bytes, isSetup: false };
}
