/**
 * Raw node:dgram echo for the rr suite's spacing measurements: sends every datagram straight back
 * from its 'message' handler (as the transport suite's dgram-pong does) and measures its CPU over
 * the window (see spaced-requests.ts).
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { EchoWindowCpu, MARKER_OFFSET, spinEventLoop } from './spaced-requests.js';

export interface DgramRrServerConfig extends ChildConfig {
  readonly port: number;
  /** Keep the event loop turning between datagrams (see spinEventLoop). */
  readonly spin?: boolean;
}

export async function dgramRrServer(config: DgramRrServerConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  const windowCpu = new EchoWindowCpu();
  let echoed = 0;
  socket.on('message', (message: Buffer, remote: RemoteInfo) => {
    echoed++;
    if (message.length > MARKER_OFFSET) windowCpu.onRequest(message[MARKER_OFFSET]!);
    socket.send(message, 0, message.length, remote.port, remote.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: config.port, address: '127.0.0.1', exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const stopSpin = config.spin === true ? spinEventLoop() : null;
  context.ready();
  return {
    stop: () => {
      stopSpin?.();
      socket.close();
      return { echoed, serverCpuPct: windowCpu.serverCpuPct };
    },
  };
}
