import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { ResponseClient, type ResponseClientStateChange, type ResponseHandler } from '../../../src/response/response-client.js';
import { ResponseServer, type ServerSession, type ServerSessionState } from '../../../src/response/response-server.js';
import { isRetryable } from '../../../src/response/response-protocol.js';
import { SkeinError, ErrorCode } from '../../../src/util/errors.js';
import { waitFor } from '../../support/wait.js';
import { responseChannels as channels, text } from '../../support/response-channels.js';


const FAST = { heartbeatIntervalMs: 50, peerTimeoutMs: 400, connectTimeoutMs: 600, reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 200 } as const;

function launch(seed: number): Skein {
  return Skein.launch({ testProfile: true, seed, errorHandler: () => {} });
}

function codeOf(error: unknown): string {
  assert.ok(error instanceof SkeinError, `expected a SkeinError, got ${String(error)}`);
  return error.code;
}

test('requests get their own answers, 64 in flight, by promise and by callback', { timeout: 30_000 }, async () => {
  const ch = await channels();
  const serverSkein = launch(1);
  const clientSkein = launch(2);
  try {
    await ResponseServer.start(serverSkein.client, { ...ch, handler: (request) => `echo ${text(request)}` });
    const clientBefore = clientSkein.driver.conductor.resourceCounts();
    const client = new ResponseClient(clientSkein.client, { ...ch, ...FAST, seed: 9 });
    await client.connected({ timeoutMs: 10_000 });
    const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => client.request(`request ${i}`)));
    answers.forEach((answer, i) => assert.equal(text(answer), `echo request ${i}`));

    const got: string[] = [];
    const handler: ResponseHandler = {
      onResponse: (_id, buffer, offset, length) => got.push(text(buffer.subarray(offset, offset + length))),
      onError: (_id, error) => assert.fail(error),
    };
    const payload = new TextEncoder().encode('xxcallbackxx');
    const id = client.requestWith(payload, 2, 8, handler);
    assert.notEqual(id, null);
    await waitFor(() => got.length === 1, 5000, 'the callback answer');
    assert.deepEqual(got, ['echo callback']);
    assert.equal(client.inFlight, 0);
    client.close();
    client.close();
    assert.equal(client.state, 'CLOSED');
    // Publication, subscription, endpoints and images of the client all go.
    await waitFor(() => JSON.stringify(clientSkein.driver.conductor.resourceCounts()) === JSON.stringify(clientBefore), 10_000, 'the client side to be released');
  } finally {
    clientSkein.destroy();
    serverSkein.destroy();
  }
});

test('many clients at once: each sees only its own responses', { timeout: 30_000 }, async () => {
  const ch = await channels();
  const serverSkein = launch(3);
  const clients: { skein: Skein; client: ResponseClient }[] = [];
  try {
    await ResponseServer.start(serverSkein.client, { ...ch, handler: async (request) => `for ${text(request)}` });
    for (let i = 0; i < 8; i++) {
      const skein = launch(100 + i);
      clients.push({ skein, client: new ResponseClient(skein.client, { ...ch, ...FAST, seed: i }) });
    }
    await Promise.all(clients.map(({ client }) => client.connected({ timeoutMs: 10_000 })));
    await Promise.all(
      clients.map(async ({ client }, i) => {
        for (let r = 0; r < 20; r++) assert.equal(text(await client.request(`client ${i} #${r}`)), `for client ${i} #${r}`);
      }),
    );
  } finally {
    for (const { skein } of clients) skein.destroy();
    serverSkein.destroy();
  }
});

