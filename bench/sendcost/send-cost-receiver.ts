/**
 * The receiving process of the send-cost suite: binds a UDP socket on loopback, tells its parent
 * the port, counts what arrives, and either sleeps between datagrams (the event loop waits in the
 * kernel) or spins (a setImmediate chain keeps the loop turning). Asked for its count, it answers
 * and exits.
 */
import { createSocket } from 'node:dgram';

const mode = process.argv[2];
if (mode !== 'sleep' && mode !== 'spin') throw new Error(`send-cost receiver: mode '${String(mode)}' is not sleep or spin`);
const socket = createSocket('udp4');
let received = 0;
let spinning = mode === 'spin';
socket.on('message', () => received++);
socket.bind(0, '127.0.0.1', () => process.send!({ port: socket.address().port }));
const spin = (): void => {
  if (spinning) setImmediate(spin);
};
spin();
process.on('message', () => {
  spinning = false;
  process.send!({ received }, () => {
    socket.close();
    process.disconnect();
  });
});
