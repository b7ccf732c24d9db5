/**
 * Defaults of the RPC layer (docs/rpc.md, "Defaults") and how a provider's registry address
 * becomes channels: requests go to `aeron:udp?endpoint=<address>`, responses come back through
 * the provider's response control address, the next port up unless the entry's metadata names
 * another (`responseControl=host:port`).
 */
import { ErrorCode, SkeinError } from '../util/errors.js';
import { FRAME_ALIGNMENT, MAX_UDP_PAYLOAD_LENGTH } from '../protocol/frame-constants.js';
import { parseAddress, type ProviderEntry } from './registry.js';

export const RPC_DEFAULTS = Object.freeze({
  requestStreamId: 1101,
  responseStreamId: 1102,
  /** A PING on an idle READY link this often. */
  heartbeatIntervalMs: 1000,
  /** Nothing from the provider for this long: the link is lost. */
  heartbeatTimeoutMs: 5000,
  /** A provider lets its calls in flight finish this long when it shuts down. */
  drainTimeoutMs: 5000,
  /** Messages a server stream may send before the consumer grants more. */
  streamWindow: 64,
  /**
   * The MTU of a link's publications (requests and responses) when both ends are on this host:
   * loopback carries datagrams of up to 64 KiB unfragmented, so 64 calls of a few dozen bytes
   * travel in one datagram instead of five. Between hosts the driver's MTU (1408) applies.
   */
  loopbackMtu: 8192,
});

/** True for an address of this host's loopback interface: 127.0.0.0/8, ::1, their IPv4-mapped form, localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === 'localhost' || bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
  const v4 = bare.toLowerCase().startsWith('::ffff:') ? bare.slice(7) : bare;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * The `|mtu=` parameter (or '') for a link publication towards `host`: `mtu` when given, else
 * {@link RPC_DEFAULTS.loopbackMtu} towards a loopback address, else none (the driver's MTU).
 */
export function mtuParam(mtu: number | undefined, host: string): string {
  const chosen = mtu ?? (isLoopbackHost(host) ? RPC_DEFAULTS.loopbackMtu : undefined);
  return chosen === undefined ? '' : `|mtu=${chosen}`;
}

/** Checks an RPC `mtu` option: undefined (automatic), or what a channel's `mtu` takes (above 32, at most the largest UDP payload, frame-aligned), checked now rather than when a link opens. */
export function checkRpcMtu(mtu: number | undefined, where: string): void {
  if (mtu === undefined) return;
  if (!(Number.isInteger(mtu) && mtu > FRAME_ALIGNMENT && mtu <= MAX_UDP_PAYLOAD_LENGTH && mtu % FRAME_ALIGNMENT === 0)) {
    throw new SkeinError(
      ErrorCode.CONFIG_INVALID,
      `${where}: mtu=${String(mtu)} is invalid; expected an integer above ${FRAME_ALIGNMENT}, at most ${MAX_UDP_PAYLOAD_LENGTH}, a multiple of ${FRAME_ALIGNMENT}`,
    );
  }
}

export interface ProviderChannels {
  readonly request: string;
  readonly responseControl: string;
}

/** The channels of a provider whose host resolved to `ip`; `mtu` as the consumer's option (see {@link mtuParam}). */
export function providerChannels(entry: ProviderEntry, ip: string, mtu?: number): ProviderChannels {
  const { port } = parseAddress(entry.address);
  const host = ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip;
  const control = entry.metadata.responseControl;
  return {
    request: `aeron:udp?endpoint=${host}:${port}${mtuParam(mtu, ip)}`,
    responseControl: `aeron:udp?control=${control ?? `${host}:${port + 1}`}`,
  };
}
