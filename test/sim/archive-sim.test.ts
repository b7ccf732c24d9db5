import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SimWorld } from '../../src/sim/sim-world.js';
import { MemoryFiles } from '../../src/env/memory-files.js';
import { Archive } from '../../src/archive/archive.js';
import { ArchiveClient } from '../../src/archive/archive-client.js';
import type { ControlSessionEnd } from '../../src/archive/archive-codes.js';
import { FragmentAssembler } from '../../src/logbuffer/fragment-assembler.js';
import type { SkeinError } from '../../src/util/errors.js';
import { simNode, type SimNode } from '../support/sim-node.js';
import type { DriverOptions } from '../../src/driver/driver-context.js';

/**
 * The archive's control sessions and the archive client's connect and keepalive, stepped by the
 * simulator from a seed: the real driver, client, archive (files in memory) and archive client
 * on a simulated clock over a network that loses, duplicates, delays and reorders datagrams.
 *
 * A "stalled event loop" is a node whose agents (its driver and its client, with the archive
 * client on it) are not stepped for a while, as when a Node.js process is stuck in a long
 * synchronous task or a GC pause: nothing it would do on its duty cycle happens (no status
 * messages, no polling, no keepalives); datagrams sent to it still land in its sockets, as the
 * kernel would queue them.
 */
const CONTROL = 'aeron:udp?endpoint=127.0.0.1:8010';
const RESPONSE = 'aeron:udp?endpoint=127.0.0.1:0';
const RECORDED = 'aeron:udp?endpoint=127.0.0.1:20140';
const REPLAY = 'aeron:udp?endpoint=127.0.0.1:20141';
const CONNECT_TIMEOUT_MS = 2000;
const MESSAGE_TIMEOUT_MS = 3000;
const TICK_NS = 200_000;

/** The drivers' own defaults for the timeouts a stall runs into (the test profile shortens them). */
const DRIVER_TIMEOUTS: DriverOptions = { publicationConnectionTimeoutNs: 5_000_000_000, imageLivenessTimeoutNs: 10_000_000_000 };

const LOSSY = { lossRate: 0.05, duplicateRate: 0.02, reorderRate: 0.02, delayRate: 0.02, delayMinMs: 1, delayMaxMs: 5 };

interface Run {
  readonly world: SimWorld;
  readonly archiveNode: SimNode;
  readonly archive: Archive;
  readonly ends: { atMs: number; controlSessionId: number; end: ControlSessionEnd }[];
  readonly log: string[];
}

function ms(world: SimWorld): number {
  return world.clock.nanoTime() / 1e6;
}

/** Steps the world, letting promise callbacks run between steps, until `done()` or the budget is spent. */
async function stepUntil(world: SimWorld, done: () => boolean, maxSteps: number, what: string): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    if (done()) return;
    world.step();
    for (let j = 0; j < 4; j++) await Promise.resolve();
  }
  if (!done()) throw new Error(`${what} not reached after ${maxSteps} steps (seed ${world.seed}, t=${ms(world)} ms)`);
}

/** Steps until the promise settles; returns its value or throws its error. */
async function settle<T>(world: SimWorld, promise: Promise<T>, what: string, maxSteps = 100_000): Promise<T> {
  let outcome: { value: T } | { error: unknown } | null = null;
  promise.then(
    (value) => (outcome = { value }),
    (error: unknown) => (outcome = { error }),
  );
  await stepUntil(world, () => outcome !== null, maxSteps, what);
  const o = outcome as unknown as { value: T } | { error: unknown };
  if ('error' in o) throw o.error;
  return o.value;
}

async function runFor(world: SimWorld, durationMs: number): Promise<void> {
  const endNs = world.clock.nanoTime() + durationMs * 1e6;
  await stepUntil(world, () => world.clock.nanoTime() >= endNs, Math.ceil((durationMs * 1e6) / TICK_NS) + 10, `${durationMs} ms`);
}

/** The node's agents stop being stepped for `durationMs`, then go on where they were. */
async function stall(world: SimWorld, node: SimNode, durationMs: number): Promise<void> {
  const agents = [...node.driver.agents, node.client];
  for (const agent of agents) assert.ok(world.pauseAgent(agent));
  await runFor(world, durationMs);
  for (const agent of agents) assert.ok(world.resumeAgent(agent));
}

/** The node stops dead: its agents are no longer stepped and its sockets close, with no goodbye. */
function crash(world: SimWorld, node: SimNode): void {
  world.removeAgent(node.client);
  for (const agent of node.driver.agents) world.removeAgent(agent);
  node.driver.close();
}

