/**
 * A callback that throws never jams a stream: its fragment (or request, or event) counts as
 * handled, the error is reported once to the error handler with code ERR_SKEIN_HANDLER_FAILED
 * naming what it is about, the handler-errors counter moves, and everything after it still comes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import { ControlledPollAction } from '../../../src/logbuffer/controlled-poll-action.js';
import type { Header } from '../../../src/logbuffer/header.js';
import type { Publication } from '../../../src/client/publication.js';
import type { Subscription } from '../../../src/client/subscription.js';
import { ResponseServer } from '../../../src/response/response-server.js';
import { ResponseClient } from '../../../src/response/response-client.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { waitFor, freeUdpPort } from '../../support/wait.js';

interface Harness {
  readonly skein: Skein;
  readonly errors: SkeinError[];
  handlerErrorCount(): number;
}

function launch(seed: number): Harness {
  const errors: SkeinError[] = [];
  const skein = Skein.launch({
    testProfile: true,
    seed,
    errorHandler: (error) => {
      assert.ok(error instanceof SkeinError, `only SkeinErrors reach the handler, got ${String(error)}`);
      errors.push(error);
    },
  });
  const values = skein.driver.counters.values;
  const id = skein.driver.handlerErrorsCounterId;
  return { skein, errors, handlerErrorCount: () => values[id]! };
}

const encoder = new TextEncoder();
const text = (buffer: Uint8Array, offset: number, length: number): string => new TextDecoder().decode(buffer.subarray(offset, offset + length));

async function offerAll(publication: Publication, messages: readonly (string | Uint8Array)[]): Promise<void> {
  await publication.connected({ timeoutMs: 5000 });
  for (const message of messages) {
    const bytes = typeof message === 'string' ? encoder.encode(message) : message;
    const deadline = Date.now() + 5000;
    while (publication.offer(bytes) < 0) {
      if (Date.now() > deadline) throw new Error('offer kept failing');
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

async function pair(skein: Skein, channel: string, streamId: number): Promise<{ subscription: Subscription; publication: Publication }> {
  const subscription = await skein.addSubscription(channel, streamId);
  const publication = await skein.addPublication(channel, streamId);
  return { subscription, publication };
}

function assertHandlerError(error: SkeinError | undefined, subject: { channel: string; streamId: number; sessionId: number }, message: RegExp): void {
  assert.ok(error !== undefined, 'an error was reported');
  assert.equal(error.code, ErrorCode.HANDLER_FAILED);
  assert.equal(error.subject.channel, subject.channel);
  assert.equal(error.subject.streamId, subject.streamId);
  assert.equal(error.subject.sessionId, subject.sessionId);
  assert.match(error.message, message);
  assert.ok(error.cause instanceof Error, 'the thrown error is the cause');
}

for (const channel of ['aeron:ipc', 'udp']) {
  test(`poll over ${channel}: the handler throws on message 2 of 4, gets each message once, and the error is reported once with its position`, { timeout: 15_000 }, async () => {
    const h = launch(101);
    try {
      const uri = channel === 'udp' ? `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}` : channel;
      const { subscription, publication } = await pair(h.skein, uri, 7);
      await offerAll(publication, ['m1', 'm2', 'm3', 'm4']);
      const seen: string[] = [];
      let message2Position = -1;
      const handler = (buffer: Uint8Array, offset: number, length: number, header: Header): void => {
        const m = text(buffer, offset, length);
        seen.push(m);
        if (m === 'm2') {
          message2Position = header.position - 64;
          throw new Error('handler bug on m2');
        }
      };
      const deadline = Date.now() + 5000;
      let polls = 0;
      while (seen.length < 4 && Date.now() < deadline) {
        subscription.poll(handler, 10);
        polls++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (let i = 0; i < 20; i++) subscription.poll(handler, 10); // nothing is delivered again
      assert.deepEqual(seen, ['m1', 'm2', 'm3', 'm4']);
      assert.ok(polls >= 2, 'the throw ended the first poll early');
      assert.equal(h.errors.length, 1);
      assertHandlerError(h.errors[0], { channel: uri, streamId: 7, sessionId: publication.sessionId }, /fragment handler threw: handler bug on m2/);
      assert.equal(h.errors[0]!.subject.position, message2Position);
      assert.match(h.errors[0]!.message, new RegExp(`position=${message2Position}`));
      assert.equal(h.handlerErrorCount(), 1);
      assert.equal(subscription.images[0]!.position, publication.position, 'the subscriber position reached the end');
    } finally {
      await h.skein.close();
    }
  });
}

test('onFragment with a FragmentAssembler: a throw on a fragmented message and on a small one stops nothing', { timeout: 15_000 }, async () => {
  const h = launch(102);
  try {
    const { subscription, publication } = await pair(h.skein, 'aeron:ipc', 8);
    const big = new Uint8Array(5000).fill(7);
    const seen: number[] = [];
    subscription.onFragment(
      new FragmentAssembler((buffer, offset, length) => {
        seen.push(length);
        if (length === 5000 || length === 2) throw new Error(`refusing ${length}`);
      }).onFragment,
    );
    await offerAll(publication, [new Uint8Array(1), big, new Uint8Array(2), new Uint8Array(3), big, new Uint8Array(4)]);
    await waitFor(() => seen.length >= 6, 5000, 'all six messages');
    assert.deepEqual(seen, [1, 5000, 2, 3, 5000, 4]);
    assert.equal(h.errors.length, 3);
    for (const error of h.errors) assertHandlerError(error, { channel: 'aeron:ipc', streamId: 8, sessionId: publication.sessionId }, /refusing (5000|2)/);
    assert.equal(h.handlerErrorCount(), 3);
    assert.equal(new Set(h.errors.map((e) => e.subject.position)).size, 3, 'each report names its own position');
  } finally {
    await h.skein.close();
  }
});

test('controlledPoll: a throw consumes the fragment; an ABORT before it still redelivers', { timeout: 15_000 }, async () => {
  const h = launch(103);
  try {
    const { subscription, publication } = await pair(h.skein, 'aeron:ipc', 9);
    await offerAll(publication, ['a', 'b', 'c', 'd']);
    await waitFor(() => subscription.isConnected, 5000, 'image');
    const seen: string[] = [];
    let abortedOnce = false;
    const handler = (buffer: Uint8Array, offset: number, length: number): ControlledPollAction => {
      const m = text(buffer, offset, length);
      if (m === 'a' && !abortedOnce) {
        abortedOnce = true;
        return ControlledPollAction.ABORT;
      }
      seen.push(m);
      if (m === 'b') throw new Error('controlled handler bug');
      return ControlledPollAction.CONTINUE;
    };
    const deadline = Date.now() + 5000;
    while (seen.length < 4 && Date.now() < deadline) {
      subscription.controlledPoll(handler, 10);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(seen, ['a', 'b', 'c', 'd']);
    assert.equal(h.errors.length, 1);
    assertHandlerError(h.errors[0], { channel: 'aeron:ipc', streamId: 9, sessionId: publication.sessionId }, /controlled handler bug/);
    assert.equal(h.handlerErrorCount(), 1);
  } finally {
    await h.skein.close();
  }
});

test('messages(): a loop body that throws loses nothing; the next loop starts after the last message seen', { timeout: 15_000 }, async () => {
  const h = launch(104);
  try {
    const { subscription, publication } = await pair(h.skein, 'aeron:ipc', 10);
    await offerAll(publication, ['one', 'two', 'three', 'four']);
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const message of subscription.messages()) {
        const m = new TextDecoder().decode(message.data);
        seen.push(m);
        if (m === 'two') throw new Error('loop body failed');
      }
    }, /loop body failed/);
    for await (const message of subscription.messages()) {
      seen.push(new TextDecoder().decode(message.data));
      if (seen.length === 4) break;
    }
    assert.deepEqual(seen, ['one', 'two', 'three', 'four']);
    assert.equal(h.errors.length, 0, "the loop's own error went to the loop, not the error handler");
  } finally {
    await h.skein.close();
  }
});

test('image handlers and connection listeners that throw are reported, and the subscription works on', { timeout: 15_000 }, async () => {
  const h = launch(105);
  try {
    const subscription = await h.skein.addSubscription('aeron:ipc', 11, {
      onAvailableImage: () => {
        throw new Error('available handler bug');
      },
    });
    const events: string[] = [];
    subscription.onConnectionChange(() => {
      throw new Error('listener bug');
    });
    subscription.onConnectionChange((event) => events.push(event.type));
    const publication = await h.skein.addPublication('aeron:ipc', 11);
    await offerAll(publication, ['x']);
    const seen: string[] = [];
    subscription.onFragment((buffer, offset, length) => seen.push(text(buffer, offset, length)));
    await waitFor(() => seen.length === 1, 5000, 'the message');
    assert.deepEqual(events, ['image-available', 'connected']);
    const codes = h.errors.map((e) => e.code);
    assert.deepEqual(codes, [ErrorCode.HANDLER_FAILED, ErrorCode.HANDLER_FAILED, ErrorCode.HANDLER_FAILED]);
    assert.match(h.errors[0]!.message, /onAvailableImage threw: available handler bug/);
    assert.match(h.errors[1]!.message, /connection listener \(image-available\) threw: listener bug/);
    assert.match(h.errors[2]!.message, /connection listener \(connected\) threw: listener bug/);
    assert.equal(h.handlerErrorCount(), 3);
  } finally {
    await h.skein.close();
  }
});

test('request handlers that throw or reject: that request fails at the client, the error is reported once, the session goes on', { timeout: 20_000 }, async () => {
  const h = launch(106);
  try {
    const requestChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const responseControlChannel = `aeron:udp?control=127.0.0.1:${await freeUdpPort()}`;
    const ends = { requestChannel, responseControlChannel };
    const server = await ResponseServer.start(h.skein.client, {
      ...ends,
      handler: (request) => {
        const m = new TextDecoder().decode(request);
        if (m === 'throw') throw new Error('sync handler bug');
        if (m === 'reject') return Promise.reject(new Error('async handler bug'));
        return `ok ${m}`;
      },
    });
    const states: string[] = [];
    const client = new ResponseClient(h.skein.client, { ...ends, onStateChange: (change) => {
      states.push(change.to);
      throw new Error('state listener bug');
    } });
    await client.connected({ timeoutMs: 10_000 });
    assert.equal(new TextDecoder().decode(await client.request('1')), 'ok 1');
    await assert.rejects(client.request('throw'), (e: SkeinError) => e.code === ErrorCode.REQUEST_FAILED && /sync handler bug/.test(e.message));
    await assert.rejects(client.request('reject'), (e: SkeinError) => e.code === ErrorCode.REQUEST_FAILED && /async handler bug/.test(e.message));
    assert.equal(new TextDecoder().decode(await client.request('2')), 'ok 2');
    const handlerErrors = h.errors.filter((e) => /request handler threw/.test(e.message));
    assert.equal(handlerErrors.length, 2);
    for (const error of handlerErrors) {
      assert.equal(error.code, ErrorCode.HANDLER_FAILED);
      assert.equal(error.subject.channel, requestChannel);
      assert.equal(error.subject.sessionId, client.sessionId);
      assert.equal(typeof error.subject.correlationId, 'number');
    }
    const listenerErrors = h.errors.filter((e) => /onStateChange listener/.test(e.message));
    assert.equal(listenerErrors.length, states.length, 'each listener call that threw was reported');
    assert.ok(states.includes('CONNECTED'));
    assert.equal(h.handlerErrorCount(), handlerErrors.length + listenerErrors.length);
    client.close();
    server.close();
  } finally {
    await h.skein.close();
  }
});
