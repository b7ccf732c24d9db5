/** Fuzz target of name-resolution (RES) frames: the common header followed by IPv4/IPv6 entries. */
import fc from 'fast-check';
import { FrameType, RES_HEADER_LENGTH, RES_MIN_ENTRY_LENGTH } from '../../../src/protocol/frame-constants.js';
import { HeaderFlyweight } from '../../../src/protocol/header-flyweight.js';
import { ResolutionEntryFlyweight, ResolutionType } from '../../../src/protocol/resolution-entry-flyweight.js';
import { decoderTarget } from './decoder-target.js';

interface DecodedEntry {
  resType: number;
  resFlags: number;
  udpPort: number;
  ageInMs: number;
  address: string;
  nameLength: number;
  name: string;
}

interface DecodedResolution {
  frameLength: number;
  flags: number;
  type: number;
  entries: DecodedEntry[];
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * Walks the entries as a resolver must: an entry is read only when its fixed part (address and
 * name length included) fits in what is left of the datagram, and the walk stops at an entry whose
 * length does not move it forward or runs past the datagram.
 */
function decode(buffer: Uint8Array, offset: number, length: number): DecodedResolution {
  const header = new HeaderFlyweight().wrap(buffer, offset, length);
  const result: DecodedResolution = { frameLength: header.frameLength, flags: header.flags, type: header.type, entries: [] };
  const e = new ResolutionEntryFlyweight();
  let at = RES_HEADER_LENGTH;
  while (length - at >= RES_MIN_ENTRY_LENGTH) {
    e.wrap(buffer, offset + at, length - at);
    if (length - at < 8 + e.addressLength + 2) break;
    result.entries.push({
      resType: e.resType,
      resFlags: e.resFlags,
      udpPort: e.udpPort,
      ageInMs: e.ageInMs,
      address: hex(e.address),
      nameLength: e.nameLength,
      name: e.name,
    });
    const entryLength = e.entryLength;
    if (entryLength < RES_MIN_ENTRY_LENGTH || entryLength > length - at) break;
    at += entryLength;
  }
  return result;
}

const entryArb = fc.record({
  resType: fc.constantFrom(ResolutionType.IPV4, ResolutionType.IPV6),
  resFlags: fc.constantFrom(0, 0x80),
  udpPort: fc.integer({ min: 0, max: 65535 }),
  ageInMs: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  address16: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  name: fc.string({ unit: 'binary-ascii', maxLength: 40 }),
});

const valid = fc.array(entryArb, { minLength: 1, maxLength: 4 }).map((entries) => {
  const fields = entries.map((f) => ({ ...f, address: f.address16.subarray(0, f.resType === ResolutionType.IPV6 ? 16 : 4) }));
  const lengths = fields.map((f) => ResolutionEntryFlyweight.entryLengthFor(f.resType, f.name.length));
  const frameLength = RES_HEADER_LENGTH + lengths.reduce((a, b) => a + b, 0);
  const bytes = new Uint8Array(frameLength);
  new HeaderFlyweight().wrap(bytes).writeFrameHeader(frameLength, 0, FrameType.RES);
  const e = new ResolutionEntryFlyweight();
  let at = RES_HEADER_LENGTH;
  const expected: DecodedResolution = { frameLength, flags: 0, type: FrameType.RES, entries: [] };
  for (const f of fields) {
    at += e.wrap(bytes, at, frameLength - at).write(f);
    expected.entries.push({
      resType: f.resType,
      resFlags: f.resFlags,
      udpPort: f.udpPort,
      ageInMs: f.ageInMs,
      address: hex(f.address),
      nameLength: f.name.length,
      name: f.name,
    });
  }
  return { bytes, expected };
});

export const resolutionTarget = decoderTarget({
  name: 'resolution',
  description: 'name-resolution frames (8-byte header + IPv4/IPv6 entries)',
  types: [FrameType.RES],
  lengthMin: RES_HEADER_LENGTH + RES_MIN_ENTRY_LENGTH,
  valid,
  decode,
});