async function startArchive(seed: number, faults: typeof LOSSY | undefined, driverOptions: DriverOptions = {}): Promise<Run> {
  const world = new SimWorld({ seed, tickNs: TICK_NS, network: { trace: true, ...(faults === undefined ? {} : { faults }) } });
  const log: string[] = [];
  const ends: Run['ends'] = [];
  const archiveNode = simNode(world, driverOptions);
  const archive = await settle(
    world,
    Archive.launch(archiveNode.client, {
      dir: '/archive',
      files: new MemoryFiles(),
      epochClock: world.clock,
      seed,
      controlChannel: CONTROL,
      connectTimeoutNs: CONNECT_TIMEOUT_MS * 1e6,
      sessionLivenessCheckIntervalNs: 500_000_000,
      segmentFileLength: 64 * 1024,
      lowStorageSpaceThreshold: 0,
      onSessionEnd: (controlSessionId, end) => {
        ends.push({ atMs: ms(world), controlSessionId, end });
        log.push(`${ms(world)} session ${controlSessionId} ended: ${end.normal ? 'normal' : 'abnormal'}: ${end.reason}`);
      },
    }),
    'archive launch',
  );
  return { world, archiveNode, archive, ends, log };
}

function connect(run: Run, node: SimNode, errors: SkeinError[]): Promise<ArchiveClient> {
  return settle(
    run.world,
    ArchiveClient.connect(node.client, {
      controlRequestChannel: CONTROL,
      controlResponseChannel: RESPONSE,
      messageTimeoutMs: MESSAGE_TIMEOUT_MS,
      onError: (error) => {
        errors.push(error);
        run.log.push(`${ms(run.world)} client error ${error.code}: ${error.message}`);
      },
    }),
    'archive connect',
  );
}

function messageOf(i: number, length: number): Uint8Array {
  const m = new Uint8Array(length);
  new DataView(m.buffer).setUint32(0, i, true);
  for (let j = 4; j < length; j++) m[j] = (i * 31 + j) & 0xff;
  return m;
}

function finish(run: Run, nodes: SimNode[]): { trace: string; networkHash: string } {
  for (const node of [...nodes, run.archiveNode]) {
    node.client.close();
    node.driver.close();
  }
  const result = { trace: createHash('sha256').update(run.log.join('\n')).digest('hex'), networkHash: run.world.network.traceHash() };
  run.world.close();
  return result;
}

/**
 * Connect over a lossy network, record a stream the client publishes, replay it back byte for
 * byte, then leave the client alone for a minute (no call into it at all) and use it again;
 * finally close it and see the archive end the session at once.
 */
async function recordReplayIdle(seed: number): Promise<{ trace: string; networkHash: string; log: string[] }> {
  const run = await startArchive(seed, LOSSY);
  const { world, log } = run;
  const node = simNode(world);
  const errors: SkeinError[] = [];
  const startMs = ms(world);
  const client = await connect(run, node, errors);
  log.push(`${ms(world)} connected: session ${client.controlSessionId} archive ${client.archiveId}`);
  assert.ok(ms(world) - startMs < MESSAGE_TIMEOUT_MS, `connected within messageTimeoutMs (took ${ms(world) - startMs} ms)`);

  const subscriptionId = await settle(world, client.startRecording(RECORDED, 1001), 'startRecording');
  const publication = await settle(world, node.client.addExclusivePublication(RECORDED, 1001), 'publication');
  await stepUntil(world, () => publication.isConnected, 50_000, 'recording connects');
  const count = 200;
  for (let i = 0; i < count; i++) {
    const m = messageOf(i, 40 + ((i * 37) % 600));
    await stepUntil(world, () => publication.offer(m, 0, m.length) > 0, 50_000, `offer ${i}`);
  }
  const endPosition = publication.position;
  const [descriptor] = await settle(world, client.listRecordingsForUri(0, 10, 'endpoint=127.0.0.1:20140', 1001), 'list');
  assert.ok(descriptor !== undefined, 'the recording is listed');
  const recordingId = descriptor.recordingId;
  let recorded = -1;
  for (let attempt = 0; attempt < 200 && recorded < endPosition; attempt++) {
    recorded = await settle(world, client.getRecordingPosition(recordingId), 'getRecordingPosition');
    if (recorded < endPosition) await runFor(world, 20);
  }
  assert.equal(recorded, endPosition, 'everything published is recorded despite the losses');
  await settle(world, client.stopRecordingSubscription(subscriptionId), 'stopRecording');
  publication.close();
  assert.equal(await settle(world, client.getStopPosition(recordingId), 'getStopPosition'), endPosition);
  log.push(`${ms(world)} recorded ${recordingId} to ${endPosition}`);

  const replaySessionId = await settle(world, client.replay(recordingId, descriptor.startPosition, endPosition - descriptor.startPosition, REPLAY, 1002), 'replay');
  const replayed: Uint8Array[] = [];
  const assembler = new FragmentAssembler((buffer: Uint8Array, offset: number, length: number) => replayed.push(buffer.slice(offset, offset + length)));
  const replaySubscription = await settle(world, node.client.addSubscription(`${REPLAY}|session-id=${Number(BigInt.asIntN(32, replaySessionId))}`, 1002), 'replay subscription');
  await stepUntil(world, () => (replaySubscription.poll(assembler.onFragment, 64), replayed.length >= count), 200_000, 'replay');
  for (let i = 0; i < count; i++) assert.deepEqual(replayed[i], messageOf(i, 40 + ((i * 37) % 600)), `replayed message ${i}`);
  replaySubscription.close();
  log.push(`${ms(world)} replayed ${replayed.length}`);

  // A minute with no call into the client: it polls and takes pings on its own duty cycle.
  await runFor(world, 60_000);
  assert.equal(client.state, 'CONNECTED', `still connected after a minute alone\n${log.join('\n')}`);
  assert.equal(run.ends.length, 0, `the archive ended no session\n${log.join('\n')}`);
  assert.equal(await settle(world, client.getStopPosition(recordingId), 'request after a minute'), endPosition);

  const closedMs = ms(world);
  const sessionId = client.controlSessionId;
  await settle(world, client.close(), 'close');
  await stepUntil(world, () => run.ends.length > 0, 50_000, 'session end after close');
  const end = run.ends[0]!;
  assert.equal(end.controlSessionId, sessionId);
  assert.equal(end.end.normal, true, `a close is a normal end: ${end.end.reason}`);
  assert.match(end.end.reason, /session closed/);
  assert.ok(end.atMs - closedMs < 100, `the session ends at once (${end.atMs - closedMs} ms after close)`);
  assert.deepEqual(errors, [], 'no client error');
  return { ...finish(run, [node]), log };
}