test('deadlines, handler errors, the in-flight limit and abort give clear errors', { timeout: 30_000 }, async () => {
  const ch = await channels();
  const serverSkein = launch(4);
  const clientSkein = launch(5);
  try {
    await ResponseServer.start(serverSkein.client, {
      ...ch,
      handler: (request) => {
        const t = text(request);
        if (t === 'fail') throw new Error('no such thing');
        if (t === 'never') return new Promise<string>(() => {});
        return t;
      },
    });
    const client = new ResponseClient(clientSkein.client, { ...ch, ...FAST, maxInFlight: 2, seed: 1 });
    await client.connected({ timeoutMs: 10_000 });

    await assert.rejects(client.request('never', { timeoutMs: 100 }), (error: unknown) => {
      assert.equal(codeOf(error), ErrorCode.REQUEST_TIMEOUT);
      assert.ok(isRetryable(error));
      assert.match((error as Error).message, /correlationId=-?\d+ timeoutMs=100/);
      assert.match((error as Error).message, new RegExp(`channel=${ch.requestChannel.replace(/[?]/g, '\\?')} streamId=10000 sessionId=`));
      return true;
    });
    await assert.rejects(client.request('fail'), (error: unknown) => {
      assert.equal(codeOf(error), ErrorCode.REQUEST_FAILED);
      assert.match((error as Error).message, /no such thing/);
      assert.ok(!isRetryable(error));
      return true;
    });
    const a = client.request('never', { timeoutMs: 2000 });
    const b = client.request('never', { timeoutMs: 2000 });
    await assert.rejects(client.request('third'), (error: unknown) => codeOf(error) === ErrorCode.IN_FLIGHT_LIMIT);
    client.close();
    for (const p of [a, b]) await assert.rejects(p, (error: unknown) => codeOf(error) === ErrorCode.CLOSED);

    const client2 = new ResponseClient(clientSkein.client, { ...ch, ...FAST, seed: 2 });
    await client2.connected({ timeoutMs: 10_000 });
    const controller = new AbortController();
    const aborted = client2.request('never', { signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted, (error: unknown) => codeOf(error) === ErrorCode.ABORTED);
    assert.equal(client2.inFlight, 0);
    client2.close();
    await assert.rejects(client2.request('late'), (error: unknown) => codeOf(error) === ErrorCode.CLOSED);
  } finally {
    clientSkein.destroy();
    serverSkein.destroy();
  }
});

test('a server restart: requests in flight fail retryably, the client reconnects by itself', { timeout: 40_000 }, async () => {
  const ch = await channels();
  let serverSkein = launch(6);
  const clientSkein = launch(7);
  const changes: ResponseClientStateChange[] = [];
  try {
    await ResponseServer.start(serverSkein.client, { ...ch, handler: (r) => (text(r) === 'hang' ? new Promise<string>(() => {}) : text(r)) });
    const client = new ResponseClient(clientSkein.client, { ...ch, ...FAST, seed: 3, onStateChange: (c) => changes.push(c) });
    await client.connected({ timeoutMs: 10_000 });
    assert.equal(text(await client.request('one')), 'one');
    const inFlight = client.request('hang', { timeoutMs: 30_000 });
    serverSkein.destroy();
    await assert.rejects(inFlight, (error: unknown) => {
      assert.equal(codeOf(error), ErrorCode.PEER_LOST);
      assert.ok(isRetryable(error));
      return true;
    });
    assert.equal(client.state, 'RECONNECTING');
    await assert.rejects(client.request('while down'), (error: unknown) => codeOf(error) === ErrorCode.NOT_CONNECTED);
    serverSkein = launch(8);
    await ResponseServer.start(serverSkein.client, { ...ch, handler: (r) => `again ${text(r)}` });
    await client.connected({ timeoutMs: 15_000 });
    assert.equal(text(await client.request('two')), 'again two');
    const states = changes.filter((c) => c.from !== c.to).map((c) => `${c.from}->${c.to}`);
    assert.deepEqual(states, ['CONNECTING->CONNECTED', 'CONNECTED->RECONNECTING', 'RECONNECTING->CONNECTED']);
    const lost = changes.find((c) => c.to === 'RECONNECTING')!;
    assert.match(lost.reason, /peerTimeoutMs=400/);
    client.close();
  } finally {
    clientSkein.destroy();
    serverSkein.destroy();
  }
});

test('the server sees a client close and a client crash, and frees their resources', { timeout: 40_000 }, async () => {
  const ch = await channels();
  const serverSkein = launch(10);
  const events: string[] = [];
  try {
    const before = serverSkein.driver.conductor.resourceCounts();
    const server = await ResponseServer.start(serverSkein.client, {
      ...ch,
      sessionTimeoutMs: 500,
      handler: (r) => r,
      onSessionChange: (_s: ServerSession, _from: ServerSessionState, to: ServerSessionState, reason: string) => events.push(`${to}: ${reason}`),
    });
    const afterStart = serverSkein.driver.conductor.resourceCounts();
    const closing = launch(11);
    const closer = new ResponseClient(closing.client, { ...ch, ...FAST, seed: 4 });
    await closer.connected({ timeoutMs: 10_000 });
    await waitFor(() => server.sessions.length === 1, 5000, 'one session');
    closer.close();
    await waitFor(() => server.sessions.length === 0, 5000, 'the closed session to go');
    assert.ok(events.includes('CLOSED: the client closed the session'), events.join('; '));
    closing.destroy();

    const crashing = launch(12);
    const crasher = new ResponseClient(crashing.client, { ...ch, ...FAST, seed: 5 });
    await crasher.connected({ timeoutMs: 10_000 });
    await waitFor(() => server.sessions.length === 1, 5000, 'one session');
    crashing.destroy(); // no goodbye: the heartbeats stop
    await waitFor(() => server.sessions.length === 0, 5000, 'the silent session to time out');
    assert.ok(events.some((e) => /^CLOSED: the client was silent for \d+ ms \(sessionTimeoutMs=500\)$/.test(e)), events.join('; '));

    const counts = serverSkein.driver.conductor.resourceCounts();
    await waitFor(() => serverSkein.driver.conductor.resourceCounts().networkPublications === afterStart.networkPublications, 10_000, 'response publications to be freed');
    assert.equal(counts.subscriptionLinks, afterStart.subscriptionLinks);
    server.close();
    await waitFor(() => {
      const c = serverSkein.driver.conductor.resourceCounts();
      return c.subscriptionLinks === before.subscriptionLinks && c.publicationLinks === before.publicationLinks && c.networkPublications === before.networkPublications;
    }, 10_000, 'every resource back to where it started');
  } finally {
    serverSkein.destroy();
  }
});

test('with no server, the client rebuilds with backoff and gives up at its reconnect deadline', { timeout: 20_000 }, async () => {
  const ch = await channels();
  const skein = launch(13);
  try {
    const changes: ResponseClientStateChange[] = [];
    const client = new ResponseClient(skein.client, { ...ch, ...FAST, reconnectDeadlineMs: 1500, seed: 6, onStateChange: (c) => changes.push(c) });
    await assert.rejects(client.connected(), (error: unknown) => {
      assert.equal(codeOf(error), ErrorCode.RECONNECT_FAILED);
      assert.match((error as Error).message, /reconnectDeadlineMs=1500/);
      return true;
    });
    assert.equal(client.state, 'CLOSED');
    const rebuilds = changes.filter((c) => c.from === 'CONNECTING' && c.to === 'CONNECTING');
    assert.ok(rebuilds.length >= 1, 'the pair was rebuilt at least once');
    assert.match(rebuilds[0]!.reason, /rebuilding in \d+ ms \(attempt 1\)/);
    assert.throws(() => new ResponseClient(skein.client, { maxInFlight: 3 }), /maxInFlight=3 must be a power of two/);
    assert.throws(() => new ResponseClient(skein.client, { heartbeatIntervalMs: 100, peerTimeoutMs: 50 }), /peerTimeoutMs=50 must be longer than heartbeatIntervalMs=100/);
  } finally {
    skein.destroy();
  }
});

test('a server holds its response control address from the start: taken, start fails naming it and leaves nothing open', { timeout: 30_000 }, async () => {
  const ch = await channels();
  const skein = launch(40);
  const otherSkein = launch(42);
  try {
    const first = await ResponseServer.start(skein.client, { ...ch, handler: () => 'first' });
    const before = otherSkein.driver.conductor.resourceCounts();
    // A server of another driver on another request port but the same response control address.
    const other = await channels();
    await assert.rejects(
      ResponseServer.start(otherSkein.client, { requestChannel: other.requestChannel, responseControlChannel: ch.responseControlChannel, handler: () => 'second' }),
      (error: unknown) => codeOf(error) === ErrorCode.TRANSPORT_BIND_FAILED && (error as Error).message.includes(`cannot hold its response control channel ${ch.responseControlChannel}`) && /EADDRINUSE/.test((error as Error).message),
    );
    await waitFor(() => {
      const counts = otherSkein.driver.conductor.resourceCounts();
      return counts.receiveEndpoints === before.receiveEndpoints && counts.subscriptionLinks === before.subscriptionLinks && counts.sendEndpoints === before.sendEndpoints;
    }, 5000, 'the refused server to release its sockets');
    // A server of the same driver would share the socket instead of failing to bind: refused by the driver.
    const third = await channels();
    await assert.rejects(
      ResponseServer.start(skein.client, { requestChannel: third.requestChannel, responseControlChannel: ch.responseControlChannel, handler: () => 'third' }),
      (error: unknown) => codeOf(error) === ErrorCode.TRANSPORT_BIND_FAILED && /is already held by another response server or RPC provider of this driver/.test((error as Error).message),
    );
    // The first server still answers.
    const client = new ResponseClient(otherSkein.client, { ...ch, ...FAST, seed: 4 });
    await client.connected({ timeoutMs: 10_000 });
    assert.equal(text(await client.request('q')), 'first');
    client.close();
    first.close();
  } finally {
    await otherSkein.close();
    await skein.close();
  }
});
