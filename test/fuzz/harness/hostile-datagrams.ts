/**
 * fast-check generators of what an attacker sends to a driver: structured frames of every type
 * with field values near the limits the receive path checks, mutations of the captured vectors
 * and of generated frames, raw bytes, frames aimed at the healthy stream that must be rejected
 * whole ("poison"), NAKs near the healthy stream's position and quiet periods that let timers run.
 *
 * Items that depend on the live state of the healthy stream (poison, NAKs) are generated as
 * relative descriptions and turned into bytes when sent ({@link materialize}).
 */
import fc from 'fast-check';
import {
  DATA_HEADER_LENGTH,
  FrameFlags,
  FrameType,
  MAX_UDP_PAYLOAD_LENGTH,
} from '../../../src/protocol/frame-constants.js';
import { DataHeaderFlyweight } from '../../../src/protocol/data-header-flyweight.js';
import { ErrorFlyweight } from '../../../src/protocol/error-flyweight.js';
import { ResponseSetupFlyweight } from '../../../src/protocol/response-setup-flyweight.js';
import { validateDatagram } from '../../../src/protocol/frame-validator.js';
import { applyMutations, EDGE_INT32, mutationsArb } from './mutations.js';
import { nakDatagram, rttmDatagram, setupDatagram, statusMessageDatagram, writeDataFrame } from './frames.js';

export type Destination = 'receiver' | 'sender';

/** Ways a datagram for the healthy session can be malformed so that no byte of it may take effect. */
export const POISON_SHAPES = [
  'trailing-empty-frame',
  'second-frame-other-session',
  'second-frame-other-stream',
  'second-frame-wrong-offset',
  'second-frame-control-type',
  'second-frame-bad-version',
  'second-frame-other-term',
  'data-cut-short',
  'pad-not-last',
  'misaligned-offset',
  'term-before-initial',
  'frame-length-below-header',
  'crosses-term-end',
  'sm-misaligned-offset',
  'sm-window-too-large',
  'sm-negative-window',
  'sm-offset-beyond-term',
] as const;

export type PoisonShape = (typeof POISON_SHAPES)[number];

export type HostileItem =
  | { readonly kind: 'datagram'; readonly to: Destination; readonly source: string; readonly bytes: Uint8Array }
  | { readonly kind: 'poison'; readonly shape: PoisonShape; readonly deltaSlots: number; readonly payloadSeed: number }
  | { readonly kind: 'nak'; readonly backSlots: number; readonly length: number }
  | { readonly kind: 'quiet'; readonly steps: number };

export interface HostileContext {
  /** The stream the subscription has interest in. */
  readonly streamId: number;
  /** Sessions the generated frames mostly use, so that they reach images the attacker set up. */
  readonly sessionPool: readonly number[];
  /** Initial term id of the attacker's SETUPs. */
  readonly initialTermId: number;
  /** Captured datagrams to mutate. */
  readonly vectors: readonly Uint8Array[];
  /** Longest quiet period in steps. */
  readonly quietStepsMax: number;
}

/** What {@link materialize} needs to know about the healthy stream at the time of sending. */
export interface HealthyState {
  readonly sessionId: number;
  readonly streamId: number;
  readonly initialTermId: number;
  readonly termLength: number;
  /** The publisher's current position: poison aims at the bytes that follow it. */
  readonly position: number;
}

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const edge = fc.constantFrom(...EDGE_INT32);
const edgeOrAny = fc.oneof({ weight: 3, arbitrary: edge }, { weight: 1, arbitrary: int32 });
const align32 = (n: number): number => Math.ceil(n / 32) * 32;

function mostly<T>(usual: fc.Arbitrary<T>, other: fc.Arbitrary<T>, weight = 8): fc.Arbitrary<T> {
  return fc.oneof({ weight, arbitrary: usual }, { weight: 1, arbitrary: other });
}

