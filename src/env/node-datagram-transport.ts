import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { ErrorCode, SkeinError } from '../util/errors.js';
import {
  UDP_PAYLOAD_LENGTH_MAX,
  validateDatagramSocketOptions,
  type DatagramHandler,
  type DatagramSocket,
  type DatagramSocketOptions,
  type MulticastOptions,
  type DatagramTransport,
  type SocketStatus,
} from './datagram.js';

export interface NodeDatagramTransportOptions {
  /** When false, open sockets do not keep the process alive. @default true */
  ref?: boolean;
  /**
   * Told about every send error of every socket (synchronous or reported later by the socket),
   * after the socket's own `onSendError`, and every failure to apply a buffer size, as a SkeinError
   * whose `cause` is the system error.
   */
  onError?: (error: Error) => void;
}

/**
 * UDP over node:dgram. Sockets never share ports (`reuseAddr: false`, `exclusive: true`).
 *
 * Sending: `socket.send(data, offset, length, port, address, callback)` with one callback bound per
 * socket. Node drops send errors (EMSGSIZE, EACCES, …) silently when no callback is given, so the
 * callback is what lets them reach the socket's `onSendError` (the driver counts them) and the
 * transport's `onError`; measured on Node 20 it costs nothing noticeable next to the system call. A Uint8Array over a
 * SharedArrayBuffer is accepted directly (dgram takes any ArrayBufferView and makes its own view of
 * the range for the offset/length form), so the caller's array is passed through unchanged; a
 * cached Buffer view would not save that internal view.
 */
type LookupCallback = (error: NodeJS.ErrnoException | null, address: string, family: number) => void;

function literalLookup(hostname: string, options: unknown, callback?: LookupCallback): void {
  const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
  // An IP literal: only IPv6 ones hold a colon (no regular expression on every send).
  const family = hostname.includes(':') ? 6 : 4;
  cb(null, hostname === 'localhost' ? '127.0.0.1' : hostname, family);
}

export class NodeDatagramTransport implements DatagramTransport {
  /** @internal */ readonly ref: boolean;
  /** @internal */ readonly onError: ((error: Error) => void) | undefined;

  constructor(options: NodeDatagramTransportOptions = {}) {
    this.ref = options.ref ?? true;
    this.onError = options.onError;
  }

  open(options: DatagramSocketOptions): DatagramSocket {
    validateDatagramSocketOptions(options);
    return new NodeDatagramSocket(this, options);
  }

  private closingSockets = 0;
  /** Counts the closes begun, so that a release wait started before the latest close began resolves nothing. */
  private closesBegun = 0;
  private closedWaiters: (() => void)[] = [];

  whenClosed(): Promise<void> {
    if (this.closingSockets === 0) return Promise.resolve();
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  /** @internal A socket of this transport began closing; `done` is to be called once it has. */
  beginClose(): () => void {
    this.closingSockets++;
    this.closesBegun++;
    let called = false;
    return () => {
      if (called) return;
      called = true;
      if (--this.closingSockets > 0) return;
      // The 'close' event comes before libuv releases the handle (its close phase follows the
      // check phase): two turns later it is gone. A socket that began closing meanwhile, even one
      // already reported closed, needs its own two turns: only the wait begun by the last close
      // releases the waiters.
      const begun = this.closesBegun;
      setImmediate(() =>
        setImmediate(() => {
          if (this.closingSockets > 0 || this.closesBegun !== begun) return;
          for (const resolve of this.closedWaiters.splice(0)) resolve();
        }),
      );
    };
  }

  /** @internal Tells the socket's `onSendError`, then this transport's `onError`. */
  reportSendError(socketName: string, cause: unknown, onSendError: ((error: Error) => void) | undefined): void {
    if (onSendError === undefined && this.onError === undefined) return;
    const reason = (cause as NodeJS.ErrnoException | undefined)?.code ?? String(cause);
    const error = new SkeinError(ErrorCode.TRANSPORT_SEND_FAILED, `send on ${socketName} failed: ${reason}`, { cause });
    onSendError?.(error);
    this.onError?.(error);
  }
}

class NodeDatagramSocket implements DatagramSocket {
  status: SocketStatus = 'binding';
  error: Error | null = null;
  localAddress: string;
  localPort = 0;
  onDatagram: DatagramHandler | null = null;
  private readonly socket: Socket;
  private description: string;
  private readonly sendComplete: (error: Error | null) => void;

  constructor(
    private readonly transport: NodeDatagramTransport,
    private readonly options: DatagramSocketOptions,
  ) {
    this.localAddress = options.bindAddress;
    const endpoint = formatEndpoint(options.bindAddress, options.bindPort);
    this.description = options.name === undefined ? `udp socket ${endpoint}` : `udp socket ${endpoint} (${options.name})`;
    // Addresses reaching the socket are IP literals already; answering the lookup synchronously
    // makes dgram hand the datagram to the OS within send() instead of a tick later.
    this.socket = createSocket({ type: options.family === 6 ? 'udp6' : 'udp4', reuseAddr: options.reuseAddress ?? false, lookup: literalLookup });
    this.socket.on('error', this.handleError.bind(this));
    this.socket.on('message', this.handleMessage.bind(this));
    this.socket.once('listening', this.handleListening.bind(this));
    this.sendComplete = this.handleSendComplete.bind(this);
    if (!transport.ref) this.socket.unref();
    try {
      this.socket.bind({ port: options.bindPort, address: options.bindAddress, exclusive: true });
    } catch (cause) {
      this.fail(cause);
    }
  }

