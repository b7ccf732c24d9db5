/**
 * The cluster client against three members over UDP, every member and the client with a Skein of
 * its own, commands sent all along: it finds the leader and opens a session; when the leader is
 * killed it follows the new one on the same session; when the whole cluster stops it waits for a
 * new leader, then reconnects by itself with a new session once the cluster is back; every
 * command resolves (answered, failed or unknown, never hanging); every answered put is in every
 * member's state; and `isConnected` reads true exactly in CONNECTED, sampled throughout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { ClusterMember, type ClusterMemberEndpoint } from '../../../src/cluster/cluster-member.js';
import { ClusterClient, DEFAULT_CLIENT_TERM_LENGTH, type ClusterClientStateChange } from '../../../src/cluster/cluster-client.js';
import { DEFAULT_INGRESS_STREAM_ID, SESSION_HEADER_LENGTH } from '../../../src/cluster/cluster-ingress.js';
import { SessionKeepAliveEncoder } from '../../../src/cluster/codecs/cluster-codecs.js';
import type { ClusteredService } from '../../../src/cluster/service/service-container.js';
import { KvService, decodeKv, encodeKv, type KvAnswer } from '../../../src/cluster/service/kv-service.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { SeededPrng } from '../../../src/env/prng.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

const SETTINGS = { leaderHeartbeatTimeoutNs: 1_500_000_000, leaderHeartbeatIntervalNs: 100_000_000, electionTimeoutNs: 300_000_000, startupCanvassTimeoutNs: 3_000_000_000 };

interface Running {
  readonly skein: Skein;
  readonly member: ClusterMember;
  readonly kv: KvService;
}

test('cluster client: follows a new leader on its session, reconnects by itself after the whole cluster stops, and every command resolves', { timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-client-'));
  const endpoints: ClusterMemberEndpoint[] = [];
  for (let id = 0; id < 3; id++) endpoints.push({ id, consensus: `127.0.0.1:${await freeUdpPort()}`, ingress: `127.0.0.1:${await freeUdpPort()}` });
  const running: (Running | null)[] = [null, null, null];
  const errors: unknown[] = [];
  let round = 0;
  const start = async (id: number): Promise<void> => {
    const skein = Skein.launch({ testProfile: true, seed: 600 + round++ * 10 + id, dir: join(root, `skein-${round}-${id}`), errorHandler: (e) => errors.push(e) });
    const kv = new KvService();
    try {
      const member = await ClusterMember.launch(skein.client, {
        memberId: id, members: endpoints, clusterDir: join(root, `member-${id}`), service: kv, settings: SETTINGS, seed: id + 1,
        archiveOptions: { segmentFileLength: 1024 * 1024, lowStorageSpaceThreshold: 0 },
      });
      running[id] = { skein, member, kv };
    } catch (error) {
      skein.destroy();
      throw error;
    }
  };
  const stop = async (id: number): Promise<void> => {
    const r = running[id]!;
    running[id] = null;
    await r.member.close();
    await r.skein.close();
  };
  const leader = (): Running | undefined => running.find((r) => r !== null && r.member.role === 'LEADER' && r.member.electionState === 'CLOSED') ?? undefined;
  const clientSkein = Skein.launch({ testProfile: true, seed: 699, dir: join(root, 'client') });
  let client: ClusterClient | null = null;
  const changes: ClusterClientStateChange[] = [];
  const samples: [string, boolean][] = [];
  const acked = new Map<string, string>();
  const outcomes = { answered: 0, failed: 0, unknown: 0 };
  let sampler: NodeJS.Timeout | null = null;
  try {
    for (let id = 0; id < 3; id++) await start(id);
    await waitFor(() => leader() !== undefined, 20_000, 'a leader');
    client = await ClusterClient.connect(clientSkein.client, { ingressEndpoints: endpoints.map((m) => m.ingress!), random: new SeededPrng(9), commandTimeoutMs: 8000 });
    client.onStateChange((c) => changes.push(c));
    const c = client;
    sampler = setInterval(() => samples.push([c.state, c.isConnected]), 5);
    assert.equal(client.state, 'CONNECTED');
    assert.equal(client.leaderId, leader()!.member.memberId);
    const firstSession = client.sessionId;

    // Commands, a few at a time, for as long as `until` says.
    let n = 0;
    const pump = async (until: () => boolean): Promise<void> => {
      while (!until()) {
        const batch = Array.from({ length: 4 }, () => {
          const key = `k${n++}`;
          const value = `v${n}`;
          return c.send(encodeKv({ op: 'put', key, value })).then(
            (answer) => {
              assert.deepEqual(decodeKv<KvAnswer>(answer), { ok: true });
              acked.set(key, value);
              outcomes.answered++;
            },
            (error: unknown) => {
              assert.ok(error instanceof SkeinError, String(error));
              if (error.code === ErrorCode.CLUSTER_COMMAND_FAILED) outcomes.failed++;
              else if (error.code === ErrorCode.CLUSTER_COMMAND_UNKNOWN) outcomes.unknown++;
              else assert.fail(`unexpected ${error.code}: ${error.message}`);
            },
          );
        });
        await Promise.all(batch);
      }
    };
    await pump(() => outcomes.answered >= 40);

    // The leader dies: the client follows the new one on the same session.
    const first = leader()!;
    const killed = first.member.memberId;
    running[killed] = null;
    first.skein.destroy();
    const followed = pump(() => client!.state === 'CONNECTED' && client!.leaderId !== killed && outcomes.answered >= 80);
    await waitFor(() => changes.some((ch) => ch.to === 'AWAITING_LEADER'), 20_000, 'the loss of the leader noticed');
    await followed;
    assert.equal(client.sessionId, firstSession, 'the same session under the new leader');
    assert.ok(changes.some((ch) => ch.from === 'AWAITING_LEADER' && ch.to === 'CONNECTED' && ch.leaderId !== killed), JSON.stringify(changes));

    // The whole cluster stops; the client waits, then reconnects by itself once it is back.
    for (const r of running.map((x, i) => (x === null ? -1 : i)).filter((i) => i >= 0)) await stop(r);
    const during = c.send(encodeKv({ op: 'put', key: 'during', value: 'stop' })).then(
      () => 'answered',
      (error: SkeinError) => error.code,
    );
    await waitFor(() => client!.state === 'RECONNECTING', 20_000, 'RECONNECTING after no new leader');
    assert.equal(client.isConnected, false);
    for (let id = 0; id < 3; id++) await start(id);
    await waitFor(() => client!.state === 'CONNECTED', 30_000, 'reconnected by itself');
    assert.notEqual(client.sessionId, firstSession, 'a new session after the whole cluster restarted');
    const outcome = await during;
    assert.ok(['answered', ErrorCode.CLUSTER_COMMAND_FAILED, ErrorCode.CLUSTER_COMMAND_UNKNOWN].includes(outcome), `the command sent while stopped resolved: ${outcome}`);
    const before = outcomes.answered;
    await pump(() => outcomes.answered >= before + 40);
    assert.equal(client.inFlight, 0, 'nothing left hanging');

    // Every answered put is in every member's state.
    await waitFor(() => running.every((r) => r !== null && [...acked].every(([k, v]) => r.kv.digest().includes(`["${k}","${v}"]`))), 20_000, 'every acknowledged put on every member');
    // The state read truthfully throughout.
    assert.ok(samples.length > 100, `samples ${samples.length}`);
    for (const [state, connected] of samples) assert.equal(connected, state === 'CONNECTED', `isConnected ${connected} in ${state}`);
    assert.deepEqual([...new Set(changes.map((ch) => `${ch.from}>${ch.to}`))].sort(), ['AWAITING_LEADER>CONNECTED', 'AWAITING_LEADER>RECONNECTING', 'CONNECTED>AWAITING_LEADER', 'RECONNECTING>CONNECTED']);
    assert.ok(outcomes.answered >= 120, JSON.stringify(outcomes));
  } finally {
    if (sampler !== null) clearInterval(sampler);
    await client?.close();
    for (let id = 0; id < 3; id++) if (running[id] !== null) await stop(id);
    await clientSkein.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('cluster client: endpoints that are not host:port are refused naming them; no member answering ends in RECONNECT_FAILED at the deadline', { timeout: 30_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-client-bad-'));
  const skein = Skein.launch({ testProfile: true, seed: 701, dir: join(root, 'client') });
  try {
    await assert.rejects(ClusterClient.connect(skein.client, { ingressEndpoints: ['localhost'] }), /member 0: ingress endpoint 'localhost' is not host:port/);
    await assert.rejects(ClusterClient.connect(skein.client, { ingressEndpoints: '0=a:1,x' }), /ingress endpoint 'x' is not id=host:port/);
    await assert.rejects(ClusterClient.connect(skein.client, { ingressEndpoints: [] }), /no ingress endpoints/);
    const port = await freeUdpPort();
    const started = Date.now();
    await assert.rejects(
      ClusterClient.connect(skein.client, { ingressEndpoints: [`127.0.0.1:${port}`], reconnectDeadlineMs: 500, random: new SeededPrng(1) }),
      (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.RECONNECT_FAILED && new RegExp(`no session within 500 ms \\(members 0 at 127\\.0\\.0\\.1:${port}\\)`).test(e.message),
    );
    assert.ok(Date.now() - started < 5000, 'bounded by the deadline');
  } finally {
    await skein.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('cluster client: the ingress channel\'s parameters go to every member\'s publication and the egress channel\'s to the leader\'s answers; commands and answers larger than the default MTU pass; both channels take 1 MiB terms unless they name a term length, which bounds a command; a command longer than one frame is put together whole on each side, one longer than the log takes is refused naming both lengths and the session goes on; a bad ingress channel is refused naming it', { timeout: 30_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-client-mtu-'));
  const endpoints: ClusterMemberEndpoint[] = [{ id: 0, consensus: `127.0.0.1:${await freeUdpPort()}`, ingress: `127.0.0.1:${await freeUdpPort()}` }];
  const memberSkein = Skein.launch({ testProfile: true, seed: 711, dir: join(root, 'member') });
  const clientSkein = Skein.launch({ testProfile: true, seed: 712, dir: join(root, 'client') });
  let member: ClusterMember | null = null;
  let client: ClusterClient | null = null;
  const labels = (skein: Skein, prefix: string): string[] => {
    const found: string[] = [];
    skein.driver.counters.forEach((_id, _typeId, _value, label) => {
      if (label.startsWith(prefix)) found.push(label);
    });
    return found;
  };
  try {
    await assert.rejects(ClusterClient.connect(clientSkein.client, { ingressEndpoints: endpoints.map((m) => m.ingress!), ingressChannel: 'udp?mtu=8192' }), /udp\?mtu=8192/);
    member = await ClusterMember.launch(memberSkein.client, { memberId: 0, members: endpoints, clusterDir: join(root, 'member-0'), service: new KvService(), settings: SETTINGS, seed: 1 });
    await waitFor(() => member!.role === 'LEADER' && member!.electionState === 'CLOSED', 20_000, 'a leader');
    client = await ClusterClient.connect(clientSkein.client, {
      ingressEndpoints: endpoints.map((m) => m.ingress!), ingressChannel: 'aeron:udp?mtu=8192', egressChannel: 'aeron:udp?endpoint=127.0.0.1:0|mtu=8192', random: new SeededPrng(3),
    });
    const ingress = labels(clientSkein, 'pub-pos').filter((l) => l.includes(endpoints[0]!.ingress!));
    assert.equal(ingress.length, 1, `one ingress publication: ${labels(clientSkein, 'pub-pos').join('; ')}`);
    assert.match(ingress[0]!, /mtu=8192/);
    const value = 'v'.repeat(5000);
    assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'put', key: 'big', value }))), { ok: true });
    assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'get', key: 'big' }))), { value });
    // The member's own publications (consensus, log, archive) keep their MTU: only the egress has the client's.
    const egress = labels(memberSkein, 'pub-pos').filter((l) => l.includes('mtu=8192'));
    assert.equal(egress.length, 1, `the leader answers on the client's channel with its mtu: ${labels(memberSkein, 'pub-pos').join('; ')}`);
    // Neither channel named a term length: both got the client's default, which bounds a command.
    assert.match(ingress[0]!, new RegExp(`term-length=${DEFAULT_CLIENT_TERM_LENGTH}`));
    assert.match(egress[0]!, new RegExp(`term-length=${DEFAULT_CLIENT_TERM_LENGTH}`));
    const defaultMax = DEFAULT_CLIENT_TERM_LENGTH / 8 - SESSION_HEADER_LENGTH;
    await assert.rejects(client.send(new Uint8Array(defaultMax + 1)), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.MESSAGE_TOO_LONG && e.message.includes(`longer than the ${defaultMax} the ingress takes`));
    // Channels that name a term length keep it (the leader's answers too), and so take longer commands.
    await client.close();
    client = await ClusterClient.connect(clientSkein.client, {
      ingressEndpoints: endpoints.map((m) => m.ingress!), ingressChannel: 'aeron:udp?term-length=2m', egressChannel: 'aeron:udp?endpoint=127.0.0.1:0|term-length=2m', random: new SeededPrng(4),
    });
    assert.ok(labels(clientSkein, 'pub-pos').some((l) => l.includes(endpoints[0]!.ingress!) && l.includes('term-length=2m')), `ingress with its own term length: ${labels(clientSkein, 'pub-pos').join('; ')}`);
    assert.ok(labels(memberSkein, 'pub-pos').some((l) => l.includes('term-length=2m')), `the leader answers with the client's term length: ${labels(memberSkein, 'pub-pos').join('; ')}`);
    // At the default MTU a long command and its answer travel in fragments, put together whole on each side.
    const longValue = 'w'.repeat(131_000);
    assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'put', key: 'long', value: longValue }))), { ok: true });
    assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'get', key: 'long' }))), { value: longValue });
    // Longer than the log takes (an eighth of its 1 MiB terms): refused at once, naming both lengths, and the session goes on.
    const tooLongForLog = encodeKv({ op: 'put', key: 'longer', value: 'x'.repeat(200_000) });
    const maxForLog = member.maxCommandLength;
    await assert.rejects(client.send(tooLongForLog), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CLUSTER_COMMAND_FAILED && e.message.includes(`a command of ${tooLongForLog.length} bytes is longer than the ${maxForLog} the cluster's log takes`));
    assert.equal(client.state, 'CONNECTED');
    // In process too: ClusterMember.offer refuses it before anything is appended.
    assert.throws(() => member!.offer(1, 1_000_000, tooLongForLog), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.MESSAGE_TOO_LONG && e.message.includes(`a command of ${tooLongForLog.length} bytes is longer than the ${maxForLog}`));
    assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'get', key: 'longer' }))), { value: null });
    assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'put', key: 'after', value: 'a' }))), { ok: true });
  } finally {
    await client?.close();
    await member?.close();
    await clientSkein.close();
    await memberSkein.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * A one-member cluster serving `service` (its Skein's errors into `memberErrors`) and a client's
 * Skein; `run` gets them once the member leads. Everything is closed after, even on failure,
 * with the clients `run` tracked.
 */
