/**
 * Memory measurements for fuzz runs. Log buffers are SharedArrayBuffers, which V8 frees only when
 * it collects them, and it may let gigabytes of unreachable ones wait; a run that checks that
 * memory stays bounded therefore collects garbage first, through the `gc` function that the
 * `--expose-gc` flag provides (turned on here at run time).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes held by live ArrayBuffers and SharedArrayBuffers after a full garbage collection. */
export function liveArrayBufferBytes(): number {
  gc();
  return process.memoryUsage().arrayBuffers;
}
