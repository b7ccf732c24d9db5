/**
 * Golden vectors: every datagram captured from the Aeron C driver passes the acceptance gate,
 * decodes to exactly the documented fields and re-encodes byte for byte, both through the field
 * setters and through the one-call writers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DATA_HEADER_LENGTH,
  DataHeaderFlyweight,
  ErrorFlyweight,
  FrameFlags,
  FrameType,
  HEADER_LENGTH,
  HeaderFlyweight,
  invalidFrameReasonName,
  NakFlyweight,
  ResolutionEntryFlyweight,
  type ResolutionEntryFields,
  ResponseSetupFlyweight,
  RttMeasurementFlyweight,
  SetupFlyweight,
  type SetupFields,
  StatusMessageFlyweight,
  validateDatagram,
} from '../../../src/protocol/index.js';
import { align, log2 } from '../../../src/util/bits.js';
import { loadVectorFiles, type VectorDatagram, type VectorFrame } from '../../support/vectors.js';

type Fields = Record<string, unknown>;

/** Derived fields that need the stream's SETUP (positions) or are prose. */
const IGNORED = new Set(['position', 'endPosition', 'consumptionPosition', 'note']);
const INT64_FIELDS = ['reservedValue', 'receiverId', 'groupTag', 'echoTimestampNs', 'receptionDeltaNs'];

const FLAG_NAMES: Record<string, [number, string][]> = {
  DATA: [[0x80, 'BEGIN'], [0x40, 'END'], [0x20, 'EOS'], [0x10, 'REVOKED']],
  PAD: [[0x80, 'BEGIN'], [0x40, 'END'], [0x20, 'EOS'], [0x10, 'REVOKED']],
  SM: [[0x80, 'SEND_SETUP'], [0x40, 'EOS']],
  SETUP: [[0x80, 'SEND_RESPONSE_SETUP'], [0x40, 'GROUP']],
  RTTM: [[0x80, 'REPLY']],
  ERR: [[0x08, 'HAS_GROUP_TAG']],
};

const header = new HeaderFlyweight();
const data = new DataHeaderFlyweight();
const setup = new SetupFlyweight();
const sm = new StatusMessageFlyweight();
const nak = new NakFlyweight();
const rttm = new RttMeasurementFlyweight();
const err = new ErrorFlyweight();
const rsp = new ResponseSetupFlyweight();
const entry = new ResolutionEntryFlyweight();

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

function flagNames(type: string, flags: number): string[] {
  const names: string[] = [];
  let rest = flags;
  for (const [bit, name] of FLAG_NAMES[type] ?? []) {
    if ((flags & bit) !== 0) names.push(name);
    rest &= ~bit;
  }
  for (let bit = 0x80; bit > 0; bit >>= 1) if ((rest & bit) !== 0) names.push(`0x${bit.toString(16).padStart(2, '0')}`);
  return names;
}

function formatAddress(bytes: Uint8Array): string {
  return bytes.length === 4 ? Array.from(bytes).join('.') : toHex(bytes);
}

function parseAddress(text: string): Uint8Array {
  return text.includes('.') ? new Uint8Array(text.split('.').map(Number)) : fromHex(text);
}

/** The documented fields of a frame, minus ignored ones, with 64-bit strings as BigInt. */
function expectedFields(frame: VectorFrame): Fields {
  const fields: Fields = {};
  for (const [key, value] of Object.entries(frame)) {
    if (!IGNORED.has(key)) fields[key] = INT64_FIELDS.includes(key) ? BigInt(value as string) : value;
  }
  return fields;
}

function decodeCommon(name: string, bytes: Uint8Array, offset: number): Fields {
  header.wrap(bytes, offset);
  return {
    type: name,
    typeCode: (header.type << 16) >> 16,
    frameLength: header.frameLength,
    version: header.version,
    flags: `0x${header.flags.toString(16).padStart(2, '0')}`,
    flagNames: flagNames(name, header.flags),
  };
}