async function withOneMember(
  name: string,
  seed: number,
  service: ClusteredService,
  run: (t: { endpoints: ClusterMemberEndpoint[]; member: ClusterMember; clientSkein: Skein; memberErrors: unknown[]; track: (c: ClusterClient) => ClusterClient }) => Promise<void>,
): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), `skein-cluster-client-${name}-`));
  const endpoints: ClusterMemberEndpoint[] = [{ id: 0, consensus: `127.0.0.1:${await freeUdpPort()}`, ingress: `127.0.0.1:${await freeUdpPort()}` }];
  const memberErrors: unknown[] = [];
  const memberSkein = Skein.launch({ testProfile: true, seed, dir: join(root, 'member'), errorHandler: (e) => memberErrors.push(e) });
  const clientSkein = Skein.launch({ testProfile: true, seed: seed + 1, dir: join(root, 'client') });
  const clients: ClusterClient[] = [];
  let member: ClusterMember | null = null;
  try {
    member = await ClusterMember.launch(memberSkein.client, { memberId: 0, members: endpoints, clusterDir: join(root, 'member-0'), service, settings: SETTINGS, seed: 1 });
    await waitFor(() => member!.role === 'LEADER' && member!.electionState === 'CLOSED', 20_000, 'a leader');
    await run({ endpoints, member, clientSkein, memberErrors, track: (c) => (clients.push(c), c) });
  } finally {
    for (const c of clients) await c.close();
    await member?.close();
    await clientSkein.close();
    await memberSkein.close();
    rmSync(root, { recursive: true, force: true });
  }
}