test('over a lossy network a client connects, records, replays byte for byte, keeps its session a minute untouched and closes; same seed, same run', { timeout: 300_000 }, async () => {
  const first = await recordReplayIdle(11);
  const second = await recordReplayIdle(11);
  assert.equal(second.trace, first.trace, 'same seed, same events');
  assert.equal(second.networkHash, first.networkHash, 'same seed, same datagrams');
  const other = await recordReplayIdle(12);
  assert.notEqual(other.networkHash, first.networkHash, 'another seed, another run');
});

test('a client whose event loop stalls for less than the timeouts keeps its session', { timeout: 120_000 }, async () => {
  for (const seed of [21, 22, 23]) {
    const run = await startArchive(seed, LOSSY, DRIVER_TIMEOUTS);
    const node = simNode(run.world, DRIVER_TIMEOUTS);
    const errors: SkeinError[] = [];
    const client = await connect(run, node, errors);
    await runFor(run.world, 1000);
    // Longer than the archive's connectTimeoutMs and ping interval, shorter than the drivers' timeouts.
    await stall(run.world, node, 3000);
    await runFor(run.world, 3000);
    assert.equal(client.state, 'CONNECTED', `seed ${seed}\n${run.log.join('\n')}`);
    assert.equal(run.ends.length, 0, `seed ${seed}: no session ended\n${run.log.join('\n')}`);
    assert.equal(await settle(run.world, client.getRecordingPosition(0), 'request after the stall'), -1, 'the archive answers (no such recording)');
    assert.deepEqual(errors, [], `seed ${seed}: no client error`);
    await settle(run.world, client.close(), 'close');
    finish(run, [node]);
  }
});

