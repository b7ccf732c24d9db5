/**
 * ResponseClient with `framing: 'plain'` against Skein's own ResponseServer, which answers plain
 * requests with plain messages in request order: in-order matching, deadlines and abort (which
 * drop the pair), the server going away and coming back, a failing handler, stray answers, close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { ResponseClient, type ResponseClientStateChange, type ResponseHandler } from '../../../src/response/response-client.js';
import { ResponseServer, type ServerSession } from '../../../src/response/response-server.js';
import { isRetryable } from '../../../src/response/response-protocol.js';
import { SkeinError, ErrorCode } from '../../../src/util/errors.js';
import { waitFor } from '../../support/wait.js';
import { responseChannels as channels, text } from '../../support/response-channels.js';


const PLAIN = { framing: 'plain', connectTimeoutMs: 600, reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 200 } as const;

function launch(seed: number): Skein {
  return Skein.launch({ testProfile: true, seed, errorHandler: () => {} });
}

function codeOf(error: unknown): string {
  assert.ok(error instanceof SkeinError, `expected a SkeinError, got ${String(error)}`);
  return error.code;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function transitions(changes: readonly ResponseClientStateChange[]): string[] {
  return changes.filter((c) => c.from !== c.to).map((c) => `${c.from}->${c.to}`);
}

test('plain answers meet their own requests in order, even when the handler finishes them out of order', { timeout: 30_000 }, async () => {
  const ch = await channels();
  const serverSkein = launch(21);
  const clientSkein = launch(22);
  const sessions: ServerSession[] = [];
  try {
    // Request i resolves after (64 - i) ms: the last request's handler finishes first.
    await ResponseServer.start(serverSkein.client, {
      ...ch,
      onSessionChange: (session, _from, to) => {
        if (to === 'OPEN') sessions.push(session);
      },
      handler: async (request) => {
        const t = text(request);
        await delay(64 - Number(t.split(' ')[1]));
        return `answer to ${t}`;
      },
    });
    const clientBefore = clientSkein.driver.conductor.resourceCounts();
    const client = new ResponseClient(clientSkein.client, { ...ch, ...PLAIN, seed: 1 });
    assert.equal(client.framing, 'plain');
    await client.connected({ timeoutMs: 10_000 });
    const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => client.request(`request ${i}`)));
    answers.forEach((answer, i) => assert.equal(text(answer), `answer to request ${i}`));

    const got: string[] = [];
    const handler: ResponseHandler = {
      onResponse: (_id, buffer, offset, length) => got.push(text(buffer.subarray(offset, offset + length))),
      onError: (_id, error) => assert.fail(error),
    };
    const payload = new TextEncoder().encode('xxrequest 60xx');
    assert.notEqual(client.requestWith(payload, 2, 10, handler), null);
    assert.notEqual(client.requestWith(payload, 2, 10, handler), null);
    await waitFor(() => got.length === 2, 5000, 'the callback answers');
    assert.deepEqual(got, ['answer to request 60', 'answer to request 60']);
    assert.equal(client.inFlight, 0);
    assert.equal(client.strayAnswers, 0);
    assert.equal(client.state, 'CONNECTED');
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.framed, false, 'no marked message (no heartbeat, no framed request) reached the server');
    assert.equal(sessions[0]!.heartbeats, false);
    assert.equal(sessions[0]!.requests, 66);
    client.close();
    client.close();
    assert.equal(client.state, 'CLOSED');
    await waitFor(() => JSON.stringify(clientSkein.driver.conductor.resourceCounts()) === JSON.stringify(clientBefore), 10_000, 'the client side to be released');
  } finally {
    clientSkein.destroy();
    serverSkein.destroy();
  }
});

test('a plain request that times out drops the pair: its late answer never reaches a later request', { timeout: 30_000 }, async () => {
  const ch = await channels();
  const serverSkein = launch(23);
  const clientSkein = launch(24);
  const changes: ResponseClientStateChange[] = [];
  try {
    await ResponseServer.start(serverSkein.client, {
      ...ch,
      handler: async (request) => {
        const t = text(request);
        if (t === 'slow') await delay(400);
        return `echo ${t}`;
      },
    });
    const client = new ResponseClient(clientSkein.client, { ...ch, ...PLAIN, seed: 2, onStateChange: (c) => changes.push(c) });
    await client.connected({ timeoutMs: 10_000 });
    const firstSession = client.sessionId;
    assert.equal(text(await client.request('one')), 'echo one');
    const slow = client.request('slow', { timeoutMs: 100 });
    const behind = client.request('behind', { timeoutMs: 5000 });
    await assert.rejects(slow, (error: unknown) => {
      assert.equal(codeOf(error), ErrorCode.REQUEST_TIMEOUT);
      assert.match((error as Error).message, /timeoutMs=100/);
      return true;
    });
    // The request behind it waited for the same stream of answers: it fails at once, retryably.
    await assert.rejects(behind, (error: unknown) => {
      assert.equal(codeOf(error), ErrorCode.PEER_LOST);
      assert.ok(isRetryable(error));
      assert.match((error as Error).message, /pair was dropped .*ERR_SKEIN_REQUEST_TIMEOUT/);
      return true;
    });
    await client.connected({ timeoutMs: 10_000 });
    assert.notEqual(client.sessionId, firstSession, 'a new request publication');
    // The late answers ("echo slow", "echo behind") went to the old pair; these get their own.
    for (let i = 0; i < 5; i++) assert.equal(text(await client.request(`after ${i}`)), `echo after ${i}`);
    await delay(500); // past the late answers
    assert.equal(text(await client.request('last')), 'echo last');
    assert.equal(client.strayAnswers, 0);
    assert.deepEqual(transitions(changes), ['CONNECTING->CONNECTED', 'CONNECTED->RECONNECTING', 'RECONNECTING->CONNECTED']);
    assert.match(changes.find((c) => c.to === 'RECONNECTING')!.reason, /was sent and then given up \(ERR_SKEIN_REQUEST_TIMEOUT\)/);
    client.close();
  } finally {
    clientSkein.destroy();
    serverSkein.destroy();
  }
});

test('plain abort: before sending costs nothing, after sending drops the pair; the in-flight bound holds', { timeout: 30_000 }, async () => {
  const ch = await channels();
  const serverSkein = launch(25);
  const clientSkein = launch(26);
  try {
    await ResponseServer.start(serverSkein.client, { ...ch, handler: async (r) => (text(r) === 'slow' ? delay(200).then(() => 'late') : `echo ${text(r)}`) });
    const client = new ResponseClient(clientSkein.client, { ...ch, ...PLAIN, maxInFlight: 2, seed: 3 });
    await client.connected({ timeoutMs: 10_000 });
    const session = client.sessionId;
    const early = new AbortController();
    early.abort();
    await assert.rejects(client.request('x', { signal: early.signal }), (error: unknown) => codeOf(error) === ErrorCode.ABORTED);

    const a = client.request('slow');
    const b = client.request('slow');
    await assert.rejects(client.request('third'), (error: unknown) => codeOf(error) === ErrorCode.IN_FLIGHT_LIMIT);
    assert.deepEqual((await Promise.all([a, b])).map(text), ['late', 'late']);
    assert.equal(client.sessionId, session, 'nothing was given up after sending: the pair stays');

    const controller = new AbortController();
    const sent = client.request('slow', { signal: controller.signal });
    controller.abort();
    // From the abort until the duty cycle drops the pair, nothing more is sent on it.
    const rightAfter = client.request('right after');
    await assert.rejects(sent, (error: unknown) => codeOf(error) === ErrorCode.ABORTED);
    await assert.rejects(rightAfter, (error: unknown) => {
      assert.equal(codeOf(error), ErrorCode.NOT_CONNECTED);
      assert.match((error as Error).message, /pair is being dropped: request -?\d+ was sent and then given up \(ERR_SKEIN_ABORTED\)/);
      return true;
    });
    await waitFor(() => client.state !== 'CONNECTED', 5000, 'the pair to be dropped');
    await client.connected({ timeoutMs: 10_000 });
    assert.notEqual(client.sessionId, session);
    assert.equal(text(await client.request('fresh')), 'echo fresh');
    await delay(300); // past the aborted request's late answer, which went to the old pair
    assert.equal(text(await client.request('fresher')), 'echo fresher');
    assert.equal(client.strayAnswers, 0);
    client.close();
  } finally {
    clientSkein.destroy();
    serverSkein.destroy();
  }
});

test('the server goes away and comes back: in-flight plain requests fail, the client reconnects by itself', { timeout: 40_000 }, async () => {
  const ch = await channels();
  let serverSkein = launch(27);
  const clientSkein = launch(28);
  const changes: ResponseClientStateChange[] = [];
  try {
    await ResponseServer.start(serverSkein.client, { ...ch, handler: (r) => (text(r) === 'hang' ? new Promise<string>(() => {}) : `first ${text(r)}`) });
    const client = new ResponseClient(clientSkein.client, { ...ch, ...PLAIN, seed: 4, onStateChange: (c) => changes.push(c) });
    await client.connected({ timeoutMs: 10_000 });
    assert.equal(text(await client.request('one')), 'first one');
    const inFlight = client.request('hang', { timeoutMs: 30_000 });
    serverSkein.destroy(); // no goodbye: the response image times out, the publication loses its status messages
    await assert.rejects(inFlight, (error: unknown) => {
      assert.equal(codeOf(error), ErrorCode.PEER_LOST);
      assert.ok(isRetryable(error));
      assert.match((error as Error).message, /channel=aeron:udp\?endpoint=127\.0\.0\.1:\d+ streamId=10000 sessionId=-?\d+ correlationId=-?\d+/);
      return true;
    });
    assert.equal(client.state, 'RECONNECTING');
    const lost = changes.find((c) => c.to === 'RECONNECTING')!;
    assert.match(lost.reason, /went away|ended response stream|lost its connection/);
    await assert.rejects(client.request('while down'), (error: unknown) => codeOf(error) === ErrorCode.NOT_CONNECTED);
    serverSkein = launch(29);
    await ResponseServer.start(serverSkein.client, { ...ch, handler: (r) => `again ${text(r)}` });
    await client.connected({ timeoutMs: 15_000 });
    assert.equal(text(await client.request('two')), 'again two');
    assert.deepEqual(transitions(changes), ['CONNECTING->CONNECTED', 'CONNECTED->RECONNECTING', 'RECONNECTING->CONNECTED']);
    assert.equal(client.strayAnswers, 0);
    client.close();
  } finally {
    clientSkein.destroy();
    serverSkein.destroy();
  }
});

test('a server closing gracefully ends the response stream; the plain client rebuilds', { timeout: 30_000 }, async () => {
  const ch = await channels();
  const serverSkein = launch(30);
  const clientSkein = launch(31);
  const changes: ResponseClientStateChange[] = [];
  try {
    let server = await ResponseServer.start(serverSkein.client, { ...ch, handler: (r) => `first ${text(r)}` });
    const client = new ResponseClient(clientSkein.client, { ...ch, ...PLAIN, seed: 5, onStateChange: (c) => changes.push(c) });
    await client.connected({ timeoutMs: 10_000 });
    assert.equal(text(await client.request('one')), 'first one');
    server.close();
    await waitFor(() => client.state !== 'CONNECTED', 10_000, 'the client to notice');
    assert.match(changes.find((c) => c.to === 'RECONNECTING')!.reason, /ended response stream|went away|lost its connection/);
    server = await ResponseServer.start(serverSkein.client, { ...ch, handler: (r) => `second ${text(r)}` });
    await client.connected({ timeoutMs: 10_000 });
    assert.equal(text(await client.request('two')), 'second two');
    client.close();
    server.close();
  } finally {
    clientSkein.destroy();
    serverSkein.destroy();
  }
});

test('a handler failing on a plain request ends that session instead of leaving a gap in the answers', { timeout: 30_000 }, async () => {
  const ch = await channels();
  const serverSkein = launch(32);
  const clientSkein = launch(33);
  const reasons: string[] = [];
  const errors: unknown[] = [];
  try {
    await ResponseServer.start(serverSkein.client, {
      ...ch,
      errorHandler: (error) => errors.push(error),
      onSessionChange: (_s, _from, to, reason) => reasons.push(`${to}: ${reason}`),
      handler: async (r) => {
        const t = text(r);
        if (t === 'fail') {
          await delay(50);
          throw new Error('no such thing');
        }
        return `echo ${t}`;
      },
    });
    const client = new ResponseClient(clientSkein.client, { ...ch, ...PLAIN, seed: 6 });
    await client.connected({ timeoutMs: 10_000 });
    const failing = client.request('fail', { timeoutMs: 10_000 });
    const behind = client.request('behind', { timeoutMs: 10_000 });
    await assert.rejects(failing, (error: unknown) => codeOf(error) === ErrorCode.PEER_LOST);
    await assert.rejects(behind, (error: unknown) => codeOf(error) === ErrorCode.PEER_LOST);
    assert.ok(reasons.some((r) => /^CLOSED: the request handler failed on a plain request, which cannot carry an error: no such thing$/.test(r)), reasons.join('; '));
    assert.ok(errors.some((e) => e instanceof SkeinError && e.code === ErrorCode.HANDLER_FAILED && /no such thing/.test(e.message)), String(errors));
    await client.connected({ timeoutMs: 10_000 });
    assert.equal(text(await client.request('after')), 'echo after');
    client.close();
  } finally {
    clientSkein.destroy();
    serverSkein.destroy();
  }
});

test('plain answers waiting for an earlier one are bounded by maxQueuedResponses', { timeout: 30_000 }, async () => {
  const ch = await channels();
  const serverSkein = launch(34);
  const clientSkein = launch(35);
  const reasons: string[] = [];
  try {
    await ResponseServer.start(serverSkein.client, {
      ...ch,
      maxQueuedResponses: 2,
      onSessionChange: (_s, _from, to, reason) => reasons.push(`${to}: ${reason}`),
      handler: (r) => (text(r) === 'hang' ? new Promise<string>(() => {}) : `echo ${text(r)}`),
    });
    const client = new ResponseClient(clientSkein.client, { ...ch, ...PLAIN, seed: 7 });
    await client.connected({ timeoutMs: 10_000 });
    const pending = ['hang', 'a', 'b', 'c'].map((t) => client.request(t, { timeoutMs: 10_000 }));
    for (const p of pending) await assert.rejects(p, (error: unknown) => codeOf(error) === ErrorCode.PEER_LOST);
    assert.ok(reasons.some((r) => /^CLOSED: plain answers can no longer leave in request order .*maxQueuedResponses=2/.test(r)), reasons.join('; '));
    client.close();
  } finally {
    clientSkein.destroy();
    serverSkein.destroy();
  }
});

test('answers no request waits for are counted as stray, not handed to a later request', { timeout: 30_000 }, async () => {
  const ch = await channels();
  const serverSkein = launch(36);
  const clientSkein = launch(37);
  try {
    const extra = new TextEncoder().encode('unasked');
    await ResponseServer.start(serverSkein.client, {
      ...ch,
      onRequest: (session, correlationId, buffer, offset, length) => {
        session.respond(correlationId, buffer, offset, length);
        session.respond(correlationId, extra);
      },
    });
    const client = new ResponseClient(clientSkein.client, { ...ch, ...PLAIN, seed: 8 });
    await client.connected({ timeoutMs: 10_000 });
    assert.equal(text(await client.request('one')), 'one');
    await waitFor(() => client.strayAnswers === 1, 5000, 'the unasked answer');
    assert.equal(text(await client.request('two')), 'two');
    await waitFor(() => client.strayAnswers === 2, 5000, 'the second unasked answer');
    client.close();
  } finally {
    clientSkein.destroy();
    serverSkein.destroy();
  }
});

test('plain options are checked; with no server the client gives up at its reconnect deadline', { timeout: 20_000 }, async () => {
  const ch = await channels();
  const skein = launch(38);
  try {
    assert.throws(() => new ResponseClient(skein.client, { framing: 'plain', heartbeatIntervalMs: 100 }), /heartbeatIntervalMs does not apply with framing 'plain'/);
    assert.throws(() => new ResponseClient(skein.client, { framing: 'plain', peerTimeoutMs: 1000 }), /peerTimeoutMs does not apply with framing 'plain'/);
    assert.throws(() => new ResponseClient(skein.client, { framing: 'json' as 'plain' }), /framing=json must be 'skein' or 'plain'/);
    assert.equal(new ResponseClient(skein.client, { ...ch }).framing, 'skein');

    const changes: ResponseClientStateChange[] = [];
    const client = new ResponseClient(skein.client, { ...ch, ...PLAIN, reconnectDeadlineMs: 1500, seed: 9, onStateChange: (c) => changes.push(c) });
    await assert.rejects(client.connected(), (error: unknown) => {
      assert.equal(codeOf(error), ErrorCode.RECONNECT_FAILED);
      assert.match((error as Error).message, /reconnectDeadlineMs=1500/);
      return true;
    });
    const rebuilds = changes.filter((c) => c.from === 'CONNECTING' && c.to === 'CONNECTING');
    assert.ok(rebuilds.length >= 1, 'the pair was rebuilt at least once');
    assert.match(rebuilds[0]!.reason, /^the request publication was not connected within connectTimeoutMs=600; rebuilding in \d+ ms \(attempt 1\)$/);
  } finally {
    skein.destroy();
  }
});
