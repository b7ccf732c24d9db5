import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The lowest port the OS hands out for port 0 (Linux's ip_local_port_range), 32768 elsewhere.
 * Ports are picked below it, so that no socket bound to port 0 meanwhile (by this process or
 * another) can take a port picked here before its user binds it.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > PICK_FROM + 1000 && low <= 65535) return low;
  } catch {
    // not Linux
  }
  return 32768;
}

const PICK_FROM = 10_000;
const PICK_ATTEMPTS = 100;

/**
 * Every port this process has handed out. A port picked but not yet bound is still free, so without
 * this a second pick (say, the next of three providers' addresses, taken before any binds) could
 * hand out the same port again, or one that a pair picked earlier takes as its second.
 */
const handedOut = new Set<number>();

/** A random port below the ephemeral range, not handed out before, that `bindable` says is free, or undefined after PICK_ATTEMPTS tries. */
async function pickBelowEphemeral(bindable: (port: number) => Promise<boolean>): Promise<number | undefined> {
  const high = ephemeralLow();
  for (let attempt = 0; attempt < PICK_ATTEMPTS; attempt++) {
    const port = PICK_FROM + Math.floor(Math.random() * (high - PICK_FROM));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  return undefined;
}

function udpBindable(port: number, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, address, () => socket.close(() => resolve(true)));
  });
}

/**
 * A UDP port that was free a moment ago on `address`: a random port below the OS's ephemeral range
 * that could be bound (so that sockets bound to port 0 never take it), else one the OS chose.
 * Another process could still take it in between; good enough for demos and tests.
 */
export async function freeUdpPort(address = '127.0.0.1'): Promise<number> {
  const picked = await pickBelowEphemeral((port) => udpBindable(port, address));
  if (picked !== undefined) return picked;
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
    if (port >= 65535 || handedOut.has(port + 1)) continue;
    if (await udpBindable(port + 1, address)) {
      handedOut.add(port + 1);
      return port;
    }
  }
  throw new Error(`no two adjacent free UDP ports found on ${address} in 50 tries`);
}

function tcpBindable(port: number, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, address, () => server.close(() => resolve(true)));
  });
}

/** A TCP port that was free a moment ago on `address` (for peers and servers that listen on TCP), picked as freeUdpPort picks. */
export async function freeTcpPort(address = '127.0.0.1'): Promise<number> {
  const picked = await pickBelowEphemeral((port) => tcpBindable(port, address));
  if (picked !== undefined) return picked;
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