  send(data: Uint8Array, offset: number, length: number, address: string, port: number): boolean {
    if (this.status !== 'bound') return false;
    if (length > UDP_PAYLOAD_LENGTH_MAX) {
      this.transport.reportSendError(this.description, new Error(`EMSGSIZE: length ${length} > ${UDP_PAYLOAD_LENGTH_MAX}`), this.options.onSendError);
      return false;
    }
    try {
      this.socket.send(data, offset, length, port, address, this.sendComplete);
      return true;
    } catch (cause) {
      this.transport.reportSendError(this.description, cause, this.options.onSendError);
      return false;
    }
  }

  close(): void {
    if (this.status === 'closed') return;
    const wasFailed = this.status === 'failed';
    this.status = 'closed';
    if (!wasFailed) {
      const done = this.transport.beginClose();
      try {
        this.socket.close(done);
      } catch {
        // already closed by the failed bind
        done();
      }
    }
  }

  private handleListening(): void {
    if (this.status !== 'binding') return;
    const address = this.socket.address();
    this.localAddress = address.address;
    this.localPort = address.port;
    const endpoint = formatEndpoint(this.localAddress, this.localPort);
    this.description = this.options.name === undefined ? `udp socket ${endpoint}` : `udp socket ${endpoint} (${this.options.name})`;
    this.applyBufferLengths();
    if (this.options.multicast !== undefined && !this.applyMulticast(this.options.multicast)) return;
    this.status = 'bound';
  }

  /** Joins the groups and sets outgoing multicast; a failure fails the socket, naming group and interface. */
  private applyMulticast(multicast: MulticastOptions): boolean {
    let step = `set the multicast interface ${multicast.interface}`;
    try {
      this.socket.setMulticastInterface(multicast.interface);
      step = 'enable multicast loopback';
      this.socket.setMulticastLoopback(true);
      if (multicast.ttl !== undefined) {
        step = `set the multicast TTL ${multicast.ttl}`;
        this.socket.setMulticastTTL(multicast.ttl);
      }
      for (const group of multicast.groups) {
        step = `join group ${group} on interface ${multicast.interface}`;
        this.socket.addMembership(group, multicast.interface);
      }
      return true;
    } catch (cause) {
      const reason = (cause as NodeJS.ErrnoException | undefined)?.code ?? String(cause);
      this.fail(cause, `cannot ${step} on ${this.description}: ${reason}`);
      return false;
    }
  }

  private applyBufferLengths(): void {
    const { rcvbufLength, sndbufLength } = this.options;
    try {
      if (rcvbufLength !== undefined) this.socket.setRecvBufferSize(rcvbufLength);
      if (sndbufLength !== undefined) this.socket.setSendBufferSize(sndbufLength);
    } catch (cause) {
      this.transport.onError?.(
        new SkeinError(
          ErrorCode.CONFIG_INVALID,
          `cannot set buffer sizes rcvbufLength=${String(rcvbufLength)} sndbufLength=${String(sndbufLength)} on ${this.description}`,
          { cause, category: 'warn' },
        ),
      );
    }
  }

  private handleMessage(message: Buffer, rinfo: RemoteInfo): void {
    const handler = this.onDatagram;
    if (handler !== null && this.status === 'bound') {
      handler(message, message.length, rinfo.address, rinfo.port);
    }
  }

  private handleSendComplete(error: Error | null): void {
    if (error !== null && error !== undefined && this.status === 'bound') {
      this.transport.reportSendError(this.description, error, this.options.onSendError);
    }
  }

  private handleError(cause: Error): void {
    if (this.status === 'binding') {
      this.fail(cause);
    } else if (this.status === 'bound') {
      this.transport.reportSendError(this.description, cause, this.options.onSendError);
    }
  }

  private fail(cause: unknown, message?: string): void {
    const reason = (cause as NodeJS.ErrnoException | undefined)?.code ?? String(cause);
    const { bindAddress, bindPort } = this.options;
    this.error = new SkeinError(
      ErrorCode.TRANSPORT_BIND_FAILED,
      message ?? `cannot bind udp socket${this.options.name === undefined ? '' : ` (${this.options.name})`} to address ${bindAddress} port ${bindPort}: ${reason}`,
      { cause, category: 'fatal' },
    );
    this.status = 'failed';
    const done = this.transport.beginClose();
    try {
      this.socket.close(done);
    } catch {
      // a socket whose bind failed may already be closed
      done();
    }
  }
}

function formatEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