/** Decodes one frame with the flyweights into the vector format. */
function decodeFrame(name: string, d: VectorDatagram, offset: number): Fields {
  const out = decodeCommon(name, d.bytes, offset);
  switch (name) {
    case 'DATA':
    case 'PAD':
      return { ...out, ...decodeData(name, d, offset) };
    case 'SETUP': {
      const f = setup.wrap(d.bytes, offset);
      return {
        ...out, termOffset: f.termOffset, sessionId: f.sessionId, streamId: f.streamId, initialTermId: f.initialTermId,
        activeTermId: f.activeTermId, termLength: f.termLength, mtu: f.mtu, ttl: f.ttl, positionBitsToShift: log2(f.termLength),
      };
    }
    case 'SM': {
      const f = sm.wrap(d.bytes, offset);
      const fields: Fields = {
        ...out, sessionId: f.sessionId, streamId: f.streamId, consumptionTermId: f.consumptionTermId,
        consumptionTermOffset: f.consumptionTermOffset, receiverWindow: f.receiverWindow, receiverId: f.receiverId,
      };
      if (f.hasGroupTag) fields['groupTag'] = f.groupTag;
      return fields;
    }
    case 'NAK': {
      const f = nak.wrap(d.bytes, offset);
      return { ...out, sessionId: f.sessionId, streamId: f.streamId, termId: f.termId, termOffset: f.termOffset, length: f.length };
    }
    case 'RTTM': {
      const f = rttm.wrap(d.bytes, offset);
      return {
        ...out, sessionId: f.sessionId, streamId: f.streamId, echoTimestampNs: f.echoTimestampNs,
        receptionDeltaNs: f.receptionDeltaNs, receiverId: f.receiverId,
      };
    }
    case 'ERR': {
      const f = err.wrap(d.bytes, offset);
      return {
        ...out, sessionId: f.sessionId, streamId: f.streamId, receiverId: f.receiverId, groupTag: f.groupTag,
        errorCode: f.errorCode, errorLength: f.errorLength, errorMessage: f.errorMessage,
      };
    }
    case 'RSP_SETUP': {
      const f = rsp.wrap(d.bytes, offset);
      return { ...out, sessionId: f.sessionId, streamId: f.streamId, responseSessionId: f.responseSessionId };
    }
    case 'RES':
      return { ...out, entries: decodeEntries(d.bytes, offset, header.frameLength) };
    default:
      throw new Error(`no decoder for frame type ${name}`);
  }
}

function decodeData(name: string, d: VectorDatagram, offset: number): Fields {
  const f = data.wrap(d.bytes, offset);
  const fields: Fields = {
    termOffset: f.termOffset, sessionId: f.sessionId, streamId: f.streamId, termId: f.termId,
    reservedValue: f.reservedValue, offsetInDatagram: offset,
  };
  assert.equal(BigInt.asIntN(64, (BigInt(f.reservedValueHigh) << 32n) | BigInt(f.reservedValueLow >>> 0)), f.reservedValue);
  if (name === 'PAD') return { ...fields, padLength: f.frameLength };
  if (f.isHeartbeat(d.datagramLength)) return { ...fields, isHeartbeat: true };
  const payload = d.bytes.subarray(f.payloadOffset, offset + f.frameLength);
  const text = Buffer.from(payload).toString('latin1');
  return {
    ...fields,
    payloadLength: payload.length,
    payloadHex: toHex(payload),
    ...(/^[\x20-\x7e]+$/.test(text) ? { payloadText: text } : {}),
    alignedFrameLength: align(f.frameLength, 32),
  };
}

function decodeEntries(bytes: Uint8Array, frameOffset: number, frameLength: number): Fields[] {
  const entries: Fields[] = [];
  for (let offset = frameOffset + HEADER_LENGTH; offset < frameOffset + frameLength; offset += entry.entryLength) {
    entry.wrap(bytes, offset, frameOffset + frameLength - offset);
    entries.push({
      resType: entry.resType, resFlags: entry.resFlags, selfFlag: (entry.resFlags & FrameFlags.RES_SELF) !== 0,
      udpPort: entry.udpPort, ageInMs: entry.ageInMs, address: formatAddress(entry.address), nameLength: entry.nameLength,
      name: entry.name, entryLength: entry.entryLength,
    });
  }
  return entries;
}

