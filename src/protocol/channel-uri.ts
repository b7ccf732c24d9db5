import { isIPv4, isIPv6 } from 'node:net';
import { ErrorCode, SkeinError } from '../util/errors.js';

export const SPY_PREFIX = 'aeron-spy:';
const SCHEME = 'aeron:';
/** Longest channel URI accepted, in characters. */
export const CHANNEL_URI_LENGTH_MAX = 4095;

export type ChannelMedia = 'udp' | 'ipc';

/**
 * A parsed channel URI (PROTOCOL.md §12):
 *
 * ```
 * uri    = [ "aeron-spy:" ] "aeron:" media
 * media  = "udp?" params | "ipc" [ "?" params ]
 * params = key "=" value *( "|" key "=" value )
 * ```
 *
 * Keys are non-empty without '=' or '|'; values are non-empty without '|' (they may contain '=');
 * a key may appear once. Parameter order is kept, so {@link toString} re-encodes canonically.
 * Instances are immutable; {@link withParam} returns a new one.
 */
export class ChannelUri {
  private constructor(
    /** `'aeron-spy:'` or `''`. */
    readonly prefix: string,
    readonly media: ChannelMedia,
    private readonly params: ReadonlyMap<string, string>,
  ) {}

  static parse(uri: string): ChannelUri {
    if (uri.length > CHANNEL_URI_LENGTH_MAX) {
      throw uriError(uri.slice(0, 64) + '…', `length ${uri.length} exceeds the maximum of ${CHANNEL_URI_LENGTH_MAX} characters`);
    }
    const prefix = uri.startsWith(SPY_PREFIX) ? SPY_PREFIX : '';
    const rest = uri.slice(prefix.length);
    if (!rest.startsWith(SCHEME)) {
      throw uriError(uri, `must start with '${SCHEME}' or '${SPY_PREFIX}${SCHEME}'`);
    }
    const body = rest.slice(SCHEME.length);
    const query = body.indexOf('?');
    const media = query < 0 ? body : body.slice(0, query);
    if (media !== 'udp' && media !== 'ipc') {
      throw uriError(uri, `media '${media}' is not supported, expected 'udp' or 'ipc'`);
    }
    if (media === 'udp' && query < 0) {
      throw uriError(uri, `'aeron:udp' needs parameters, e.g. 'aeron:udp?endpoint=127.0.0.1:40456'`);
    }
    const params = query < 0 ? new Map<string, string>() : parseParams(uri, body.slice(query + 1));
    return new ChannelUri(prefix, media, params);
  }

  /** True for `aeron-spy:` URIs. */
  get isSpy(): boolean {
    return this.prefix === SPY_PREFIX;
  }

  get(key: string): string | undefined {
    return this.params.get(key);
  }

  has(key: string): boolean {
    return this.params.has(key);
  }

  /** Parameters in URI order. */
  entries(): IterableIterator<[string, string]> {
    return this.params.entries();
  }

  /** A copy with `key` set to `value` (replaced in place, or appended). */
  withParam(key: string, value: string): ChannelUri {
    const candidate = `${key}=${value}`;
    checkParam(this.toString(), candidate, key, value);
    const params = new Map(this.params);
    params.set(key, value);
    const uri = new ChannelUri(this.prefix, this.media, params);
    const text = uri.toString();
    if (text.length > CHANNEL_URI_LENGTH_MAX) {
      throw uriError(text.slice(0, 64) + '…', `length ${text.length} exceeds the maximum of ${CHANNEL_URI_LENGTH_MAX} characters`);
    }
    return uri;
  }

  /** A copy without `key` (the same URI when it has none). */
  withoutParam(key: string): ChannelUri {
    if (!this.params.has(key)) return this;
    const params = new Map(this.params);
    params.delete(key);
    return new ChannelUri(this.prefix, this.media, params);
  }

  toString(): string {
    let text = `${this.prefix}${SCHEME}${this.media}`;
    let separator = '?';
    for (const [key, value] of this.params) {
      text += `${separator}${key}=${value}`;
      separator = '|';
    }
    return text;
  }
}

function parseParams(uri: string, query: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const param of query.split('|')) {
    const equals = param.indexOf('=');
    const key = equals < 0 ? param : param.slice(0, equals);
    const value = equals < 0 ? '' : param.slice(equals + 1);
    checkParam(uri, param, key, value);
    if (params.has(key)) {
      throw uriError(uri, `parameter '${key}' appears more than once`);
    }
    params.set(key, value);
  }
  return params;
}

