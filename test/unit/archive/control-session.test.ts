/**
 * The archive's control session state machine on real publications, with time driven by the
 * test: connect, authenticate and activate with the OK resent until the first request; refuse a
 * client of another major version; give up on a client that never connects; end a session whose
 * client stops taking responses, once nothing (not even a ping) can be sent for connectTimeoutMs;
 * end a session whose client went away; and report every end with its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { ControlSession, ARCHIVE_PROTOCOL_VERSION, type ControlResponseEncoder, type ControlSessionEnd } from '../../../src/archive/control-session.js';
import { ErrorCode } from '../../../src/util/errors.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

/** A plain test encoding: kind byte, then correlation id, relevant id, code and message. */
const encoder: ControlResponseEncoder = {
  controlResponse(buffer, controlSessionId, correlationId, relevantId, code, errorMessage) {
    const view = new DataView(buffer.buffer, buffer.byteOffset);
    view.setUint8(0, 1);
    view.setInt32(1, controlSessionId, true);
    view.setInt32(5, correlationId, true);
    view.setBigInt64(9, relevantId, true);
    view.setUint8(17, code);
    const text = new TextEncoder().encode(errorMessage);
    buffer.set(text, 18);
    return 18 + text.length;
  },
  ping(buffer, controlSessionId) {
    const view = new DataView(buffer.buffer, buffer.byteOffset);
    view.setUint8(0, 2);
    view.setInt32(1, controlSessionId, true);
    return 16;
  },
};

interface Seen {
  kind: 'response' | 'ping';
  correlationId?: number;
  relevantId?: bigint;
  code?: number;
  message?: string;
}

function decode(buffer: Uint8Array, offset: number, length: number): Seen {
  const view = new DataView(buffer.buffer, buffer.byteOffset + offset, length);
  if (view.getUint8(0) === 2) return { kind: 'ping' };
  return { kind: 'response', correlationId: view.getInt32(5, true), relevantId: view.getBigInt64(9, true), code: view.getUint8(17), message: new TextDecoder().decode(buffer.subarray(offset + 18, offset + length)) };
}

const MS = 1_000_000;

