import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DatagramSocket } from '../../../src/env/datagram.js';
import { NodeDatagramTransport } from '../../../src/env/node-datagram-transport.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Opens sockets and closes every one of them when the test ends. */
function tracked(t: { after: (fn: () => void) => void }): {
  transport: NodeDatagramTransport;
  open: (port?: number) => DatagramSocket;
  /** What the transport's onError was told. */
  errors: Error[];
  /** What the sockets' onSendError was told. */
  sendErrors: Error[];
} {
  const errors: Error[] = [];
  const sendErrors: Error[] = [];
  const transport = new NodeDatagramTransport({ onError: (e) => errors.push(e) });
  const sockets: DatagramSocket[] = [];
  t.after(() => {
    for (const s of sockets) s.close();
    for (const s of sockets) assert.equal(s.status, 'closed');
  });
  const open = (port = 0): DatagramSocket => {
    const s = transport.open({
      family: 4,
      bindAddress: '127.0.0.1',
      bindPort: port,
      rcvbufLength: 262_144,
      sndbufLength: 262_144,
      onSendError: (e) => sendErrors.push(e),
    });
    sockets.push(s);
    return s;
  };
  return { transport, open, errors, sendErrors };
}

test('binds to an ephemeral port, sends and receives over loopback', async (t) => {
  const { open, errors } = tracked(t);
  const a = open();
  const b = open();
  assert.equal(a.status, 'bound', 'an IP literal binds within open()');
  await waitFor(() => a.status === 'bound' && b.status === 'bound', 'both sockets bound');
  assert.ok(a.localPort > 0 && b.localPort > 0 && a.localPort !== b.localPort);
  assert.equal(a.localAddress, '127.0.0.1');

  const received: Array<{ bytes: number[]; length: number; port: number; address: string }> = [];
  b.onDatagram = (data, length, address, port) => received.push({ bytes: [...data.subarray(0, length)], length, port, address });

  const shared = new Uint8Array(new SharedArrayBuffer(64));
  shared.set([1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(a.send(shared, 2, 4, '127.0.0.1', b.localPort), true);
  const plain = new Uint8Array([9, 8, 7]);
  assert.equal(a.send(plain, 0, 3, '127.0.0.1', b.localPort), true);

  await waitFor(() => received.length === 2, 'two datagrams');
  const sorted = received.sort((x, y) => x.length - y.length);
  assert.deepEqual(sorted[0], { bytes: [9, 8, 7], length: 3, port: a.localPort, address: '127.0.0.1' });
  assert.deepEqual(sorted[1], { bytes: [3, 4, 5, 6], length: 4, port: a.localPort, address: '127.0.0.1' });
  assert.deepEqual(errors, []);
});

test('a port in use fails the bind with an error naming address and port', async (t) => {
  const { open, transport } = tracked(t);
  const first = open();
  await waitFor(() => first.status === 'bound', 'first socket bound');
  const second = open(first.localPort);
  await waitFor(() => second.status !== 'binding', 'second socket to settle');
  assert.equal(second.status, 'failed');
  assert.ok(second.error instanceof SkeinError);
  assert.equal((second.error as SkeinError).code, ErrorCode.TRANSPORT_BIND_FAILED);
  assert.match(second.error.message, /127\.0\.0\.1/);
  assert.match(second.error.message, new RegExp(`port ${first.localPort}`));
  assert.match(second.error.message, /EADDRINUSE/);
  assert.equal(second.send(new Uint8Array(1), 0, 1, '127.0.0.1', first.localPort), false);
  // The failed socket's close is waited for like any other.
  first.close();
  await transport.whenClosed();
  assert.deepEqual(process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap'), [], 'no UDP handle left once whenClosed resolves');
});

test('close is idempotent and a closed socket neither sends nor receives', async (t) => {
  const { open } = tracked(t);
  const a = open();
  const b = open();
  await waitFor(() => a.status === 'bound' && b.status === 'bound', 'both sockets bound');
  let received = 0;
  b.onDatagram = () => received++;
  b.close();
  b.close();
  assert.equal(b.status, 'closed');
  assert.equal(b.send(new Uint8Array(4), 0, 4, '127.0.0.1', a.localPort), false);
  a.send(new Uint8Array(4), 0, 4, '127.0.0.1', b.localPort);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(received, 0);
});

test('sends that fail are reported to the socket and the transport, never thrown', async (t) => {
  const { open, errors, sendErrors } = tracked(t);
  const a = open();
  await waitFor(() => a.status === 'bound', 'socket bound');
  assert.equal(a.send(new Uint8Array(4), 0, 4, '127.0.0.1', 0), false, 'port 0 is not a destination');
  assert.equal(a.send(new Uint8Array(4), 2, 4, '127.0.0.1', 9), false, 'range beyond the array');
  assert.equal(sendErrors.length, 2);
  assert.deepEqual(errors, sendErrors, 'the transport hears of the same errors, after the socket');
  assert.ok(sendErrors.every((e) => e instanceof SkeinError && e.code === ErrorCode.TRANSPORT_SEND_FAILED));
});

test('errors the socket reports after a send are reported too', async (t) => {
  const { open, errors, sendErrors } = tracked(t);
  const a = open();
  await waitFor(() => a.status === 'bound', 'socket bound');
  // Broadcast without SO_BROADCAST is refused by the kernel (EACCES) after the send was handed over.
  assert.equal(a.send(new Uint8Array(4), 0, 4, '255.255.255.255', 9), true);
  await waitFor(() => sendErrors.length === 1, 'the asynchronous send error');
  assert.match(sendErrors[0]?.message ?? '', new RegExp(`udp socket 127\\.0\\.0\\.1:${a.localPort}.*EACCES`));
  assert.equal(a.send(new Uint8Array(70_000), 0, 70_000, '127.0.0.1', 9), false, 'longer than a UDP payload');
  assert.equal(sendErrors.length, 2);
  assert.equal(errors.length, 2);
});

test('a closed socket refuses to send', (t) => {
  const { open } = tracked(t);
  const a = open();
  a.close();
  assert.equal(a.status, 'closed');
  assert.equal(a.send(new Uint8Array(4), 0, 4, '127.0.0.1', 9), false);
});

test('a datagram leaves within send(): rewriting the buffer right after does not change it', async (t) => {
  const { open } = tracked(t);
  const a = open();
  const b = open();
  const seen: string[] = [];
  b.onDatagram = (data, length) => seen.push(String.fromCharCode(data[0]!) + length);
  const buffer = new Uint8Array(64);
  buffer.fill(78); // 'N'
  assert.equal(a.send(buffer, 0, 28, '127.0.0.1', b.localPort), true);
  buffer.fill(83); // 'S'
  assert.equal(a.send(buffer, 0, 36, '127.0.0.1', b.localPort), true);
  await waitFor(() => seen.length === 2, 'both datagrams');
  assert.deepEqual(seen, ['N28', 'S36']);
});

test('invalid socket options are rejected up front', () => {
  const transport = new NodeDatagramTransport();
  assert.throws(
    () => transport.open({ family: 4, bindAddress: '127.0.0.1', bindPort: 70_000 }),
    (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_INVALID && /bindPort=70000/.test(e.message),
  );
  assert.throws(
    () => transport.open({ family: 5 as 4, bindAddress: '127.0.0.1', bindPort: 0 }),
    (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_INVALID,
  );
  assert.throws(
    () => transport.open({ family: 4, bindAddress: '127.0.0.1', bindPort: 0, rcvbuf: 1 } as never),
    (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_UNKNOWN_OPTION && /rcvbuf/.test(e.message),
  );
  assert.throws(
    () => transport.open({ family: 4, bindAddress: '127.0.0.1', bindPort: 0, onSendError: 'log' as never }),
    (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_INVALID && /onSendError=log/.test(e.message),
  );
});
