/**
 * Defaults of the RPC layer (docs/rpc.md, "Defaults") and how a provider's registry address
 * becomes channels: requests go to `aeron:udp?endpoint=<address>`, responses come back through
 * the provider's response control address, the next port up unless the entry's metadata names
 * another (`responseControl=host:port`).
 */
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
});

export interface ProviderChannels {
  readonly request: string;
  readonly responseControl: string;
}

/** The channels of a provider whose host resolved to `ip`. */
export function providerChannels(entry: ProviderEntry, ip: string): ProviderChannels {
  const { port } = parseAddress(entry.address);
  const host = ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip;
  const control = entry.metadata.responseControl;
  return {
    request: `aeron:udp?endpoint=${host}:${port}`,
    responseControl: `aeron:udp?control=${control ?? `${host}:${port + 1}`}`,
  };
}