function dataArb(ctx: HostileContext, session: fc.Arbitrary<number>): fc.Arbitrary<Uint8Array> {
  const frame = fc.record({
    payloadLength: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 1408 }), fc.constantFrom(0, 1, 31, 32, 1376)),
    flags: mostly(fc.constantFrom(FrameFlags.UNFRAGMENTED, FrameFlags.BEGIN, FrameFlags.END, 0), fc.integer({ min: 0, max: 255 }), 6),
    pad: fc.boolean(),
  });
  return fc
    .record({
      sessionId: session,
      streamId: mostly(fc.constant(ctx.streamId), int32),
      termId: mostly(fc.integer({ min: ctx.initialTermId - 1, max: ctx.initialTermId + 3 }), edgeOrAny, 6),
      termOffset: mostly(fc.nat({ max: 4095 }).map((n) => n * 32), edgeOrAny, 6),
      frames: fc.array(frame, { minLength: 1, maxLength: 4 }),
      trailing: fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }), { freq: 8 }),
    })
    .map((r) => {
      const bytes = new Uint8Array(MAX_UDP_PAYLOAD_LENGTH);
      let at = 0;
      let termOffset = r.termOffset;
      for (const f of r.frames) {
        if (at + DATA_HEADER_LENGTH > bytes.length) break;
        if (f.pad) {
          const padded = align32(Math.max(DATA_HEADER_LENGTH, f.payloadLength * 8));
          writeDataFrame(bytes, at, { frameLength: padded, flags: FrameFlags.UNFRAGMENTED, type: FrameType.PAD, termOffset, sessionId: r.sessionId, streamId: r.streamId, termId: r.termId });
          at += DATA_HEADER_LENGTH;
          break;
        }
        const frameLength = DATA_HEADER_LENGTH + f.payloadLength;
        if (at + align32(frameLength) > bytes.length) break;
        at = writeDataFrame(bytes, at, { frameLength, flags: f.flags, termOffset, sessionId: r.sessionId, streamId: r.streamId, termId: r.termId, payloadSeed: at });
        termOffset = (termOffset + align32(frameLength)) | 0;
      }
      const out = new Uint8Array(Math.min(bytes.length, at + (r.trailing?.length ?? 0)));
      out.set(bytes.subarray(0, at));
      if (r.trailing !== null) out.set(r.trailing.subarray(0, out.length - at), at);
      return out;
    });
}

function heartbeatArb(ctx: HostileContext, session: fc.Arbitrary<number>): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      sessionId: session,
      termId: mostly(fc.integer({ min: ctx.initialTermId - 1, max: ctx.initialTermId + 4 }), edgeOrAny),
      termOffset: mostly(fc.nat({ max: 4095 }).map((n) => n * 32), edgeOrAny),
      flags: fc.constantFrom(FrameFlags.UNFRAGMENTED, FrameFlags.UNFRAGMENTED | FrameFlags.EOS, 0xf0, 0),
    })
    .map((r) => {
      const bytes = new Uint8Array(DATA_HEADER_LENGTH);
      new DataHeaderFlyweight().wrap(bytes).writeHeartbeat(r.flags, r.termOffset, r.sessionId, ctx.streamId, r.termId);
      return bytes;
    });
}

function setupArb(ctx: HostileContext, session: fc.Arbitrary<number>): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      sessionId: session,
      streamId: mostly(fc.constant(ctx.streamId), int32),
      flags: fc.constantFrom(0, FrameFlags.SETUP_GROUP, FrameFlags.SETUP_SEND_RESPONSE_SETUP, 0xff),
      initialTermId: mostly(fc.constant(ctx.initialTermId), edgeOrAny),
      termAdvance: mostly(fc.integer({ min: 0, max: 3 }), edgeOrAny),
      termOffset: mostly(fc.nat({ max: 2047 }).map((n) => n * 32), edgeOrAny),
      termLength: mostly(fc.oneof({ weight: 6, arbitrary: fc.constant(65536) }, fc.constantFrom(131072, 1 << 20)), edgeOrAny, 12),
      mtu: mostly(fc.constantFrom(1408, 4096, 8192, 65504), edgeOrAny),
      ttl: fc.integer({ min: 0, max: 255 }),
    })
    .map((r) => setupDatagram({ ...r, activeTermId: (r.initialTermId + r.termAdvance) | 0 }));
}

