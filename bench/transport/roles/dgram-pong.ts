/** Baseline pong on node:dgram: sends every datagram straight back to where it came from. */
import { createSocket, type RemoteInfo } from 'node:dgram';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';

export interface DgramPongConfig extends ChildConfig {
  readonly port: number;
}

export async function dgramPong(config: DgramPongConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  let echoed = 0;
  socket.on('message', (message: Buffer, remote: RemoteInfo) => {
    echoed++;
    socket.send(message, 0, message.length, remote.port, remote.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: config.port, address: '127.0.0.1', exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  context.ready();
  return {
    stop: () => {
      socket.close();
      return { echoed };
    },
  };
}
