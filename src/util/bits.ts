/** Bit and alignment helpers for 32-bit and "safe integer" arithmetic. */

export function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 0 && (value & (value - 1)) === 0 && value <= 0x40000000;
}

/** Rounds `value` up to a multiple of `alignment` (a power of two, at most 2^30). 32-bit values only. */
export function align(value: number, alignment: number): number {
  return (value + (alignment - 1)) & ~(alignment - 1);
}

/** Like {@link align} but exact for any non-negative safe integer. */
export function alignLong(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** log2 of a power of two. */
export function log2(value: number): number {
  return 31 - Math.clz32(value);
}

/** Signed 32-bit wrap-around. */
export function int32(value: number): number {
  return value | 0;
}