function controlArb(ctx: HostileContext, session: fc.Arbitrary<number>): fc.Arbitrary<Uint8Array> {
  const stream = mostly(fc.constant(ctx.streamId), int32);
  const sm = fc
    .record({
      flags: fc.constantFrom(0, FrameFlags.SM_SEND_SETUP, FrameFlags.SM_EOS, 0xff),
      sessionId: session,
      streamId: stream,
      consumptionTermId: mostly(fc.integer({ min: ctx.initialTermId - 1, max: ctx.initialTermId + 4 }), edgeOrAny),
      consumptionTermOffset: edgeOrAny,
      receiverWindow: edgeOrAny,
      receiverId: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    })
    .map((f) => statusMessageDatagram(f));
  const nak = fc.tuple(session, stream, edgeOrAny, edgeOrAny, edgeOrAny).map(([s, st, t, o, l]) => nakDatagram(s, st, t, o, l));
  const rttm = fc.tuple(fc.constantFrom(0, FrameFlags.RTTM_REPLY), session, stream, fc.bigInt({ min: 0n, max: 2n ** 62n }), fc.constantFrom(0n, 1n, -1n))
    .map(([flags, s, st, ts, rid]) => rttmDatagram(flags, s, st, ts, rid));
  const err = fc.tuple(session, stream, int32, fc.string({ maxLength: 80 })).map(([s, st, code, text]) => {
    const bytes = new Uint8Array(40 + 1023);
    const length = new ErrorFlyweight().wrap(bytes).write({ flags: 0, sessionId: s, streamId: st, receiverId: 1n, groupTag: -1n, errorCode: code, errorMessage: text });
    return bytes.slice(0, length);
  });
  const rsp = fc.tuple(session, stream, int32).map(([s, st, r]) => {
    const bytes = new Uint8Array(20);
    new ResponseSetupFlyweight().wrap(bytes).writeResponseSetup(s, st, r);
    return bytes;
  });
  return fc.oneof({ weight: 3, arbitrary: sm }, { weight: 3, arbitrary: nak }, rttm, err, rsp);
}

function typeOf(bytes: Uint8Array): number {
  return bytes.length >= 8 ? bytes[6]! | (bytes[7]! << 8) : -1;
}

/** Where a datagram of this type would normally go. */
function naturalDestination(bytes: Uint8Array): Destination {
  const type = typeOf(bytes);
  return type === FrameType.DATA || type === FrameType.PAD || type === FrameType.SETUP || type === FrameType.RTTM ? 'receiver' : 'sender';
}

/** Sets the stream id field of any frame type to `streamId` (DATA/PAD/SETUP at 16, control frames at 12). */
function retarget(bytes: Uint8Array, streamId: number): Uint8Array {
  const type = typeOf(bytes);
  const at = type === FrameType.DATA || type === FrameType.PAD || type === FrameType.SETUP ? 16 : 12;
  if (bytes.length >= at + 4) new DataView(bytes.buffer, bytes.byteOffset).setInt32(at, streamId, true);
  return bytes;
}

