import { SkeinError, ErrorCode } from '../util/errors.js';
import { ChannelUri } from '../protocol/channel-uri.js';
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
  if (uri.media === 'udp' && params.endpoint === undefined) {
    throw new SkeinError(
      ErrorCode.URI_PARAM_INVALID,
      `a UDP publication needs an endpoint (multi-destination and response channels are not supported yet)`,
      { channel },
    );
  }
  return new ParsedChannel(channel, uri, params, uri.media === 'ipc');
}

export function parseSubscriptionChannel(channel: string): ParsedChannel<SubscriptionParams> {
  const uri = ChannelUri.parse(channel);
  const params = parseSubscriptionParams(uri);
  if (uri.prefix !== '') {
    throw new SkeinError(ErrorCode.URI_INVALID, `prefix '${uri.prefix}' is not supported yet`, { channel });
  }
  if (uri.media === 'udp' && params.endpoint === undefined) {
    throw new SkeinError(
      ErrorCode.URI_PARAM_INVALID,
      `a UDP subscription needs an endpoint (control-mode subscriptions are not supported yet)`,
      { channel },
    );
  }
  return new ParsedChannel(channel, uri, params, uri.media === 'ipc');
}

export function addressKey(address: SocketAddress): string {
  return address.family === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
