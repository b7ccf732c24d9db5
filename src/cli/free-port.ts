import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/**
 * A UDP port that was free a moment ago on `address`: binds to port 0, reads the port the OS chose
 * and closes the socket. Another process could take it in between; good enough for demos and tests.
 */
export function freeUdpPort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.bind(0, address, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** A port p with p and p + 1 free a moment ago (an RPC provider's request endpoint and response control address). */
export async function freeUdpPortPair(address = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freeUdpPort(address);
    if (port >= 65535) continue;
    const free = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind(port + 1, address, () => socket.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no two adjacent free UDP ports found on ${address} in 50 tries`);
}

/** A TCP port that was free a moment ago on `address` (for peers and servers that listen on TCP). */
export function freeTcpPort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