/** Every kind of hostile item, weighted. */
export function hostileItemArb(ctx: HostileContext): fc.Arbitrary<HostileItem> {
  const session = mostly(fc.constantFrom(...ctx.sessionPool), int32, 9);
  const datagram = (source: string, bytes: fc.Arbitrary<Uint8Array>, to?: Destination): fc.Arbitrary<HostileItem> =>
    fc.tuple(bytes, fc.nat({ max: 9 })).map(([b, flip]) => ({
      kind: 'datagram' as const,
      source,
      bytes: b,
      to: to ?? (flip === 0 ? (naturalDestination(b) === 'receiver' ? 'sender' : 'receiver') : naturalDestination(b)),
    }));
  const structured = fc.oneof(dataArb(ctx, session), setupArb(ctx, session), heartbeatArb(ctx, session), controlArb(ctx, session));
  const vector = fc
    .tuple(fc.constantFrom(...ctx.vectors), mutationsArb(), fc.boolean())
    .map(([v, m, aim]) => applyMutations(aim ? retarget(v.slice(), ctx.streamId) : v, m, ctx.vectors));
  const mutated = fc.tuple(structured, mutationsArb(3)).map(([b, m]) => applyMutations(b, m, ctx.vectors));
  return fc.oneof(
    { weight: 8, arbitrary: datagram('data', dataArb(ctx, session)) },
    { weight: 3, arbitrary: datagram('setup', setupArb(ctx, session)) },
    { weight: 2, arbitrary: datagram('heartbeat', heartbeatArb(ctx, session)) },
    { weight: 4, arbitrary: datagram('control', controlArb(ctx, session)) },
    { weight: 8, arbitrary: datagram('vector', vector) },
    { weight: 4, arbitrary: datagram('mutated', mutated) },
    { weight: 1, arbitrary: datagram('random', fc.uint8Array({ maxLength: 256 })) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('poison' as const),
        shape: fc.constantFrom(...POISON_SHAPES),
        deltaSlots: fc.nat({ max: 511 }),
        payloadSeed: fc.nat({ max: 255 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('nak' as const), backSlots: fc.nat({ max: 4096 }), length: fc.oneof(edge, fc.nat({ max: 65536 })) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('quiet' as const), steps: fc.integer({ min: 1, max: ctx.quietStepsMax }) }) },
  );
}

/**
 * The bytes and destination of an item, given the healthy stream's state; null for a quiet item.
 * A datagram that the gate would pass and that names the healthy session in a frame type that
 * could legitimately change its state (DATA, PAD, SETUP, SM, ERR, RSP_SETUP) gets another session
 * id: the protocol has no authentication, so well-formed spoofed frames are out of scope. Poison
 * items are the exception: they name the healthy session on purpose, and must be dropped whole.
 */
export function materialize(item: HostileItem, healthy: HealthyState): { bytes: Uint8Array; to: Destination } | null {
  switch (item.kind) {
    case 'quiet':
      return null;
    case 'datagram':
      return { bytes: shieldHealthy(item.bytes, healthy), to: item.to };
    case 'poison':
      return poison(item, healthy);
    case 'nak': {
      const position = Math.max(0, healthy.position - item.backSlots * 32);
      const { termId, termOffset } = termOf(position, healthy);
      return { bytes: nakDatagram(healthy.sessionId, healthy.streamId, termId, termOffset, item.length), to: 'sender' };
    }
  }
}

const PROTECTED_TYPES = new Set<number>([FrameType.DATA, FrameType.PAD, FrameType.SETUP, FrameType.SM, FrameType.ERR, FrameType.RSP_SETUP]);

function shieldHealthy(bytes: Uint8Array, healthy: HealthyState): Uint8Array {
  const type = validateDatagram(bytes, 0, bytes.length);
  if (type < 0 || !PROTECTED_TYPES.has(type)) return bytes;
  const data = type === FrameType.DATA || type === FrameType.PAD || type === FrameType.SETUP;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const sessionAt = data ? 12 : 8;
  const streamAt = data ? 16 : 12;
  if (view.getInt32(sessionAt, true) === healthy.sessionId && view.getInt32(streamAt, true) === healthy.streamId) {
    view.setInt32(sessionAt, healthy.sessionId ^ 0x5a5a5a5a, true);
  }
  return bytes;
}