test('cluster client: a NewLeaderEvent naming the leader and term it has changes nothing: no state change, and in-order commands go on', { timeout: 30_000 }, async () => {
  await withOneMember('same-leader', 741, new KvService(), async ({ endpoints, member, clientSkein, track }) => {
    const client = track(await ClusterClient.connect(clientSkein.client, { ingressEndpoints: endpoints.map((m) => m.ingress!), random: new SeededPrng(7), answers: 'in-order' }));
    assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'put', key: 'a', value: '1' }))), { ok: true });
    const changes: ClusterClientStateChange[] = [];
    client.onStateChange((c) => changes.push(c));
    // A keep-alive of an older term on the client's session: the leader answers with its
    // NewLeaderEvent, the leader and term the client already has.
    const raw = await clientSkein.client.addExclusivePublication(`aeron:udp?endpoint=${endpoints[0]!.ingress!}`, DEFAULT_INGRESS_STREAM_ID);
    const keepAlive = new Uint8Array(8 + 16);
    new SessionKeepAliveEncoder().wrapAndApplyHeader(keepAlive, 0).leadershipTermId(client.leadershipTermId - 1).clusterSessionId(client.sessionId);
    const announced = member.ingress!.stats.newLeaderEvents;
    await waitFor(() => raw.offer(keepAlive) >= 0, 5000, 'keep-alive offered');
    await waitFor(() => member.ingress!.stats.newLeaderEvents > announced, 5000, 'the NewLeaderEvent sent');
    // The answer comes after it on the same publication: once answered, the event was read.
    assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'get', key: 'a' }))), { value: '1' });
    assert.deepEqual(changes, []);
    assert.equal(client.state, 'CONNECTED');
    raw.close();
  });
});