test('a client whose event loop stalls past the timeout loses its session with errors naming it on both sides, and connects again', { timeout: 120_000 }, async () => {
  for (const seed of [31, 32]) {
    const run = await startArchive(seed, LOSSY, DRIVER_TIMEOUTS);
    const node = simNode(run.world, DRIVER_TIMEOUTS);
    const errors: SkeinError[] = [];
    const client = await connect(run, node, errors);
    const sessionId = client.controlSessionId;
    await runFor(run.world, 1000);
    const stalledMs = ms(run.world);
    await stall(run.world, node, 8000);
    const log = `seed ${seed}\n${run.log.join('\n')}`;
    // No status messages from the client for the publication connection timeout: the archive's
    // response publication is no longer connected and the archive ends the session (as Aeron's does).
    // An idle image repeats its status message every 625 ms (statusMessageMaxIntervalNs, capped at
    // an eighth of the 5 s timeout), so the last one may have gone out up to that long before the stall.
    assert.equal(run.ends.length, 1, log);
    const end = run.ends[0]!;
    assert.equal(end.controlSessionId, sessionId);
    const stalledForMs = end.atMs - stalledMs;
    assert.ok(stalledForMs >= 5000 - 625 && stalledForMs <= 5000 + 1000, `ended ${stalledForMs} ms into the stall\n${log}`);
    const message = end.end.error.message;
    assert.match(message, /terminated: control response publication is not connected/, message);
    assert.equal(end.end.error.subject.streamId, 20, message);
    assert.match(String(end.end.error.subject.channel), /127\.0\.0\.1/, message);
    assert.match(message, new RegExp(`controlSessionId=${sessionId} `), message);
    // Back on its feet, the client finds its session gone and says so; a new one works.
    await stepUntil(run.world, () => client.state === 'DISCONNECTED', 100_000, 'client notices').catch((e: Error) => {
      throw new Error(`${e.message}\n${run.log.join('\n')}`);
    });
    assert.equal(errors.length, 1, run.log.join('\n'));
    assert.equal(errors[0]!.code, 'ERR_SKEIN_NOT_CONNECTED');
    assert.match(errors[0]!.message, new RegExp(`session ${sessionId} ended`));
    await assert.rejects(client.getStopPosition(0), (e: SkeinError) => e.code === 'ERR_SKEIN_NOT_CONNECTED');
    const again = await connect(run, node, errors);
    assert.notEqual(again.controlSessionId, sessionId);
    assert.equal(await settle(run.world, again.getStopPosition(0), 'request on the new session').catch((e: SkeinError) => e.code), 'ERR_SKEIN_ARCHIVE_REQUEST_FAILED');
    await settle(run.world, again.close(), 'close');
    await settle(run.world, client.close(), 'close of the lost client');
    finish(run, [node]);
  }
});

test('a client that dies without a word has its session ended with the reason, within the timeouts', { timeout: 120_000 }, async () => {
  for (const seed of [41, 42]) {
    const run = await startArchive(seed, LOSSY);
    const node = simNode(run.world);
    const client = await connect(run, node, []);
    const sessionId = client.controlSessionId;
    await runFor(run.world, 500);
    const crashedMs = ms(run.world);
    crash(run.world, node);
    await stepUntil(run.world, () => run.ends.length > 0, 100_000, 'session end');
    const end = run.ends[0]!;
    const log = `seed ${seed}\n${run.log.join('\n')}`;
    assert.equal(end.controlSessionId, sessionId);
    // The response publication loses its subscriber (publication connection timeout, 1 s here)
    // or the request image goes (image liveness, 2 s here), whichever comes first.
    assert.ok(end.atMs - crashedMs <= 2000 + 500, `ended ${end.atMs - crashedMs} ms after the crash\n${log}`);
    assert.match(end.end.error.message, new RegExp(`controlSessionId=${sessionId} `), end.end.error.message);
    assert.match(end.end.error.message, /control response publication is not connected|control request publication image unavailable/, end.end.error.message);
    finish(run, []);
  }
});

test('a connect with no archive fails at its deadline naming the step; once the archive is up a connect succeeds', { timeout: 120_000 }, async () => {
  const world = new SimWorld({ seed: 51, tickNs: TICK_NS, network: { faults: LOSSY } });
  const node = simNode(world);
  const started = ms(world);
  const error = await settle(
    world,
    ArchiveClient.connect(node.client, { controlRequestChannel: CONTROL, controlResponseChannel: RESPONSE, messageTimeoutMs: 1000 }).then(
      () => null,
      (e: SkeinError) => e,
    ),
    'connect',
  );
  assert.ok(error !== null, 'the connect fails');
  assert.equal(error.code, 'ERR_SKEIN_TIMEOUT');
  assert.match(error.message, /step=AWAIT_CONNECTED/);
  assert.match(error.message, /requestChannel=aeron:udp\?endpoint=127\.0\.0\.1:8010/);
  assert.ok(ms(world) - started >= 1000 && ms(world) - started < 1100, `failed at its deadline (${ms(world) - started} ms)`);
  const archiveNode = simNode(world);
  const archive = await settle(world, Archive.launch(archiveNode.client, { dir: '/archive', files: new MemoryFiles(), epochClock: world.clock, controlChannel: CONTROL, lowStorageSpaceThreshold: 0 }), 'launch');
  const client = await settle(world, ArchiveClient.connect(node.client, { controlRequestChannel: CONTROL, controlResponseChannel: RESPONSE, messageTimeoutMs: 3000 }), 'connect');
  assert.equal(client.state, 'CONNECTED');
  assert.equal(archive.controlSessionCount, 1);
  await settle(world, client.close(), 'close');
  for (const n of [node, archiveNode]) {
    n.client.close();
    n.driver.close();
  }
  world.close();
});