/** Encodes a frame from its documented fields with the field setters. */
function encodeWithSetters(buffer: Uint8Array, offset: number, frame: VectorFrame): void {
  const common = (f: HeaderFlyweight): void => {
    f.frameLength = frame['frameLength'];
    f.version = frame['version'];
    f.flags = parseInt(frame['flags'], 16);
    f.type = frame['typeCode'];
  };
  const big = (key: string): bigint => BigInt(frame[key]);
  switch (frame['type']) {
    case 'DATA':
    case 'PAD': {
      const f = data.wrap(buffer, offset);
      common(f);
      for (const key of ['termOffset', 'sessionId', 'streamId', 'termId'] as const) f[key] = frame[key];
      f.reservedValue = big('reservedValue');
      if (frame['payloadHex'] !== undefined) buffer.set(fromHex(frame['payloadHex']), f.payloadOffset);
      return;
    }
    case 'SETUP': {
      const f = setup.wrap(buffer, offset);
      common(f);
      for (const key of ['termOffset', 'sessionId', 'streamId', 'initialTermId', 'activeTermId', 'termLength', 'mtu', 'ttl'] as const) f[key] = frame[key];
      return;
    }
    case 'SM': {
      const f = sm.wrap(buffer, offset);
      common(f);
      for (const key of ['sessionId', 'streamId', 'consumptionTermId', 'consumptionTermOffset', 'receiverWindow'] as const) f[key] = frame[key];
      f.receiverId = big('receiverId');
      if (frame['groupTag'] !== undefined) f.groupTag = big('groupTag');
      return;
    }
    case 'NAK': {
      const f = nak.wrap(buffer, offset);
      common(f);
      for (const key of ['sessionId', 'streamId', 'termId', 'termOffset', 'length'] as const) f[key] = frame[key];
      return;
    }
    case 'RTTM': {
      const f = rttm.wrap(buffer, offset);
      common(f);
      Object.assign(f, { sessionId: frame['sessionId'], streamId: frame['streamId'] });
      f.echoTimestampNs = big('echoTimestampNs');
      f.receptionDeltaNs = big('receptionDeltaNs');
      f.receiverId = big('receiverId');
      return;
    }
    case 'ERR': {
      const f = err.wrap(buffer, offset);
      common(f);
      Object.assign(f, { sessionId: frame['sessionId'], streamId: frame['streamId'], errorCode: frame['errorCode'] });
      f.receiverId = big('receiverId');
      f.groupTag = big('groupTag');
      assert.equal(f.setErrorMessage(frame['errorMessage']), frame['errorLength']);
      assert.equal(f.frameLength, frame['frameLength']);
      return;
    }
    case 'RSP_SETUP': {
      const f = rsp.wrap(buffer, offset);
      common(f);
      for (const key of ['sessionId', 'streamId', 'responseSessionId'] as const) f[key] = frame[key];
      return;
    }
    case 'RES':
      common(header.wrap(buffer, offset));
      encodeEntriesWithSetters(buffer, offset + HEADER_LENGTH, frame['entries']);
      return;
    default:
      throw new Error(`no encoder for frame type ${frame['type']}`);
  }
}

function encodeEntriesWithSetters(buffer: Uint8Array, entriesOffset: number, entries: VectorFrame[]): void {
  let offset = entriesOffset;
  for (const e of entries) {
    const f = entry.wrap(buffer, offset);
    f.resType = e['resType'];
    f.resFlags = e['resFlags'];
    f.udpPort = e['udpPort'];
    f.ageInMs = e['ageInMs'];
    f.address = parseAddress(e['address']);
    f.name = e['name'];
    assert.equal(f.nameLength, e['nameLength']);
    offset += f.entryLength;
  }
}