test('cluster client: an answer longer than the client\'s egress takes is not sent: the member reports it, the command fails with MESSAGE_TOO_LONG saying it was applied, and the session goes on', { timeout: 30_000 }, async () => {
  let applied = 0;
  // Answers a command whose first byte is 1 with 200,000 bytes, more than a 1 MiB-term egress takes.
  const service: ClusteredService = { onSessionMessage: (_session, _timestamp, payload) => (applied++, new Uint8Array(payload[0] === 1 ? 200_000 : 3)) };
  await withOneMember('long-answer', 731, service, async ({ endpoints, member, clientSkein, memberErrors, track }) => {
    const client = track(await ClusterClient.connect(clientSkein.client, { ingressEndpoints: endpoints.map((m) => m.ingress!), random: new SeededPrng(5), commandTimeoutMs: 10_000 }));
    assert.equal((await client.send(new Uint8Array([0]))).length, 3);
    const max = DEFAULT_CLIENT_TERM_LENGTH / 8 - SESSION_HEADER_LENGTH;
    await assert.rejects(client.send(new Uint8Array([1])), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.MESSAGE_TOO_LONG
      && /^command \d+\/\d+ was applied, but the answer of 200000 bytes is longer than the \d+ the client's egress takes/.test(e.message) && e.message.includes(`the ${max} the client's egress takes`));
    assert.equal(applied, 2, 'the command was applied');
    assert.equal(client.state, 'CONNECTED');
    assert.equal((await client.send(new Uint8Array([0]))).length, 3, 'the session goes on');
    assert.ok(memberErrors.some((e) => e instanceof SkeinError && e.code === ErrorCode.MESSAGE_TOO_LONG && e.message.includes('was applied, but the answer of 200000 bytes')), `the member reports it: ${memberErrors.map(String).join('; ')}`);
    assert.equal(member.role, 'LEADER');
  });
});

test('cluster client: sendWith reports each answer to its listener with the token and the answer in place, a listener may send again from its call, one that throws is reported and the client goes on, close ends the rest through onError, each command ending once even when a listener closes the client among commands timing out together; bad payloads are refused naming them, by send and sendWith alike', { timeout: 30_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-client-listener-'));
  const endpoints: ClusterMemberEndpoint[] = [{ id: 0, consensus: `127.0.0.1:${await freeUdpPort()}`, ingress: `127.0.0.1:${await freeUdpPort()}` }];
  const memberSkein = Skein.launch({ testProfile: true, seed: 721, dir: join(root, 'member') });
  const handlerErrors: unknown[] = [];
  const clientSkein = Skein.launch({ testProfile: true, seed: 722, dir: join(root, 'client'), errorHandler: (e) => handlerErrors.push(e) });
  let member: ClusterMember | null = null;
  let client: ClusterClient | null = null;
  let second: ClusterClient | null = null;
  try {
    member = await ClusterMember.launch(memberSkein.client, { memberId: 0, members: endpoints, clusterDir: join(root, 'member-0'), service: new KvService(), settings: SETTINGS, seed: 1 });
    await waitFor(() => member!.role === 'LEADER' && member!.electionState === 'CLOSED', 20_000, 'a leader');
    client = await ClusterClient.connect(clientSkein.client, { ingressEndpoints: endpoints.map((m) => m.ingress!), random: new SeededPrng(4) });
    const c = client;
    // A second client whose commands time out soon, for the end.
    second = await ClusterClient.connect(clientSkein.client, { ingressEndpoints: endpoints.map((m) => m.ingress!), random: new SeededPrng(5), commandTimeoutMs: 300 });
    const c2 = second;

    // Ten puts, each answered through the listener with its own token; the answer is read in place.
    // Each answer of a put starts a get of the same key from within the call.
    const answers = new Map<number, KvAnswer>();
    const errors: [number, SkeinError][] = [];
    const listener = {
      onAnswer(token: number, buffer: Uint8Array, offset: number, length: number): void {
        answers.set(token, decodeKv<KvAnswer>(buffer.slice(offset, offset + length)));
        if (token < 100) c.sendWith(encodeKv({ op: 'get', key: `k${token}` }), listener, token + 100);
      },
      onError(token: number, error: SkeinError): void {
        errors.push([token, error]);
      },
    };
    for (let i = 0; i < 10; i++) c.sendWith(encodeKv({ op: 'put', key: `k${i}`, value: `v${i}` }), listener, i);
    await waitFor(() => answers.size === 20, 10_000, 'twenty answers');
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(answers.get(i), { ok: true }, `put ${i}`);
      assert.deepEqual(answers.get(i + 100), { value: `v${i}` }, `get ${i}`);
    }
    assert.equal(errors.length, 0, "no errors");
    assert.equal(c.inFlight, 0);

    // A listener that throws: reported as a handler error naming the command, and the next command is answered.
    const thrower = {
      onAnswer(): void {
        throw new Error('listener bug');
      },
      onError(): void {},
    };
    c.sendWith(encodeKv({ op: 'put', key: 'x', value: '1' }), thrower, 7);
    await waitFor(() => handlerErrors.length === 1, 10_000, 'the handler error');
    const reported = handlerErrors[0];
    assert.ok(reported instanceof SkeinError && reported.code === ErrorCode.HANDLER_FAILED, String(reported));
    assert.match((reported as SkeinError).message, /command listener's onAnswer threw for command \d+\/\d+ \(token 7\): listener bug/);
    assert.deepEqual(decodeKv<KvAnswer>(await c.send(encodeKv({ op: 'get', key: 'x' }))), { value: '1' });

    // Bad payloads: refused before anything is queued, naming the value.
    const tooLong = new Uint8Array(20 * 1024 * 1024);
    assert.throws(() => c.sendWith(tooLong, listener, 1), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.MESSAGE_TOO_LONG && /a command of 20971520 bytes is longer than the \d+ the ingress takes/.test(e.message));
    await assert.rejects(c.send(tooLong), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.MESSAGE_TOO_LONG);
    assert.throws(() => c.sendWith('put' as unknown as Uint8Array, listener, 1), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID && /a command must be a Uint8Array \(a Buffer is one\), got string/.test(e.message));
    await assert.rejects(c.send(null as unknown as Uint8Array), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID && /got null/.test(e.message));
    assert.equal(c.inFlight, 0, 'nothing queued by the refused ones');

    // Commands still in flight when the client closes end through onError, each once; a closed client throws CLOSED.
    const member0 = member;
    assert.ok(member0.suspend(), "suspend taken");
    await waitFor(() => member0.state === 'SUSPENDED', 10_000, 'the member suspended');
    for (let i = 0; i < 5; i++) c.sendWith(encodeKv({ op: 'put', key: `late${i}`, value: 'v' }), listener, 200 + i);
    await c.close();
    assert.deepEqual(errors.map(([token]) => token).sort(), [200, 201, 202, 203, 204]);
    for (const [, error] of errors) assert.ok(error.code === ErrorCode.CLUSTER_COMMAND_UNKNOWN || error.code === ErrorCode.CLUSTER_COMMAND_FAILED, error.message);
    assert.throws(() => c.sendWith(encodeKv({ op: 'get', key: 'x' }), listener, 1), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CLOSED);

    // Commands timing out together, the first one's onError closing the client: each ends once.
    const ended: number[] = [];
    const closer = {
      onAnswer(token: number): void {
        ended.push(token);
      },
      onError(token: number): void {
        ended.push(token);
        void c2.close();
      },
    };
    for (let i = 0; i < 5; i++) c2.sendWith(encodeKv({ op: 'put', key: `t${i}`, value: 'v' }), closer, 300 + i);
    await waitFor(() => c2.state === 'CLOSED', 10_000, 'the second client closed by its listener');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(ended.sort(), [300, 301, 302, 303, 304]);
  } finally {
    await second?.close();
    await client?.close();
    await member?.close();
    await clientSkein.close();
    await memberSkein.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('cluster client: a burst of commands many times what the ingress window takes goes out in order as room comes, each applied once and answered', { timeout: 60_000 }, async () => {
  const applied: number[] = [];
  const view = (payload: Uint8Array): DataView => new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const service: ClusteredService = { onSessionMessage: (_session, _timestamp, payload) => (applied.push(view(payload).getUint32(0, true)), payload.slice(0, 4)) };
  await withOneMember('burst', 741, service, async ({ endpoints, clientSkein, track }) => {
    // 64 KiB terms: the publication takes at most a half term ahead of the leader, about 500 of
    // these 100-byte commands; the rest wait in the client as unsent until there is room.
    const client = track(await ClusterClient.connect(clientSkein.client, { ingressEndpoints: endpoints.map((m) => m.ingress!), ingressChannel: 'aeron:udp?term-length=65536', random: new SeededPrng(6), commandTimeoutMs: 30_000 }));
    const count = 20_000;
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const payload = new Uint8Array(100);
        view(payload).setUint32(0, i, true);
        return client.send(payload);
      }),
    );
    assert.deepEqual(answers.map((a) => view(a).getUint32(0, true)), Array.from({ length: count }, (_, i) => i), 'every command answered with its own answer');
    assert.equal(applied.length, count, 'each applied once');
    assert.ok(applied.every((value, i) => value === i), 'applied in the order sent');
    assert.equal(client.state, 'CONNECTED');
  });
});
