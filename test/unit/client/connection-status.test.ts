/**
 * Waiting for connections and following them: `connected()` on publications and subscriptions,
 * bounded by `timeoutMs` (ERR_SKEIN_TIMEOUT) and an AbortSignal (an AbortError whose cause is the
 * signal's reason), listeners and async iterators of connection events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { ErrorCode, SkeinError, isAbortError } from '../../../src/util/errors.js';
import type { ConnectionEvent } from '../../../src/client/connection-status.js';
import { ResponseClient } from '../../../src/response/response-client.js';
import { waitFor, freeUdpPort } from '../../support/wait.js';

function launch(seed: number): Skein {
  return Skein.launch({ testProfile: true, seed, env: {}, errorHandler: () => {} });
}

const isCode = (code: string) => (error: unknown): boolean => error instanceof SkeinError && error.code === code;

test('publication.connected() resolves once a subscriber is there, over UDP, and the README sequence then delivers', { timeout: 15_000 }, async () => {
  const skein = launch(301);
  try {
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const publication = await skein.addPublication(channel, 1);
    assert.equal(publication.offer(new Uint8Array(4)), -1, 'NOT_CONNECTED before anyone subscribes');
    const waiting = publication.connected({ timeoutMs: 5000 });
    const subscription = await skein.addSubscription(channel, 1);
    await waiting;
    assert.equal(publication.isConnected, true);
    assert.ok(publication.offer(new Uint8Array(4)) > 0);
    await subscription.connected({ timeoutMs: 5000 });
    assert.equal(subscription.isConnected, true);
    await publication.connected(); // already connected: at once
  } finally {
    await skein.close();
  }
});

test('a wait that passes its timeoutMs rejects with ERR_SKEIN_TIMEOUT naming the timeout, not as an abort', { timeout: 10_000 }, async () => {
  const skein = launch(302);
  try {
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const publication = await skein.addPublication(channel, 2);
    const subscription = await skein.addSubscription('aeron:ipc', 2);
    const started = Date.now();
    await assert.rejects(publication.connected({ timeoutMs: 100 }), (error: SkeinError) => {
      assert.equal(error.code, ErrorCode.TIMEOUT);
      assert.equal(error.name, 'SkeinError');
      assert.equal(isAbortError(error), false);
      assert.equal(error.subject.timeoutMs, 100);
      assert.equal(error.subject.sessionId, publication.sessionId);
      assert.match(error.message, /publication not connected within 100 ms .*channel=aeron:udp.*streamId=2.*timeoutMs=100.*state=NOT_CONNECTED/);
      return true;
    });
    assert.ok(Date.now() - started >= 100);
    await assert.rejects(subscription.connected({ timeoutMs: 50 }), isCode(ErrorCode.TIMEOUT));
  } finally {
    await skein.close();
  }
});

test('an aborted wait rejects with an AbortError whose cause is signal.reason; AbortSignal.timeout gives a TimeoutError cause', { timeout: 10_000 }, async () => {
  const skein = launch(303);
  try {
    const publication = await skein.addPublication(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`, 3);
    const controller = new AbortController();
    const reason = new Error('user gave up');
    const waiting = publication.connected({ signal: controller.signal });
    controller.abort(reason);
    await assert.rejects(waiting, (error: SkeinError) => {
      assert.equal(error.name, 'AbortError');
      assert.equal(error.cause, reason);
      assert.equal(error.code, ErrorCode.ABORTED);
      assert.ok(isAbortError(error));
      assert.match(error.message, /streamId=3/);
      return true;
    });
    await assert.rejects(publication.connected({ signal: AbortSignal.timeout(30) }), (error: Error) => {
      assert.equal(error.name, 'AbortError');
      assert.equal((error.cause as Error).name, 'TimeoutError', 'a deadline from AbortSignal.timeout is told apart by its cause');
      return true;
    });
    const already = AbortSignal.abort('before');
    await assert.rejects(publication.connected({ signal: already }), (error: Error) => error.name === 'AbortError' && error.cause === 'before');
  } finally {
    await skein.close();
  }
});

test('a wait whose publication or subscription closes rejects with ERR_SKEIN_CLOSED; bad options name the bad value', { timeout: 10_000 }, async () => {
  const skein = launch(304);
  try {
    const publication = await skein.addPublication(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`, 4);
    const subscription = await skein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`, 4);
    const pubWait = publication.connected();
    const subWait = subscription.connected();
    publication.close();
    subscription.close();
    await assert.rejects(pubWait, isCode(ErrorCode.CLOSED));
    await assert.rejects(subWait, isCode(ErrorCode.CLOSED));
    await assert.rejects(publication.connected(), isCode(ErrorCode.CLOSED));
    const open = await skein.addPublication('aeron:ipc', 5);
    for (const [options, names] of [
      [{ timeoutMs: -1 }, 'timeoutMs=-1'],
      [{ timeoutMs: 0 }, 'timeoutMs=0'],
      [{ timeoutMs: Number.NaN }, 'timeoutMs=NaN'],
      [{ signal: 'soon' }, 'signal must be an AbortSignal, got string'],
    ] as const) {
      await assert.rejects(open.connected(options as never), (error: SkeinError) => error.code === ErrorCode.ARG_INVALID && error.message.includes(names));
    }
  } finally {
    await skein.close();
  }
});

test('connection events: listeners and iterators see connected, disconnected and closed, in order', { timeout: 15_000 }, async () => {
  const skein = launch(305);
  try {
    const publication = await skein.addPublication('aeron:ipc', 6);
    const heard: string[] = [];
    const stop = publication.onConnectionChange((event) => heard.push(event.type));
    const iterated: ConnectionEvent[] = [];
    const iteration = (async () => {
      for await (const event of publication.connectionEvents()) iterated.push(event);
    })();
    const subscription = await skein.addSubscription('aeron:ipc', 6);
    await waitFor(() => heard.length === 1, 5000, 'connected');
    subscription.close();
    await waitFor(() => heard.length === 2, 5000, 'disconnected');
    publication.close();
    await iteration;
    assert.deepEqual(heard, ['connected', 'disconnected', 'closed']);
    assert.deepEqual(iterated.map((e) => e.type), ['connected', 'disconnected', 'closed']);
    for (const event of iterated) {
      assert.equal(event.channel, 'aeron:ipc');
      assert.equal(event.streamId, 6);
      assert.equal(event.sessionId, publication.sessionId);
    }
    stop();
  } finally {
    await skein.close();
  }
});

test('subscription events name each image; an iterator whose signal aborts throws an AbortError; closing Skein ends iterators', { timeout: 15_000 }, async () => {
  const skein = launch(306);
  try {
    const subscription = await skein.addSubscription('aeron:ipc', 7);
    const events: ConnectionEvent[] = [];
    subscription.onConnectionChange((event) => events.push(event));
    const first = await skein.addPublication('aeron:ipc', 7);
    const second = await skein.addExclusivePublication('aeron:ipc', 7);
    await waitFor(() => subscription.imageCount === 2, 5000, 'two images');
    first.close();
    await waitFor(() => subscription.imageCount === 1, 5000, 'one image left');
    assert.deepEqual(
      events.map((e) => [e.type, e.sessionId, e.imageCount]),
      [
        ['image-available', first.sessionId, 1],
        ['connected', undefined, undefined],
        ['image-available', second.sessionId, 2],
        ['image-unavailable', first.sessionId, 1],
      ],
    );
    assert.ok(events.filter((e) => e.type.startsWith('image')).every((e) => typeof e.sourceIdentity === 'string'));

    const controller = new AbortController();
    const aborted = (async () => {
      for await (const _event of subscription.connectionEvents({ signal: controller.signal })) {
        // nothing happens before the abort
      }
    })();
    controller.abort(new Error('stop following'));
    await assert.rejects(aborted, (error: Error) => error.name === 'AbortError' && (error.cause as Error).message === 'stop following');

    const ending = (async () => {
      const seen: string[] = [];
      for await (const event of subscription.connectionEvents()) seen.push(event.type);
      return seen;
    })();
    await skein.close();
    assert.deepEqual(await ending, ['closed']);
  } finally {
    await skein.close();
  }
});

test('ResponseClient.connected: ERR_SKEIN_TIMEOUT on its deadline, AbortError on its signal', { timeout: 10_000 }, async () => {
  const skein = launch(307);
  try {
    const client = new ResponseClient(skein.client, {
      requestChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`,
      responseControlChannel: `aeron:udp?control=127.0.0.1:${await freeUdpPort()}`,
    });
    await assert.rejects(client.connected({ timeoutMs: 100 }), (error: SkeinError) => error.code === ErrorCode.TIMEOUT && error.subject.timeoutMs === 100);
    const reason = new Error('enough');
    const controller = new AbortController();
    const waiting = client.connected({ signal: controller.signal });
    controller.abort(reason);
    await assert.rejects(waiting, (error: Error) => error.name === 'AbortError' && error.cause === reason);
    const request = client.request('x', { signal: AbortSignal.abort(reason) });
    await assert.rejects(request, (error: Error) => error.name === 'AbortError' && error.cause === reason);
    client.close();
    await assert.rejects(client.connected(), isCode(ErrorCode.CLOSED));
  } finally {
    await skein.close();
  }
});
