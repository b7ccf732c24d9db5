import { isPowerOfTwo } from '../util/bits.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { closest } from '../util/closest.js';
import {
  type ChannelMedia,
  ChannelUri,
  paramError,
  parseBoolean,
  parseDurationNs,
  parseSize,
  parseSocketAddress,
  type SocketAddress,
} from './channel-uri.js';
import { FRAME_ALIGNMENT, MAX_UDP_PAYLOAD_LENGTH } from './frame-constants.js';

export const TERM_LENGTH_MIN = 64 * 1024;
export const TERM_LENGTH_MAX = 1024 * 1024 * 1024;
/** Largest `max-resend` the C driver accepts. */
export const MAX_RESEND_MAX = 256;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const POSITIVE_INT32 = `must be in 1..${INT32_MAX}`;
const isPositiveInt32 = (n: number): boolean => n >= 1 && n <= INT32_MAX;

export type ControlMode = 'dynamic' | 'manual' | 'response';
/** A payload offset for a timestamp, or `'reserved'` for the DATA header's reservedValue. */
export type TimestampOffset = number | 'reserved';

/** `fc=<strategy>[,g:<tag>[/<minSize>]][,t:<timeout>][,rrwm:<n>]`. */
export interface FlowControlParams {
  readonly strategy: 'max' | 'min' | 'tagged';
  readonly groupTag?: bigint;
  readonly groupMinSize?: number;
  readonly timeoutNs?: number;
  readonly retransmitReceiverWindowMultiple?: number;
}

/** `tags=<channelTag>[,<entityTag>]`. */
export interface ChannelTags {
  readonly channelTag: bigint;
  readonly entityTag?: bigint;
}

/** Keys that apply to publications and subscriptions alike. */
export interface CommonChannelParams {
  readonly media: ChannelMedia;
  readonly endpoint?: SocketAddress;
  readonly control?: SocketAddress;
  readonly controlMode?: ControlMode;
  readonly interface?: string;
  readonly sessionId?: number;
  readonly sparse?: boolean;
  readonly socketSndbufLength?: number;
  readonly socketRcvbufLength?: number;
  readonly mediaReceiveTimestampOffset?: TimestampOffset;
  readonly channelReceiveTimestampOffset?: TimestampOffset;
  readonly channelSendTimestampOffset?: TimestampOffset;
  readonly untetheredWindowLimitTimeoutNs?: number;
  readonly untetheredLingerTimeoutNs?: number;
  readonly untetheredRestingTimeoutNs?: number;
  readonly ats?: boolean;
  readonly alias?: string;
  readonly tags?: ChannelTags;
  readonly streamId?: number;
}

export interface PublicationParams extends CommonChannelParams {
  readonly mtu?: number;
  readonly termLength?: number;
  readonly initialTermId?: number;
  readonly termId?: number;
  readonly termOffset?: number;
  readonly lingerNs?: number;
  readonly eos?: boolean;
  readonly publicationWindowLength?: number;
  readonly spiesSimulateConnection?: boolean;
  readonly maxResend?: number;
  readonly fc?: FlowControlParams;
  readonly ttl?: number;
  /** A registration/correlation id >= -1, or `'prototype'`. */
  readonly responseCorrelationId?: number | 'prototype';
}

