import { createSocket } from 'node:dgram';

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
