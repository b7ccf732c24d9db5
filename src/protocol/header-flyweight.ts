import { CURRENT_VERSION } from './frame-constants.js';
import { Flyweight } from './flyweight.js';

/** Byte offsets of the common header fields. */
export const HeaderLayout = {
  FRAME_LENGTH: 0,
  VERSION: 4,
  FLAGS: 5,
  TYPE: 6,
} as const;

/**
 * The 8-byte header that starts every frame (PROTOCOL.md §2). Every frame flyweight extends it.
 *
 * ```
 *  byte  0                   4         5         6                   8
 *        | frameLength int32 | version | flags   | type uint16       |
 * ```
 *
 * `frameLength` is signed; `type` reads as an unsigned 16-bit code (EXT = 0xffff).
 */
export class HeaderFlyweight extends Flyweight {
  get frameLength(): number {
    return this.view.getInt32(this.base, true);
  }
  set frameLength(value: number) {
    this.view.setInt32(this.base, value, true);
  }

  get version(): number {
    return this.view.getUint8(this.base + HeaderLayout.VERSION);
  }
  set version(value: number) {
    this.view.setUint8(this.base + HeaderLayout.VERSION, value);
  }

  get flags(): number {
    return this.view.getUint8(this.base + HeaderLayout.FLAGS);
  }
  set flags(value: number) {
    this.view.setUint8(this.base + HeaderLayout.FLAGS, value);
  }

  get type(): number {
    return this.view.getUint16(this.base + HeaderLayout.TYPE, true);
  }
  set type(value: number) {
    this.view.setUint16(this.base + HeaderLayout.TYPE, value, true);
  }

  /** Writes the whole common header with the current protocol version. */
  writeFrameHeader(frameLength: number, flags: number, type: number): this {
    this.view.setInt32(this.base, frameLength, true);
    this.view.setUint8(this.base + HeaderLayout.VERSION, CURRENT_VERSION);
    this.view.setUint8(this.base + HeaderLayout.FLAGS, flags);
    this.view.setUint16(this.base + HeaderLayout.TYPE, type, true);
    return this;
  }
}