export interface SubscriptionParams extends CommonChannelParams {
  /** True for `aeron-spy:` subscriptions. */
  readonly spy: boolean;
  readonly reliable?: boolean;
  readonly tether?: boolean;
  readonly rejoin?: boolean;
  readonly group?: 'true' | 'false' | 'infer';
  readonly groupTag?: bigint;
  readonly congestionControl?: 'static' | 'cubic';
  readonly receiverWindowLength?: number;
  readonly nakDelayNs?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Every channel parameter Aeron defines (PROTOCOL.md §12), for publications and subscriptions
 * alike: a URI may carry keys meant for the other side, as Aeron allows. Any other key is a
 * mistake (`term-lenght=65536` would otherwise silently leave the default in force) and is
 * refused with a "did you mean" hint. docs/configuration.md lists which of these Skein acts on.
 */
export const CHANNEL_PARAM_KEYS: readonly string[] = Object.freeze([
  'endpoint', 'control', 'control-mode', 'interface', 'ttl', 'mtu', 'term-length', 'init-term-id', 'term-id', 'term-offset',
  'session-id', 'linger', 'eos', 'sparse', 'pub-wnd', 'ssc', 'max-resend', 'fc', 'reliable', 'tether', 'rejoin', 'group',
  'gtag', 'cc', 'rcv-wnd', 'nak-delay', 'so-sndbuf', 'so-rcvbuf', 'media-rcv-ts-offset', 'channel-rcv-ts-offset',
  'channel-snd-ts-offset', 'response-correlation-id', 'untethered-window-limit-timeout', 'untethered-linger-timeout',
  'untethered-resting-timeout', 'tags', 'ats', 'alias', 'stream-id',
]);

/** Refuses a key Aeron does not define, naming it and the closest known key. */
function checkKeys(uri: ChannelUri): void {
  for (const [key] of uri.entries()) {
    if (CHANNEL_PARAM_KEYS.includes(key)) continue;
    const hint = closest(key, CHANNEL_PARAM_KEYS);
    throw new SkeinError(
      ErrorCode.URI_INVALID,
      `invalid channel URI: unknown parameter '${key}'${hint === undefined ? '' : ` (did you mean '${hint}'?)`}; known parameters: ${CHANNEL_PARAM_KEYS.join(', ')}`,
      { channel: uri.toString() },
    );
  }
}

/**
 * Validates the publication keys of PROTOCOL.md §12 and returns them typed and frozen. Keys Aeron
 * does not define are refused; subscription-only keys are kept in the URI and ignored. Values that depend on the driver's
 * defaults (a pub-wnd against the default MTU, a term-offset against the default term length) are
 * checked here only against what the URI itself says; the driver checks them again.
 */
export function parsePublicationParams(uri: ChannelUri): PublicationParams {
  if (uri.isSpy) {
    throw new SkeinError(ErrorCode.URI_INVALID, `invalid channel URI: 'aeron-spy:' is for subscriptions only`, {
      channel: uri.toString(),
    });
  }
  checkKeys(uri);
  const r = new ParamReader(uri);
  const p: Mutable<PublicationParams> = readCommon(r);
  p.mtu = r.read('mtu', (v) =>
    r.size('mtu', v, `must be > 32, <= ${MAX_UDP_PAYLOAD_LENGTH} and a multiple of ${FRAME_ALIGNMENT}`, (n) =>
      n > FRAME_ALIGNMENT && n <= MAX_UDP_PAYLOAD_LENGTH && n % FRAME_ALIGNMENT === 0,
    ),
  );
  p.termLength = r.read('term-length', (v) =>
    r.size('term-length', v, 'must be a power of two in 64k..1g', (n) => n >= TERM_LENGTH_MIN && n <= TERM_LENGTH_MAX && isPowerOfTwo(n)),
  );
  readStartPosition(r, p);
  p.lingerNs = r.read('linger', (v) => parseDurationNs(v, 'linger', uri));
  p.eos = r.bool('eos');
  p.publicationWindowLength = r.read('pub-wnd', (v) => {
    const lengthMin = p.mtu ?? FRAME_ALIGNMENT;
    const lengthMax = (p.termLength ?? TERM_LENGTH_MAX) / 2;
    const rule = `must be >= ${p.mtu === undefined ? lengthMin : `mtu (${lengthMin})`} and <= term-length/2 (${lengthMax})`;
    return r.size('pub-wnd', v, rule, (n) => n >= lengthMin && n <= lengthMax);
  });
  p.spiesSimulateConnection = r.bool('ssc');
  p.maxResend = r.read('max-resend', (v) => r.integer('max-resend', v, 1, MAX_RESEND_MAX));
  p.fc = r.read('fc', (v) => parseFlowControl(r, v));
  p.ttl = r.read('ttl', (v) => r.integer('ttl', v, 0, 255));
  p.responseCorrelationId = r.read('response-correlation-id', (v) =>
    v === 'prototype' ? v : r.integer('response-correlation-id', v, -1, Number.MAX_SAFE_INTEGER, "or 'prototype'"),
  );
  if (p.controlMode === 'response' && p.responseCorrelationId === undefined) {
    r.fail('control-mode', 'response', 'a publication with control-mode=response needs response-correlation-id');
  }
  return finish(p);
}

/** Validates the subscription keys of PROTOCOL.md §12 and returns them typed and frozen. */
export function parseSubscriptionParams(uri: ChannelUri): SubscriptionParams {
  checkKeys(uri);
  const r = new ParamReader(uri);
  const p: Mutable<SubscriptionParams> = { ...readCommon(r), spy: uri.isSpy };
  p.reliable = r.bool('reliable');
  p.tether = r.bool('tether');
  p.rejoin = r.bool('rejoin');
  p.group = r.read('group', (v) => r.oneOf('group', v, ['true', 'false', 'infer'] as const));
  p.groupTag = r.read('gtag', (v) => r.int64('gtag', v));
  p.congestionControl = r.read('cc', (v) => r.oneOf('cc', v, ['static', 'cubic'] as const));
  p.receiverWindowLength = r.read('rcv-wnd', (v) => r.size('rcv-wnd', v, POSITIVE_INT32, isPositiveInt32));
  p.nakDelayNs = r.read('nak-delay', (v) => parseDurationNs(v, 'nak-delay', uri));
  return finish(p);
}

function readCommon(r: ParamReader): Mutable<CommonChannelParams> {
  const uri = r.uri;
  const p: Mutable<CommonChannelParams> = { media: uri.media };
  if (uri.media === 'udp') {
    p.endpoint = r.read('endpoint', (v) => checkMulticastEndpoint(r, v, parseSocketAddress(v, 'endpoint', uri)));
    p.control = r.read('control', (v) => parseSocketAddress(v, 'control', uri));
    p.interface = r.read('interface', (v) => v);
  }
  p.controlMode = r.read('control-mode', (v) => r.oneOf('control-mode', v, ['dynamic', 'manual', 'response'] as const));
  p.sessionId = r.read('session-id', (v) =>
    v.startsWith('tag:') ? r.fail('session-id', v, "session-id=tag:<entityTag> is not supported yet; use an int32") : r.int32('session-id', v),
  );
  p.sparse = r.bool('sparse');
  p.socketSndbufLength = r.read('so-sndbuf', (v) => r.size('so-sndbuf', v, POSITIVE_INT32, isPositiveInt32));
  p.socketRcvbufLength = r.read('so-rcvbuf', (v) => r.size('so-rcvbuf', v, POSITIVE_INT32, isPositiveInt32));
  p.mediaReceiveTimestampOffset = r.read('media-rcv-ts-offset', (v) => r.timestampOffset('media-rcv-ts-offset', v));
  p.channelReceiveTimestampOffset = r.read('channel-rcv-ts-offset', (v) => r.timestampOffset('channel-rcv-ts-offset', v));
  p.channelSendTimestampOffset = r.read('channel-snd-ts-offset', (v) => r.timestampOffset('channel-snd-ts-offset', v));
  for (const [key, field] of UNTETHERED_KEYS) p[field] = r.read(key, (v) => parseDurationNs(v, key, uri));
  p.ats = r.bool('ats');
  p.alias = r.read('alias', (v) => v);
  p.tags = r.read('tags', (v) => parseTags(r, v));
  p.streamId = r.read('stream-id', (v) => r.int32('stream-id', v));
  checkUdpAddressing(r, p);
  return p;
}

const UNTETHERED_KEYS = [
  ['untethered-window-limit-timeout', 'untetheredWindowLimitTimeoutNs'],
  ['untethered-linger-timeout', 'untetheredLingerTimeoutNs'],
  ['untethered-resting-timeout', 'untetheredRestingTimeoutNs'],
] as const;

function checkUdpAddressing(r: ParamReader, p: CommonChannelParams): void {
  if (p.media !== 'udp') return;
  if (p.controlMode === 'dynamic' && p.control === undefined) {
    r.fail('control-mode', 'dynamic', 'control-mode=dynamic needs a control address (control=host:port)');
  }
  const addressed = p.endpoint !== undefined || p.control !== undefined || p.tags !== undefined;
  if (!addressed && p.controlMode !== 'manual' && p.controlMode !== 'response') {
    throw new SkeinError(
      ErrorCode.URI_INVALID,
      `invalid channel URI: a UDP channel needs at least one of endpoint, control, tags or control-mode=manual|response`,
      { channel: r.text },
    );
  }
}

function checkMulticastEndpoint(r: ParamReader, value: string, address: SocketAddress): SocketAddress {
  if (address.family === 4) {
    const octets = address.host.split('.').map(Number);
    const multicast = octets[0]! >= 224 && octets[0]! <= 239;
    if (multicast && octets[3]! % 2 === 0) {
      r.fail('endpoint', value, 'a multicast data address must have an odd last octet (the control group is the next address)');
    }
  }
  return address;
}

/** init-term-id, term-id and term-offset come as a set (PROTOCOL.md §12). */
function readStartPosition(r: ParamReader, p: Mutable<PublicationParams>): void {
  const keys = ['init-term-id', 'term-id', 'term-offset'] as const;
  const present = keys.filter((key) => r.uri.has(key));
  if (present.length === 0) return;
  if (present.length < 3) {
    const key = present[0]!;
    const missing = keys.filter((k) => !r.uri.has(k)).join(', ');
    r.fail(key, r.uri.get(key)!, `init-term-id, term-id and term-offset must be used together (missing: ${missing})`);
  }
  const initialTermId = r.int32('init-term-id', r.uri.get('init-term-id')!);
  const termId = r.int32('term-id', r.uri.get('term-id')!);
  const termLength = p.termLength ?? TERM_LENGTH_MAX;
  const termOffsetText = r.uri.get('term-offset')!;
  const termOffset = r.integer('term-offset', termOffsetText, 0, termLength);
  if (termOffset % FRAME_ALIGNMENT !== 0) r.fail('term-offset', termOffsetText, `must be a multiple of ${FRAME_ALIGNMENT}`);
  if (((termId - initialTermId) | 0) < 0) {
    r.fail('term-id', String(termId), `term-id - init-term-id (${initialTermId}) must be >= 0 as a wrapping int32 difference`);
  }
  p.initialTermId = initialTermId;
  p.termId = termId;
  p.termOffset = termOffset;
}

function parseFlowControl(r: ParamReader, value: string): FlowControlParams {
  const [strategy, ...options] = value.split(',');
  const fc: Mutable<FlowControlParams> = { strategy: r.oneOf('fc', strategy!, ['max', 'min', 'tagged'] as const) };
  for (const option of options) {
    // Sub-parsers report the option text; rethrow naming the whole fc value and the accepted forms.
    try {
      readFlowControlOption(r, option, fc);
    } catch (error) {
      if (!(error instanceof SkeinError)) throw error;
      r.fail('fc', value, `option '${option}' is not one of g:<int64 tag>[/<minSize>], g:/<minSize>, t:<duration>, rrwm:<n>`);
    }
  }
  return Object.freeze(fc);
}

function readFlowControlOption(r: ParamReader, option: string, fc: Mutable<FlowControlParams>): void {
  const group = /^g:(-?\d+)?(?:\/(\d+))?$/.exec(option);
  if (group !== null && (group[1] !== undefined || group[2] !== undefined)) {
    if (group[1] !== undefined) fc.groupTag = r.int64('fc', group[1]);
    if (group[2] !== undefined) fc.groupMinSize = r.integer('fc', group[2], 0, INT32_MAX);
  } else if (option.startsWith('t:')) {
    fc.timeoutNs = parseDurationNs(option.slice(2), 'fc', r.uri);
  } else if (option.startsWith('rrwm:')) {
    fc.retransmitReceiverWindowMultiple = r.integer('fc', option.slice(5), 0, INT32_MAX);
  } else {
    r.fail('fc', option, 'unknown option');
  }
}

function parseTags(r: ParamReader, value: string): ChannelTags {
  const parts = value.split(',');
  if (parts.length > 2) r.fail('tags', value, 'expected <channelTag>[,<entityTag>]');
  const channelTag = r.int64('tags', parts[0]!);
  return Object.freeze(parts.length === 2 ? { channelTag, entityTag: r.int64('tags', parts[1]!) } : { channelTag });
}

function finish<T extends object>(params: T): Readonly<T> {
  for (const key of Object.keys(params) as (keyof T)[]) {
    if (params[key] === undefined) delete params[key];
  }
  return Object.freeze(params);
}

/** Reads and checks single values, throwing URI_PARAM_INVALID errors that name key, value, rule and channel. */
class ParamReader {
  readonly text: string;

