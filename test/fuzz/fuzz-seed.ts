/**
 * The seed of a bounded fuzz run in `npm test`: SKEIN_FUZZ_SEED when set (to replay a failure),
 * otherwise a fresh random one, so that every run of the suite explores new inputs. Tests print it
 * with the command that replays the run.
 */
import { randomInt } from 'node:crypto';

export function fuzzSeed(): number {
  const text = process.env['SKEIN_FUZZ_SEED'];
  if (text === undefined || text === '') return randomInt(2 ** 31);
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) throw new Error(`SKEIN_FUZZ_SEED=${text} is invalid; expected an integer`);
  return seed;
}
