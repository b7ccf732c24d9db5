import { SkeinError, ErrorCode } from '../util/errors.js';
import { ChannelUri } from '../protocol/channel-uri.js';
import { isMulticastAddress } from '../env/datagram.js';
import { parsePublicationParams, parseSubscriptionParams } from '../protocol/channel-params.js';

export type PublicationParams = ReturnType<typeof parsePublicationParams>;
export type SubscriptionParams = ReturnType<typeof parseSubscriptionParams>;

export interface SocketAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** A parsed and validated channel with the keys the driver shares endpoints by. */
export class ParsedChannel<P> {
  constructor(
    readonly original: string,
    readonly uri: ChannelUri,
    readonly params: P,
    readonly isIpc: boolean,
  ) {}
}

export function parsePublicationChannel(channel: string): ParsedChannel<PublicationParams> {
  const uri = ChannelUri.parse(channel);
  const params = parsePublicationParams(uri);
  if (uri.prefix !== '') {
    throw new SkeinError(ErrorCode.URI_INVALID, `a publication channel cannot have the prefix '${uri.prefix}'`, { channel });
  }
  if (uri.media === 'udp') {
    if (params.controlMode === 'response') {
      if (params.control === undefined) {
        throw new SkeinError(ErrorCode.URI_PARAM_INVALID, `a response publication (control-mode=response) needs control=host:port, the address it binds`, { channel });
      }
    } else if (params.controlMode === 'dynamic' || params.controlMode === 'manual') {
      if (params.endpoint !== undefined) {
        throw new SkeinError(ErrorCode.URI_PARAM_INVALID, `a multi-destination publication (control-mode=${params.controlMode}) has destinations, not an endpoint`, { channel });
      }
    } else if (params.endpoint === undefined && uri.prefix !== '' && params.control === undefined) {
      throw new SkeinError(ErrorCode.URI_PARAM_INVALID, `a spy names the publication it reads: its endpoint, or the control address of a multi-destination publication`, { channel });
    } else if (params.endpoint === undefined && uri.prefix === '') {
      throw new SkeinError(
        ErrorCode.URI_PARAM_INVALID,
        `a UDP publication needs an endpoint, control=host:port with control-mode=dynamic (multi-destination cast), control-mode=manual, or control=host:port with control-mode=response`,
        { channel },
      );
    }
  } else if (params.responseCorrelationId !== undefined && params.controlMode === 'response') {
    throw new SkeinError(ErrorCode.URI_PARAM_INVALID, `control-mode=response is for UDP channels only`, { channel });
  }
  return new ParsedChannel(channel, uri, params, uri.media === 'ipc');
}

export function parseSubscriptionChannel(channel: string): ParsedChannel<SubscriptionParams> {
  const uri = ChannelUri.parse(channel);
  const params = parseSubscriptionParams(uri);
  if (uri.prefix !== '' && uri.media !== 'udp') {
    throw new SkeinError(ErrorCode.URI_INVALID, `'${uri.prefix}' spies on UDP publications; an IPC subscription reads the log already`, { channel });
  }
  if (uri.media === 'udp') {
    if (params.controlMode === 'response') {
      if (params.control === undefined) {
        throw new SkeinError(ErrorCode.URI_PARAM_INVALID, `a response subscription (control-mode=response) needs control=host:port, the server's response address`, { channel });
      }
      if (params.sessionId !== undefined) {
        throw new SkeinError(
          ErrorCode.URI_PARAM_INVALID,
          `invalid channel URI: session-id=${params.sessionId} cannot be combined with control-mode=response (the server names the response session)`,
          { channel },
        );
      }
    } else if (params.controlMode === 'manual') {
      if (params.endpoint !== undefined) {
        throw new SkeinError(ErrorCode.URI_PARAM_INVALID, `a multi-destination subscription (control-mode=manual) has destinations, not an endpoint: add them with addDestination`, { channel });
      }
    } else if (params.endpoint === undefined && uri.prefix !== '' && params.control === undefined) {
      throw new SkeinError(ErrorCode.URI_PARAM_INVALID, `a spy names the publication it reads: its endpoint, or the control address of a multi-destination publication`, { channel });
    } else if (params.endpoint === undefined && uri.prefix === '') {
      throw new SkeinError(
        ErrorCode.URI_PARAM_INVALID,
        `a UDP subscription needs an endpoint (with control=host:port to join a dynamic multi-destination publication), or control=host:port with control-mode=response`,
        { channel },
      );
    }
  }
  return new ParsedChannel(channel, uri, params, uri.media === 'ipc');
}

export function addressKey(address: SocketAddress): string {
  return address.family === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** A multicast channel's addresses: data to `dataGroup`, control (SMs, NAKs) to `controlGroup`, one port. */
export interface MulticastAddressing {
  readonly dataGroup: SocketAddress;
  readonly controlGroup: SocketAddress;
  /** The local interface address memberships and outgoing multicast use (`interface=`, default 0.0.0.0). */
  readonly interfaceAddress: string;
}

/**
 * The multicast addressing of a UDP channel whose endpoint is a multicast group, or undefined.
 * As Aeron: the endpoint's group (odd last octet) carries data, the next address carries control,
 * on the same port. `interface=` names the local interface by its address; a `/prefix` or `:port`
 * after it is left out.
 */
export function multicastAddressing(params: { readonly endpoint?: SocketAddress; readonly interface?: string }): MulticastAddressing | undefined {
  const endpoint = params.endpoint;
  if (endpoint === undefined || endpoint.family !== 4 || !isMulticastAddress(endpoint.host)) return undefined;
  const next = (endpoint.host.split('.').reduce((value, octet) => value * 256 + Number(octet), 0) + 1) >>> 0;
  const controlHost = [next >>> 24, (next >>> 16) & 255, (next >>> 8) & 255, next & 255].join('.');
  const interfaceAddress = params.interface === undefined ? '0.0.0.0' : params.interface.split('/')[0]!.split(':')[0]!;
  return { dataGroup: endpoint, controlGroup: { host: controlHost, port: endpoint.port, family: 4 }, interfaceAddress };
}