/** Encodes a frame from its documented fields with the one-call writers. */
function encodeWithWriters(buffer: Uint8Array, offset: number, frame: VectorFrame): void {
  const flags = parseInt(frame['flags'], 16);
  const big = (key: string): bigint => BigInt(frame[key]);
  const fr = frame as Record<string, number>;
  switch (frame['type']) {
    case 'DATA':
    case 'PAD': {
      const f = data.wrap(buffer, offset);
      f.writeHeader(fr['frameLength']!, flags, fr['typeCode']!, fr['termOffset']!, fr['sessionId']!, fr['streamId']!, fr['termId']!);
      f.reservedValue = big('reservedValue');
      if (frame['payloadHex'] !== undefined) buffer.set(fromHex(frame['payloadHex']), f.payloadOffset);
      return;
    }
    case 'SETUP':
      setup.wrap(buffer, offset).write({ ...(frame as unknown as SetupFields), flags });
      return;
    case 'SM': {
      const f = sm.wrap(buffer, offset);
      f.writeStatusMessage(flags, fr['sessionId']!, fr['streamId']!, fr['consumptionTermId']!, fr['consumptionTermOffset']!, fr['receiverWindow']!, big('receiverId'));
      if (frame['groupTag'] !== undefined) f.groupTag = big('groupTag');
      return;
    }
    case 'NAK':
      nak.wrap(buffer, offset).writeNak(fr['sessionId']!, fr['streamId']!, fr['termId']!, fr['termOffset']!, fr['length']!);
      return;
    case 'RTTM':
      rttm.wrap(buffer, offset).writeRttm(flags, fr['sessionId']!, fr['streamId']!, big('echoTimestampNs'), big('receptionDeltaNs'), big('receiverId'));
      return;
    case 'ERR': {
      const fields = { flags, sessionId: fr['sessionId']!, streamId: fr['streamId']!, receiverId: big('receiverId'), groupTag: big('groupTag') };
      assert.equal(err.wrap(buffer, offset).write({ ...fields, errorCode: fr['errorCode']!, errorMessage: frame['errorMessage'] }), fr['frameLength']);
      return;
    }
    case 'RSP_SETUP':
      rsp.wrap(buffer, offset).writeResponseSetup(fr['sessionId']!, fr['streamId']!, fr['responseSessionId']!);
      return;
    case 'RES': {
      let entryOffset = offset + HEADER_LENGTH;
      for (const e of frame['entries'] as VectorFrame[]) {
        entryOffset += entry.wrap(buffer, entryOffset).write({ ...(e as unknown as ResolutionEntryFields), address: parseAddress(e['address']) });
      }
      header.wrap(buffer, offset).writeFrameHeader(entryOffset - offset, flags, FrameType.RES);
      return;
    }
    default:
      throw new Error(`no writer for frame type ${frame['type']}`);
  }
}

function checkDatagram(d: VectorDatagram): void {
  const where = `${d.file} #${d.index}${d.id === undefined ? '' : ` (${d.id})`}`;
  const gate = validateDatagram(d.bytes, 0, d.datagramLength);
  assert.equal(gate, d.frames[0]!['typeCode'] & 0xffff, `${where}: gate returned ${gate} ${invalidFrameReasonName(gate)}`);

  const bySetters = new Uint8Array(d.datagramLength);
  const byWriters = new Uint8Array(d.datagramLength);
  let walkOffset = 0;
  for (const frame of d.frames) {
    const name = frame['type'] as string;
    const batched = name === 'DATA' || name === 'PAD';
    const offset = batched ? (frame['offsetInDatagram'] as number) : 0;
    if (batched) assert.equal(offset, walkOffset, `${where}: frame walk reached ${walkOffset}, frame says ${offset}`);
    assert.deepEqual(decodeFrame(name, d, offset), expectedFields(frame), `${where}: ${name} at ${offset} decodes to the documented fields`);
    encodeWithSetters(bySetters, offset, frame);
    encodeWithWriters(byWriters, offset, frame);
    data.wrap(d.bytes, offset);
    walkOffset = offset + (name === 'PAD' || data.frameLength === 0 ? DATA_HEADER_LENGTH : align(data.frameLength, 32));
  }
  if (d.frames.some((f) => f['type'] === 'DATA' || f['type'] === 'PAD')) {
    assert.equal(walkOffset, d.datagramLength, `${where}: frames cover the whole datagram`);
  }
  assert.equal(toHex(bySetters), d.hex, `${where}: re-encoded with setters`);
  assert.equal(toHex(byWriters), d.hex, `${where}: re-encoded with writers`);
}

const files = loadVectorFiles();

test('all vector files are found', () => {
  assert.ok(files.length >= 14, `expected at least 14 vector files, found ${files.length}`);
});

for (const file of files) {
  test(`${file.file}: every datagram passes the gate, decodes to its documented fields and re-encodes exactly`, () => {
    let checked = 0;
    for (const datagram of file.datagrams) {
      checkDatagram(datagram);
      checked += 1;
    }
    assert.ok(checked > 0, `${file.file} has no datagrams`);
    assert.equal(checked, file.datagrams.length);
  });
}
