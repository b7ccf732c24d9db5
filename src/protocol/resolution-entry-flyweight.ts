import { AssertionFailure } from '../util/assert.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { decodeUtf8, encodeUtf8, Flyweight } from './flyweight.js';

/** RES entry address types. */
export const ResolutionType = {
  IPV4: 1,
  IPV6: 2,
} as const;

/** Byte offsets inside a RES entry; the name length and name follow the 4- or 16-byte address. */
export const ResolutionEntryLayout = {
  RES_TYPE: 0,
  RES_FLAGS: 1,
  UDP_PORT: 2,
  AGE_IN_MS: 4,
  ADDRESS: 8,
} as const;

const L = ResolutionEntryLayout;
const ENTRY_ALIGNMENT = 8;
const NAME_LENGTH_MAX = 0x7fff;

/** Every field of a RES entry. */
export interface ResolutionEntryFields {
  resType: number;
  resFlags: number;
  udpPort: number;
  ageInMs: number;
  address: Uint8Array;
  name: string;
}

/**
 * One entry of a RES frame (type 0x07, PROTOCOL.md §3.9). A RES frame is the 8-byte common header
 * followed by entries; each entry is padded to a multiple of 8 bytes.
 *
 * ```
 *  byte  0         1          2                4                 8
 *     0  | resType | resFlags | udpPort uint16 | ageInMs int32   |
 *     8  | address: 4 bytes (IPv4) or 16 bytes (IPv6), network order
 *  8+a   | nameLength int16 | name (nameLength bytes) | zero padding to align(10 + a + nameLength, 8)
 * ```
 *
 * resFlags 0x80 = SELF. udpPort is a little-endian host-order value, unlike the address bytes.
 * An unknown resType reads with the IPv4 layout; callers check resType first.
 */
export class ResolutionEntryFlyweight extends Flyweight {
  /** Length of an entry with the given type and name length, padding included. */
  static entryLengthFor(resType: number, nameLength: number): number {
    const unaligned = L.ADDRESS + addressLengthOf(resType) + 2 + nameLength;
    return Math.ceil(unaligned / ENTRY_ALIGNMENT) * ENTRY_ALIGNMENT;
  }

  get resType(): number {
    return this.view.getInt8(this.base + L.RES_TYPE);
  }
  set resType(value: number) {
    this.view.setInt8(this.base + L.RES_TYPE, value);
  }

  get resFlags(): number {
    return this.view.getUint8(this.base + L.RES_FLAGS);
  }
  set resFlags(value: number) {
    this.view.setUint8(this.base + L.RES_FLAGS, value);
  }

  get udpPort(): number {
    return this.view.getUint16(this.base + L.UDP_PORT, true);
  }
  set udpPort(value: number) {
    this.view.setUint16(this.base + L.UDP_PORT, value, true);
  }

  get ageInMs(): number {
    return this.getInt32(L.AGE_IN_MS);
  }
  set ageInMs(value: number) {
    this.setInt32(L.AGE_IN_MS, value);
  }

  /** 16 for IPv6 entries, otherwise 4. */
  get addressLength(): number {
    return addressLengthOf(this.resType);
  }

  /** A copy of the raw address bytes. */
  get address(): Uint8Array {
    const start = this.bufferOffset + L.ADDRESS;
    return this.buffer.slice(start, start + this.addressLength);
  }
  /** Copies the address bytes in; their count must match resType (set resType first). */
  set address(value: Uint8Array) {
    if (value.length !== this.addressLength) {
      throw new AssertionFailure(`RES address has ${value.length} bytes, resType ${this.resType} needs ${this.addressLength}`);
    }
    this.buffer.set(value, this.bufferOffset + L.ADDRESS);
  }

  get nameLength(): number {
    return this.view.getInt16(this.base + L.ADDRESS + this.addressLength, true);
  }
  set nameLength(value: number) {
    this.view.setInt16(this.base + L.ADDRESS + this.addressLength, value, true);
  }

  /** The name as UTF-8 text, clamped to the wrapped bytes. */
  get name(): string {
    const start = L.ADDRESS + this.addressLength + 2;
    return decodeUtf8(this.buffer, this.bufferOffset + start, Math.min(this.nameLength, this.capacity - start));
  }
  /** Writes the name bytes and nameLength; throws if the name does not fit the wrapped bytes. */
  set name(value: string) {
    const start = L.ADDRESS + this.addressLength + 2;
    const room = Math.min(NAME_LENGTH_MAX, this.capacity - start);
    const length = encodeUtf8(value, this.buffer, this.bufferOffset + start, room);
    if (length < utf8Length(value)) {
      throw new SkeinError(
        ErrorCode.ARG_INVALID,
        `resolution name '${value}' needs ${utf8Length(value)} bytes, only ${Math.max(0, room)} available (max ${NAME_LENGTH_MAX})`,
      );
    }
    this.nameLength = length;
  }

  /** Length of this entry including padding. */
  get entryLength(): number {
    return ResolutionEntryFlyweight.entryLengthFor(this.resType, this.nameLength);
  }

  /** Writes a complete entry, zeroing its padding; returns the entry length. */
  write(fields: ResolutionEntryFields): number {
    this.resType = fields.resType;
    this.resFlags = fields.resFlags;
    this.udpPort = fields.udpPort;
    this.ageInMs = fields.ageInMs;
    this.address = fields.address;
    this.name = fields.name;
    const nameEnd = this.bufferOffset + L.ADDRESS + this.addressLength + 2 + this.nameLength;
    const entryLength = this.entryLength;
    this.buffer.fill(0, nameEnd, Math.min(this.buffer.length, this.bufferOffset + entryLength));
    return entryLength;
  }
}

function addressLengthOf(resType: number): number {
  return resType === ResolutionType.IPV6 ? 16 : 4;
}

const lengthEncoder = new TextEncoder();
function utf8Length(text: string): number {
  return lengthEncoder.encode(text).length;
}