  constructor(readonly uri: ChannelUri) {
    this.text = uri.toString();
  }

  read<T>(key: string, parse: (value: string) => T): T | undefined {
    const value = this.uri.get(key);
    return value === undefined ? undefined : parse(value);
  }

  fail(key: string, value: string, allowed: string): never {
    throw paramError(key, value, allowed, this.text);
  }

  bool(key: string): boolean | undefined {
    return this.read(key, (v) => parseBoolean(v, key, this.text));
  }

  oneOf<const T extends readonly string[]>(key: string, value: string, allowed: T): T[number] {
    return allowed.includes(value) ? value : this.fail(key, value, `expected one of ${allowed.join(', ')}`);
  }

  /** A decimal integer in [min, max]. */
  integer(key: string, value: string, min: number, max: number, also = ''): number {
    const n = /^[+-]?\d+$/.test(value) ? Number(value) : NaN;
    return n >= min && n <= max ? n : this.fail(key, value, `expected an integer in ${min}..${max}${also ? ' ' + also : ''}`);
  }

  int32(key: string, value: string): number {
    return this.integer(key, value, -0x80000000, INT32_MAX);
  }

  int64(key: string, value: string): bigint {
    const n = /^[+-]?\d+$/.test(value) ? BigInt(value) : undefined;
    return n !== undefined && n >= INT64_MIN && n <= INT64_MAX ? n : this.fail(key, value, `expected an int64 (${INT64_MIN}..${INT64_MAX})`);
  }

  /** A size with optional k/m/g suffix for which `valid` holds; `rule` says what is allowed. */
  size(key: string, value: string, rule: string, valid: (size: number) => boolean): number {
    const n = parseSize(value, key, this.text);
    return valid(n) ? n : this.fail(key, value, rule);
  }

  timestampOffset(key: string, value: string): TimestampOffset {
    return value === 'reserved' ? value : this.integer(key, value, 0, INT32_MAX, "or 'reserved'");
  }
}
