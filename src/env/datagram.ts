import { ErrorCode, SkeinError } from '../util/errors.js';

/**
 * The datagram transport seam. The driver talks only to these interfaces, so the same driver code
 * runs over real UDP ({@link NodeDatagramTransport}), through fault injection, or on the
 * simulator's network.
 */

/**
 * Called once per received datagram. `data` is valid only during the call (an implementation may
 * reuse it); `length` bytes from offset 0 are the payload.
 */
export type DatagramHandler = (data: Uint8Array, length: number, srcAddress: string, srcPort: number) => void;

/** Multicast settings of a socket (IPv4). */
export interface MulticastOptions {
  /** Groups (224.0.0.0/4 addresses) the socket joins on {@link interface}. */
  readonly groups: readonly string[];
  /** The local interface address: group memberships and outgoing multicast datagrams use it. */
  readonly interface: string;
  /** TTL of outgoing multicast datagrams (0 keeps them on this host). @default the OS default (1) */
  readonly ttl?: number;
}

/** True for an IPv4 multicast address (224.0.0.0 to 239.255.255.255). */
export function isMulticastAddress(address: string): boolean {
  const match = /^(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.exec(address);
  if (match === null) return false;
  const first = Number(match[1]);
  return first >= 224 && first <= 239;
}

export interface DatagramSocketOptions {
  /** 4 for IPv4, 6 for IPv6. */
  family: 4 | 6;
  bindAddress: string;
  /** 0 asks for an ephemeral port; the bound port is then in {@link DatagramSocket.localPort}. */
  bindPort: number;
  /** SO_RCVBUF in bytes, set after binding when given. */
  rcvbufLength?: number;
  /** SO_SNDBUF in bytes, set after binding when given. */
  sndbufLength?: number;
  /** Names the socket in error messages (e.g. the channel it serves). */
  name?: string;
  /**
   * Told about every send on this socket that failed, as a SkeinError ERR_SKEIN_TRANSPORT_SEND_FAILED
   * whose `cause` is the system error: at once when send() refuses the datagram (and returns
   * false), or later when the OS reports the failure of a datagram send() had taken. The driver
   * counts these (Socket send errors) and logs them. Transports that cannot fail a send never call it.
   */
  onSendError?: (error: Error) => void;
  /**
   * SO_REUSEADDR: several sockets may bind the same address and port (multicast receivers and
   * senders of one group on one host). @default false: a port in use fails the bind.
   */
  reuseAddress?: boolean;
  /** Joins multicast groups and sets the interface, loopback and TTL of outgoing multicast. */
  multicast?: MulticastOptions;
}

/** `binding` → `bound` | `failed`; any state → `closed` on close(). */
export type SocketStatus = 'binding' | 'bound' | 'failed' | 'closed';

export interface DatagramSocket {
  readonly status: SocketStatus;
  /** Why binding failed (set when status is `failed`); the message names address and port. */
  readonly error: Error | null;
  readonly localAddress: string;
  /** The bound port (the ephemeral one when bindPort was 0); 0 until bound. */
  readonly localPort: number;
  /** Called for every received datagram; received datagrams are dropped while null. */
  onDatagram: DatagramHandler | null;
  /**
   * Hands `length` bytes of `data` starting at `offset` to the network. Returns false when the
   * datagram was not handed over (socket not bound, closed, or the send failed, which is also
   * reported to {@link DatagramSocketOptions.onSendError}); never throws. A datagram goes whole or
   * not at all: there are no partial sends.
   * The bytes may still be read after this returns while the OS queue is full (dgram then queues
   * the datagram by reference), so a caller that rewrites a buffer it sends from must copy first;
   * the driver sends DATA from log buffers, which stay unchanged far longer, and copies its
   * reused control-frame buffers.
   */
  send(data: Uint8Array, offset: number, length: number, address: string, port: number): boolean;
  /** Releases the socket; idempotent. */
  close(): void;
}

export interface DatagramTransport {
  /**
   * Creates a socket and starts binding it. Returns at once; the status moves from `binding` to
   * `bound` or `failed` (some transports bind synchronously). Invalid options throw a SkeinError.
   */
  open(options: DatagramSocketOptions): DatagramSocket;
  /**
   * Resolves once every socket this transport closed has finished closing (the operating system
   * released it). Transports whose close is immediate may leave it out.
   */
  whenClosed?(): Promise<void>;
}

/** Largest UDP payload over IPv4 (65535 - 8 byte UDP header - 20 byte IP header). */
export const UDP_PAYLOAD_LENGTH_MAX = 65_507;

const SOCKET_OPTION_KEYS = new Set(['family', 'bindAddress', 'bindPort', 'rcvbufLength', 'sndbufLength', 'name', 'onSendError', 'reuseAddress', 'multicast']);

/**
 * Checks socket options once, before a transport uses them; throws a SkeinError naming the option,
 * its value and the allowed range.
 */
export function validateDatagramSocketOptions(options: DatagramSocketOptions): void {
  for (const key of Object.keys(options)) {
    if (!SOCKET_OPTION_KEYS.has(key)) {
      throw new SkeinError(
        ErrorCode.CONFIG_UNKNOWN_OPTION,
        `unknown socket option '${key}'; known options: ${[...SOCKET_OPTION_KEYS].join(', ')}`,
      );
    }
  }
  if (options.family !== 4 && options.family !== 6) {
    throw invalid('family', options.family, '4 or 6');
  }
  if (typeof options.bindAddress !== 'string' || options.bindAddress === '') {
    throw invalid('bindAddress', options.bindAddress, 'a non-empty address string');
  }
  if (!isIntegerIn(options.bindPort, 0, 65_535)) {
    throw invalid('bindPort', options.bindPort, 'an integer in [0, 65535]');
  }
  if (options.onSendError !== undefined && typeof options.onSendError !== 'function') {
    throw invalid('onSendError', options.onSendError, 'a function');
  }
  if (options.reuseAddress !== undefined && typeof options.reuseAddress !== 'boolean') {
    throw invalid('reuseAddress', options.reuseAddress, 'a boolean');
  }
  const multicast = options.multicast;
  if (multicast !== undefined) {
    if (options.family !== 4) throw invalid('multicast', 'with family 6', 'IPv4 only');
    if (!Array.isArray(multicast.groups) || !multicast.groups.every((g) => typeof g === 'string' && isMulticastAddress(g))) {
      throw invalid('multicast.groups', JSON.stringify(multicast.groups), 'IPv4 multicast addresses (224.0.0.0 to 239.255.255.255)');
    }
    if (typeof multicast.interface !== 'string' || multicast.interface === '') {
      throw invalid('multicast.interface', multicast.interface, 'a local interface address such as 127.0.0.1');
    }
    if (multicast.ttl !== undefined && !isIntegerIn(multicast.ttl, 0, 255)) throw invalid('multicast.ttl', multicast.ttl, 'an integer in [0, 255]');
  }
  for (const key of ['rcvbufLength', 'sndbufLength'] as const) {
    const value = options[key];
    if (value !== undefined && !isIntegerIn(value, 1, 0x7fffffff)) {
      throw invalid(key, value, 'an integer in [1, 2^31 - 1]');
    }
  }
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function invalid(option: string, value: unknown, range: string): SkeinError {
  return new SkeinError(ErrorCode.CONFIG_INVALID, `socket option ${option}=${String(value)} is invalid; expected ${range}`);
}