function checkParam(uri: string, param: string, key: string, value: string): void {
  if (param.length === 0) throw uriError(uri, `empty parameter (stray '|' or '?')`);
  if (key.length === 0) throw uriError(uri, `parameter '${param}' has an empty key`);
  if (/[=|]/.test(key)) throw uriError(uri, `parameter key '${key}' must not contain '=' or '|'`);
  if (param.indexOf('=') < 0) throw uriError(uri, `parameter '${key}' has no '=value'`);
  if (value.length === 0) throw uriError(uri, `parameter '${key}' has an empty value`);
  if (value.includes('|')) throw uriError(uri, `value '${value}' of parameter '${key}' must not contain '|'`);
}

function uriError(uri: string, what: string): SkeinError {
  return new SkeinError(ErrorCode.URI_INVALID, `invalid channel URI: ${what}`, { channel: uri });
}

/** A URI parameter error naming the parameter, the value, what is allowed and the channel. */
export function paramError(paramName: string, value: string, allowed: string, uri: string | ChannelUri): SkeinError {
  const channel = String(uri);
  return new SkeinError(ErrorCode.URI_PARAM_INVALID, `invalid ${paramName}=${value}: ${allowed}`, { channel });
}

export interface SocketAddress {
  host: string;
  port: number;
  family: 4 | 6;
}

/**
 * Parses `a.b.c.d:port`, `[v6]:port` or `localhost:port` (→ 127.0.0.1). Port 0..65535. Other host
 * names are rejected: name resolution is not supported yet.
 */
export function parseSocketAddress(value: string, paramName: string, uri: string | ChannelUri): SocketAddress {
  const fail = (allowed: string): SkeinError => paramError(paramName, value, allowed, uri);
  const colon = value.lastIndexOf(':');
  if (colon < 0) throw fail('expected host:port, e.g. 127.0.0.1:40456 or [::1]:40456');
  const hostText = value.slice(0, colon);
  const portText = value.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw fail(`port '${portText}' must be an integer in 0..65535`);
  }
  const port = Number(portText);
  if (hostText.startsWith('[') && hostText.endsWith(']')) {
    const host = hostText.slice(1, -1);
    if (!isIPv6(host)) throw fail(`'${host}' is not an IPv6 address`);
    return { host, port, family: 6 };
  }
  if (hostText === 'localhost') return { host: '127.0.0.1', port, family: 4 };
  if (isIPv4(hostText)) return { host: hostText, port, family: 4 };
  if (isIPv6(hostText)) throw fail(`IPv6 addresses must be in brackets, e.g. [${hostText}]:${portText}`);
  throw fail(`host '${hostText}' must be an IPv4 address, [IPv6] address or localhost (name resolution is not supported yet)`);
}

const SIZE_MULTIPLIERS: Record<string, number> = { '': 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };

export const SIZE_ALLOWED = 'expected a size in bytes (non-negative integer, optional suffix k, m or g, below 2^53)';
export const DURATION_ALLOWED = 'expected a duration (non-negative integer with optional suffix ns, us, ms or s; no suffix = ns, below 2^53 ns)';

/** A byte size with an optional suffix k, m or g (powers of 1024, case-insensitive); NaN when it does not parse. */
export function sizeOf(value: string): number {
  const match = /^(\d+)([kmg]?)$/i.exec(value);
  const size = match === null ? NaN : Number(match[1]) * SIZE_MULTIPLIERS[match[2]!.toLowerCase()]!;
  return Number.isSafeInteger(size) ? size : NaN;
}

/** Parses a byte size (see {@link sizeOf}); throws naming the parameter and value. */
export function parseSize(value: string, paramName: string, uri: string | ChannelUri): number {
  const size = sizeOf(value);
  if (Number.isNaN(size)) throw paramError(paramName, value, SIZE_ALLOWED, uri);
  return size;
}

const DURATION_MULTIPLIERS: Record<string, number> = { '': 1, ns: 1, us: 1e3, ms: 1e6, s: 1e9 };

/** A duration in ns; suffixes ns, us, ms, s (case-insensitive), no suffix means ns; NaN when it does not parse. */
export function durationNsOf(value: string): number {
  const match = /^(\d+)(ns|us|ms|s)?$/i.exec(value);
  const durationNs = match === null ? NaN : Number(match[1]) * DURATION_MULTIPLIERS[(match[2] ?? '').toLowerCase()]!;
  return Number.isSafeInteger(durationNs) ? durationNs : NaN;
}

/** Parses a duration into ns (see {@link durationNsOf}); throws naming the parameter and value. */
export function parseDurationNs(value: string, paramName: string, uri: string | ChannelUri): number {
  const durationNs = durationNsOf(value);
  if (Number.isNaN(durationNs)) throw paramError(paramName, value, DURATION_ALLOWED, uri);
  return durationNs;
}

/** Parses `true` or `false`. */
export function parseBoolean(value: string, paramName: string, uri: string | ChannelUri): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw paramError(paramName, value, `expected 'true' or 'false'`, uri);
}
