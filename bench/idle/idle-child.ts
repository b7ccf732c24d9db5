/** Child of the idle suite: an embedded Skein with connected UDP and IPC streams, measured idle. */
import dgram from 'node:dgram';
import { Skein } from '../../src/skein.js';

async function freePort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

const windowMs = Number(process.argv[2] ?? 10_000);
const skein = Skein.launch({ seed: 1 });
const channel = `aeron:udp?endpoint=127.0.0.1:${await freePort()}`;
await skein.addSubscription(channel, 1);
const udp = await skein.addPublication(channel, 1);
await skein.addSubscription('aeron:ipc', 2);
const ipc = await skein.addPublication('aeron:ipc', 2);
const settleDeadline = Date.now() + 5000;
while (!(udp.isConnected && ipc.isConnected) && Date.now() < settleDeadline) await new Promise((resolve) => setTimeout(resolve, 10));
await new Promise((resolve) => setTimeout(resolve, 1000));
const before = process.cpuUsage();
const startedMs = Date.now();
await new Promise((resolve) => setTimeout(resolve, windowMs));
const used = process.cpuUsage(before);
const cpuPercent = ((used.user + used.system) / 1000 / (Date.now() - startedMs)) * 100;
const connected = udp.isConnected && ipc.isConnected;
await skein.close();
process.stdout.write(`${JSON.stringify({ cpuPercent, connected })}\n`);