async function setUp(skein: Skein, clientVersion: number, subscribe = true) {
  const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|term-length=65536`;
  const ends: ControlSessionEnd[] = [];
  const t0 = skein.client.nanoTime();
  const session = new ControlSession({
    controlSessionId: 77, connectCorrelationId: 5, clientVersion, responseChannel: channel, responseStreamId: 20, requestImageId: 1,
    encoder, listener: { onControlSessionDone: (_s, end) => ends.push(end) }, nowNs: t0, connectTimeoutNs: 5000 * MS, livenessCheckIntervalNs: 1000 * MS,
  });
  const subscription = subscribe ? await skein.addSubscription(channel, 20) : null;
  const publication = await skein.addExclusivePublication(channel, 20);
  session.onResponsePublication(publication);
  const seen: Seen[] = [];
  const poll = (): void => {
    subscription?.poll((b, o, l) => seen.push(decode(b, o, l)), 100);
  };
  return { session, subscription, publication, ends, seen, poll, t0 };
}

test('a session connects, is authenticated with an OK resent every 200 ms, and becomes active on its first request', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 61 });
  try {
    const { session, ends, seen, poll, t0 } = await setUp(skein, ARCHIVE_PROTOCOL_VERSION);
    assert.equal(session.state, 'CONNECTING');
    await waitFor(() => {
      session.doWork(t0);
      return session.state === 'CONNECTED';
    }, 5000, 'the response publication to connect');
    session.doWork(t0);
    assert.equal(session.state, 'AUTHENTICATED');
    for (const dt of [100, 200, 300, 400]) session.doWork(t0 + dt * MS);
    await waitFor(() => {
      poll();
      return seen.length >= 3;
    }, 5000, 'the connect OKs');
    assert.ok(seen.every((s) => s.kind === 'response' && s.code === 0 && s.correlationId === 5 && s.relevantId === 77n), JSON.stringify(seen, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    assert.equal(seen.length, 3, 'the OK at once, then at 200 and 400 ms');
    assert.equal(session.onRequest(), true);
    assert.equal(session.state, 'ACTIVE');
    session.doWork(t0 + 500 * MS);
    session.doWork(t0 + 1000 * MS);
    session.doWork(t0 + 1600 * MS);
    await waitFor(() => {
      poll();
      return seen.filter((s) => s.kind === 'ping').length === 2;
    }, 5000, 'two pings, one per liveness interval');
    session.sendResponse(t0 + 1700 * MS, 9, 123n, 0);
    await waitFor(() => {
      poll();
      return seen.some((s) => s.correlationId === 9);
    }, 5000, 'a response');
    session.abort('session closed', true);
    session.abort('again', true);
    assert.equal(ends.length, 1);
    assert.equal(ends[0]!.normal, true);
    assert.match(ends[0]!.error.message, /controlSessionId=77 \(controlResponseStreamId=20 controlResponseChannel=aeron:udp\?endpoint=127\.0\.0\.1:\d+\|term-length=65536\) terminated: session closed/);
    assert.equal(ends[0]!.error.subject.state, 'ACTIVE');
  } finally {
    await skein.close();
  }
});

test('a client of another major version gets an ERROR every 200 ms and its session ends at the connect deadline', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 62 });
  try {
    const { session, ends, seen, poll, t0 } = await setUp(skein, (2 << 16) | (3 << 8) | 4);
    await waitFor(() => {
      session.doWork(t0);
      return session.state === 'CONNECTED';
    }, 5000, 'connected');
    session.doWork(t0);
    assert.equal(session.state, 'REJECTED');
    session.doWork(t0 + 1);
    session.doWork(t0 + 250 * MS);
    await waitFor(() => {
      poll();
      return seen.length === 2;
    }, 5000, 'two rejections');
    assert.equal(seen[0]!.code, 1);
    assert.equal(seen[0]!.relevantId, 77n);
    assert.equal(seen[0]!.message, 'invalid client version 2.3.4, archive is 1.12.0');
    assert.equal(session.onRequest(), false, 'a rejected session serves nothing');
    session.doWork(t0 + 5001 * MS);
    assert.equal(session.state, 'DONE');
    assert.match(ends[0]!.error.message, /terminated: failed to establish initial connection: state=REJECTED within connectTimeoutMs=5000/);
    assert.equal(ends[0]!.normal, false);
  } finally {
    await skein.close();
  }
});

test('a session whose client never connects ends at the deadline, naming its state', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 63 });
  try {
    const { session, ends, t0 } = await setUp(skein, ARCHIVE_PROTOCOL_VERSION, false);
    session.doWork(t0 + 4999 * MS);
    assert.equal(session.state, 'CONNECTING');
    session.doWork(t0 + 5000 * MS);
    assert.equal(session.state, 'DONE');
    assert.match(ends[0]!.error.message, /failed to establish initial connection: state=CONNECTING within connectTimeoutMs=5000/);
    assert.equal(ends[0]!.error.code, ErrorCode.CLOSED);
  } finally {
    await skein.close();
  }
});

test('a client that stops taking responses: responses queue, pings fail, and the session ends after connectTimeoutMs', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 64 });
  try {
    const { session, ends, t0, poll } = await setUp(skein, ARCHIVE_PROTOCOL_VERSION);
    await waitFor(() => {
      session.doWork(t0);
      return session.state === 'AUTHENTICATED';
    }, 5000, 'authenticated');
    poll();
    session.onRequest();
    // Responses until the client's window is full; the client never polls again.
    const message = 'x'.repeat(900);
    const now = t0 + 10 * MS;
    // Fill the client's window; keep the test clock still while the sender and receiver settle, so
    // that the deadline starts at `now` once nothing more can be sent.
    let lastQueued = -1;
    let steady = 0;
    await waitFor(() => {
      if (session.queuedResponses === 0) for (let i = 0; i < 50; i++) session.sendResponse(now, i, 0n, 1, message);
      session.doWork(now);
      steady = session.queuedResponses > 0 && session.queuedResponses === lastQueued ? steady + 1 : 0;
      lastQueued = session.queuedResponses;
      return steady >= 50;
    }, 10_000, 'the window to fill and stay full');
    session.doWork(now + 4999 * MS);
    assert.equal(session.state, 'ACTIVE', 'within connectTimeoutMs it waits');
    session.doWork(now + 5000 * MS);
    assert.equal(session.state, 'DONE');
    assert.match(ends[0]!.error.message, /terminated: failed to send response for more than connectTimeoutMs=5000/);
    assert.equal(ends[0]!.normal, false);
  } finally {
    await skein.close();
  }
});

test('a session whose client went away ends as "not connected", a normal end', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 65 });
  try {
    const { session, ends, subscription, t0 } = await setUp(skein, ARCHIVE_PROTOCOL_VERSION);
    await waitFor(() => {
      session.doWork(t0);
      return session.state === 'AUTHENTICATED';
    }, 5000, 'authenticated');
    session.onRequest();
    subscription!.close();
    await waitFor(() => {
      session.doWork(skein.client.nanoTime());
      return session.state === 'DONE';
    }, 10_000, 'the session to see its client gone');
    assert.match(ends[0]!.error.message, /terminated: control response publication is not connected/);
    assert.equal(ends[0]!.normal, true);
  } finally {
    await skein.close();
  }
});
