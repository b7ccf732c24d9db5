/**
 * A member's endpoints as the cluster takes them: `host:port`, checked with the channel URI's own
 * socket address rules (IPv4, [IPv6], localhost; port 0..65535), and refused naming the member.
 */
import { parseSocketAddress } from '../protocol/channel-uri.js';
import { ErrorCode, SkeinError, messageOf } from '../util/errors.js';

export function checkEndpoint(memberId: number, what: string, endpoint: unknown): void {
  try {
    if (typeof endpoint !== 'string') throw new Error('not a string');
    parseSocketAddress(endpoint, 'endpoint', `aeron:udp?endpoint=${endpoint}`);
  } catch (error) {
    throw new SkeinError(ErrorCode.CONFIG_INVALID, `member ${memberId}: ${what} endpoint '${String(endpoint)}' is not host:port: ${messageOf(error)}`, { cause: error });
  }
}