function termOf(position: number, healthy: HealthyState): { termId: number; termOffset: number } {
  const termCount = Math.floor(position / healthy.termLength);
  return { termId: (healthy.initialTermId + termCount) | 0, termOffset: position - termCount * healthy.termLength };
}

function poison(item: Extract<HostileItem, { kind: 'poison' }>, h: HealthyState): { bytes: Uint8Array; to: Destination } {
  const { termId, termOffset } = termOf(h.position + item.deltaSlots * 32, h);
  const ids = { sessionId: h.sessionId, streamId: h.streamId, termId, payloadSeed: item.payloadSeed };
  const first = { ...ids, frameLength: 64, termOffset, flags: FrameFlags.UNFRAGMENTED };
  const two = (second: Partial<Parameters<typeof writeDataFrame>[2]>, patch?: (b: Uint8Array) => void): Uint8Array => {
    const bytes = new Uint8Array(128);
    writeDataFrame(bytes, 0, first);
    writeDataFrame(bytes, 64, { ...first, termOffset: termOffset + 64, ...second });
    patch?.(bytes);
    return bytes;
  };
  const one = (fields: Partial<Parameters<typeof writeDataFrame>[2]>, length: number): Uint8Array => {
    const bytes = new Uint8Array(length);
    writeDataFrame(bytes, 0, { ...first, ...fields });
    return bytes;
  };
  const sm = (consumptionTermOffset: number, receiverWindow: number): { bytes: Uint8Array; to: Destination } => ({
    bytes: statusMessageDatagram({ sessionId: h.sessionId, streamId: h.streamId, consumptionTermId: termId, consumptionTermOffset, receiverWindow }),
    to: 'sender',
  });
  const receiver = (bytes: Uint8Array): { bytes: Uint8Array; to: Destination } => ({ bytes, to: 'receiver' });
  switch (item.shape) {
    case 'trailing-empty-frame':
      return receiver(one({}, 96));
    case 'second-frame-other-session':
      return receiver(two({ sessionId: h.sessionId ^ 1 }));
    case 'second-frame-other-stream':
      return receiver(two({ streamId: h.streamId ^ 1 }));
    case 'second-frame-wrong-offset':
      return receiver(two({ termOffset: termOffset + 96 }));
    case 'second-frame-control-type':
      return receiver(two({}, (b) => void (b[64 + 6] = FrameType.SM)));
    case 'second-frame-bad-version':
      return receiver(two({}, (b) => void (b[64 + 4] = 1)));
    case 'second-frame-other-term':
      return receiver(two({ termId: (termId + 1) | 0 }));
    case 'data-cut-short':
      return receiver(one({ frameLength: 200 }, 96));
    case 'pad-not-last':
      return receiver(
        (() => {
          const bytes = new Uint8Array(128);
          writeDataFrame(bytes, 0, { ...first, frameLength: 64, type: FrameType.PAD });
          writeDataFrame(bytes, 32, { ...first, termOffset: termOffset + 64 });
          return bytes;
        })(),
      );
    case 'misaligned-offset':
      return receiver(one({ termOffset: termOffset + 16 }, 64));
    case 'term-before-initial':
      return receiver(one({ termId: (h.initialTermId - 1 - item.deltaSlots) | 0 }, 64));
    case 'frame-length-below-header':
      return receiver(one({ frameLength: 1 + (item.payloadSeed % 31) }, 64));
    case 'crosses-term-end':
      return receiver(one({ termOffset: h.termLength - 32, frameLength: 64 }, 64));
    case 'sm-misaligned-offset':
      return sm(termOffset + 8, 4096);
    case 'sm-window-too-large':
      return sm(termOffset, h.termLength / 2 + 32);
    case 'sm-negative-window':
      return sm(termOffset, -1);
    case 'sm-offset-beyond-term':
      return sm(h.termLength, 4096);
  }
}
