/**
 * Pong of the paired round-trip measurement: echoes Skein pings (like skein-pong) and, on a raw
 * node:dgram socket in the same process, raw pings (like dgram-pong).
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import type { ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { skeinPong, type SkeinPongConfig } from './skein-pong.js';

export interface PairedPongConfig extends SkeinPongConfig {
  readonly rawPongPort: number;
}

export async function pairedPong(config: PairedPongConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  let rawEchoed = 0;
  socket.on('message', (message: Buffer, remote: RemoteInfo) => {
    rawEchoed++;
    socket.send(message, 0, message.length, remote.port, remote.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: config.rawPongPort, address: '127.0.0.1', exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const skein = await skeinPong(config, context);
  return {
    stop: async () => {
      socket.close();
      return { ...(await skein.stop()), rawEchoed };
    },
  };
}
