/**
 * Aeron's client protocol against three members over UDP, spoken by hand with the schema's codecs
 * (as Aeron's Java client frames it): a follower redirects a connect to the leader with every
 * member's ingress endpoint; the leader opens a session; a command comes back answered with its
 * sequence, and sent again is answered from the session table without being applied twice; a
 * message of a newer term is dropped; an unknown client version is refused; when the leader is
 * killed the new one tells the session with NewLeaderEvent and takes its commands in the new term,
 * and a message of the old term (to the leader) or to a follower is answered with the
 * NewLeaderEvent again; a closed session's commands are dropped and its client told it is closed. Also: session timeouts, answers waiting for a slow
 * client, and commands a suspended cluster leaves unanswered ending at their deadlines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import type { Publication } from '../../../src/client/publication.js';
import { ClusterMember, type ClusterMemberEndpoint } from '../../../src/cluster/cluster-member.js';
import { CLIENT_PROTOCOL_VERSION, DEFAULT_INGRESS_STREAM_ID, SESSION_HEADER_LENGTH, STALE_REPLY_INTERVAL_NS } from '../../../src/cluster/cluster-ingress.js';
import * as codecs from '../../../src/cluster/codecs/cluster-codecs.js';
import { KvService, decodeKv, encodeKv, type KvAnswer } from '../../../src/cluster/service/kv-service.js';
import { ClusterClient } from '../../../src/cluster/cluster-client.js';
import { SeededPrng } from '../../../src/env/prng.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';
import { readEgress, type EgressRecord } from '../../support/cluster-egress.js';
import { liveSnapshots } from '../../../src/cli/live-snapshots.js';
import { CounterTypeId } from '../../../src/agent/counter-types.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { setTimeout as sleep } from 'node:timers/promises';

const SETTINGS = { leaderHeartbeatTimeoutNs: 1_500_000_000, leaderHeartbeatIntervalNs: 100_000_000, electionTimeoutNs: 300_000_000, startupCanvassTimeoutNs: 3_000_000_000 };
const EGRESS_STREAM = 102;


test('Aeron client protocol over UDP: redirect, connect, exactly-once commands, newer terms dropped, NewLeaderEvent after the leader dies and again to a client that missed it, a closed session told', { timeout: 90_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-ingress-'));
  const endpoints: ClusterMemberEndpoint[] = [];
  for (let id = 0; id < 3; id++) endpoints.push({ id, consensus: `127.0.0.1:${await freeUdpPort()}`, ingress: `127.0.0.1:${await freeUdpPort()}` });
  const skeins: (Skein | null)[] = [];
  const members: (ClusterMember | null)[] = [];
  const kvs: KvService[] = [];
  const client = Skein.launch({ testProfile: true, seed: 500, dir: join(root, 'client') });
  try {
    for (let id = 0; id < 3; id++) {
      const skein = Skein.launch({ testProfile: true, seed: 400 + id, dir: join(root, `skein-${id}`) });
      skeins.push(skein);
      const kv = new KvService();
      kvs.push(kv);
      members.push(await ClusterMember.launch(skein.client, {
        memberId: id, members: endpoints, clusterDir: join(root, `member-${id}`), service: kv, settings: SETTINGS, seed: id + 1,
        archiveOptions: { segmentFileLength: 1024 * 1024, lowStorageSpaceThreshold: 0 },
      }));
    }
    const leaderNow = (): ClusterMember | undefined => members.find((m) => m !== null && m.role === 'LEADER' && m.electionState === 'CLOSED' && members.every((o) => o === null || o.leaderId === m.memberId)) ?? undefined;
    await waitFor(() => leaderNow() !== undefined, 20_000, 'a leader');
    const leader = leaderNow()!;

    // The client's side: an egress subscription and an ingress publication to every member.
    const egressChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const egress = await client.addSubscription(egressChannel, EGRESS_STREAM);
    const received: EgressRecord[] = [];
    readEgress(egress, received);
    const ingress: Publication[] = [];
    for (const m of endpoints) ingress.push(await client.addExclusivePublication(`aeron:udp?endpoint=${m.ingress!}`, DEFAULT_INGRESS_STREAM_ID));
    const send = async (to: number, frame: Uint8Array): Promise<void> => {
      await waitFor(() => ingress[to]!.offer(frame) >= 0, 5000, `offer to member ${to}`);
    };
    const connect = (correlationId: number, version = CLIENT_PROTOCOL_VERSION): Uint8Array => {
      const b = new Uint8Array(512);
      const n = new codecs.SessionConnectRequestEncoder().wrapAndApplyHeader(b, 0).correlationId(correlationId).responseStreamId(EGRESS_STREAM).version(version)
        .responseChannel(egressChannel).encodedCredentials(new Uint8Array(0)).clientInfo('name=test').encodedLength();
      return b.slice(0, n);
    };
    const command = (term: number, sessionId: number, sequence: number, body: object): Uint8Array => {
      const payload = encodeKv(body as never);
      const b = new Uint8Array(SESSION_HEADER_LENGTH + payload.length);
      new codecs.SessionMessageHeaderEncoder().wrapAndApplyHeader(b, 0).leadershipTermId(term).clusterSessionId(sessionId).timestamp(sequence);
      b.set(payload, SESSION_HEADER_LENGTH);
      return b;
    };
    const ingressEndpoints = endpoints.map((m) => `${m.id}=${m.ingress!}`).join(',');

    // A follower redirects; the leader opens a session.
    const follower = endpoints.find((m) => m.id !== leader.memberId)!.id;
    await send(follower, connect(41));
    await waitFor(() => received.some((r) => r.kind === 'event' && r.correlationId === 41), 10_000, 'REDIRECT');
    assert.deepEqual(received.shift(), { kind: 'event', sessionId: -1, correlationId: 41, term: leader.leadershipTermId, leaderId: leader.memberId, code: codecs.EventCode.REDIRECT, detail: ingressEndpoints });
    await send(leader.memberId, connect(42));
    await waitFor(() => received.some((r) => r.kind === 'event' && r.correlationId === 42), 10_000, 'OK');
    const ok = received.shift()!;
    assert.ok(ok.kind === 'event' && ok.code === codecs.EventCode.OK && ok.sessionId >= 1 && ok.term === leader.leadershipTermId && ok.leaderId === leader.memberId, JSON.stringify(ok));
    const sessionId = ok.sessionId;
    let term = leader.leadershipTermId;

    // A command answered with its sequence; sent again, answered again and not applied twice.
    await send(leader.memberId, command(term, sessionId, 1, { op: 'cas', key: 'x', expected: null, value: 'a' }));
    await waitFor(() => received.length >= 1, 10_000, 'the answer');
    assert.deepEqual(received.shift(), { kind: 'message', sessionId, term, sequence: 1, answer: { ok: true } });
    await send(leader.memberId, command(term, sessionId, 1, { op: 'cas', key: 'x', expected: null, value: 'a' }));
    await waitFor(() => received.length >= 1, 10_000, 'the answer again');
    assert.deepEqual(received.shift(), { kind: 'message', sessionId, term, sequence: 1, answer: { ok: true } }, 'the stored answer (applied again, the CAS would fail)');
    // A newer term than the leader's: dropped without a reply. An unknown version: refused.
    await send(leader.memberId, command(term + 7, sessionId, 2, { op: 'put', key: 'y', value: 'stale' }));
    await send(leader.memberId, connect(43, 1 << 16));
    await waitFor(() => received.some((r) => r.kind === 'event' && r.correlationId === 43), 10_000, 'ERROR');
    const refused = received.shift()!;
    assert.ok(refused.kind === 'event' && refused.code === codecs.EventCode.ERROR && /invalid client version 1.0.0/.test(refused.detail), JSON.stringify(refused));
    assert.equal(received.length, 0, 'nothing for the message of another term');
    await waitFor(() => kvs.every((kv) => kv.digest() === '[["x","a"]]'), 10_000, 'every member applied the CAS once');

    // The leader dies: the new leader announces itself to the session, which goes on in the new term.
    const dead = leader.memberId;
    skeins[dead]!.destroy();
    skeins[dead] = null;
    members[dead] = null;
    await waitFor(() => received.some((r) => r.kind === 'newLeader'), 20_000, 'NewLeaderEvent');
    const announced = received.shift()!;
    assert.ok(announced.kind === 'newLeader', `a NewLeaderEvent first, not ${JSON.stringify(announced)}`);
    assert.ok(announced.sessionId === sessionId && announced.leaderId !== dead && announced.term > term && announced.endpoints === ingressEndpoints, JSON.stringify(announced));
    const oldTerm = term;
    term = announced.term;
    // A client that missed the announcement is told again: by the leader, for a message of the old
    // term; by a follower, for a message sent to it as if it led.
    const keepAlive = (t: number): Uint8Array => {
      const b = new Uint8Array(8 + 16);
      new codecs.SessionKeepAliveEncoder().wrapAndApplyHeader(b, 0).leadershipTermId(t).clusterSessionId(sessionId);
      return b;
    };
    const again = { kind: 'newLeader', sessionId, term, leaderId: announced.leaderId, endpoints: ingressEndpoints };
    await send(announced.leaderId, keepAlive(oldTerm));
    await waitFor(() => received.length >= 1, 10_000, 'NewLeaderEvent again, from the leader');
    assert.deepEqual(received.shift(), again);
    const live = endpoints.find((m) => m.id !== dead && m.id !== announced.leaderId)!.id;
    await send(live, keepAlive(term));
    await waitFor(() => received.length >= 1, 10_000, 'NewLeaderEvent from a follower');
    assert.deepEqual(received.shift(), again);
    assert.equal(members[live]!.ingress!.stats.staleTold, 1);
    await send(announced.leaderId, command(term, sessionId, 2, { op: 'put', key: 'y', value: 'b' }));
    await waitFor(() => received.length >= 1, 10_000, 'the answer from the new leader');
    assert.deepEqual(received.shift(), { kind: 'message', sessionId, term, sequence: 2, answer: { ok: true } });

    // The session closes: its commands are dropped from then on.
    const close = new Uint8Array(8 + 16);
    new codecs.SessionCloseRequestEncoder().wrapAndApplyHeader(close, 0).leadershipTermId(term).clusterSessionId(sessionId);
    await send(announced.leaderId, close);
    await waitFor(() => members.every((m) => m === null || !m.node.container.isOpen(sessionId)), 10_000, 'the session closed everywhere');
    // A message of the closed session is dropped, and the client told that the session is closed
    // (once the interval between two such replies to a session has passed since the last).
    await sleep(STALE_REPLY_INTERVAL_NS / 1e6 + 50);
    await send(announced.leaderId, command(term, sessionId, 3, { op: 'put', key: 'z', value: 'late' }));
    await waitFor(() => received.length >= 1, 10_000, 'told the session is closed');
    assert.deepEqual(received.shift(), { kind: 'event', sessionId, correlationId: -1, term, leaderId: announced.leaderId, code: codecs.EventCode.CLOSED, detail: `session ${sessionId} is closed` });
    assert.ok(members[announced.leaderId]!.ingress!.stats.dropped > 0);
    assert.ok(kvs.filter((_, i) => members[i] !== null).every((kv) => kv.digest() === '[["x","a"],["y","b"]]'));
  } finally {
    for (let id = 0; id < members.length; id++) {
      await members[id]?.close();
      await skeins[id]?.close();
    }
    await client.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a session the leader times out is told: SessionEvent CLOSED "TIMEOUT"; the ClusterClient then opens a new session by itself', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-timeout-'));
  const endpoints: ClusterMemberEndpoint[] = [{ id: 0, consensus: `127.0.0.1:${await freeUdpPort()}`, ingress: `127.0.0.1:${await freeUdpPort()}` }];
  const memberSkein = Skein.launch({ testProfile: true, seed: 450, dir: join(root, 'member') });
  const client = Skein.launch({ testProfile: true, seed: 451, dir: join(root, 'client') });
  let member: ClusterMember | null = null;
  try {
    member = await ClusterMember.launch(memberSkein.client, {
      memberId: 0, members: endpoints, clusterDir: join(root, 'member-0'), service: new KvService(), sessionTimeoutNs: 1_000_000_000,
      archiveOptions: { segmentFileLength: 1024 * 1024, lowStorageSpaceThreshold: 0 },
    });
    // By hand: a session that then stays silent.
    const egressChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const egress = await client.addSubscription(egressChannel, EGRESS_STREAM);
    const events: { sessionId: number; correlationId: number; code: number; detail: string }[] = [];
    const eventDec = new codecs.SessionEventDecoder();
    const header = new codecs.MessageHeaderDecoder();
    egress.onFragment((buffer, offset, length) => {
      if (header.wrap(buffer, offset, length).templateId() !== codecs.SessionEventDecoder.TEMPLATE_ID) return;
      const d = eventDec.wrapAndCheckHeader(buffer, offset, length);
      events.push({ sessionId: d.clusterSessionIdAsNumber(), correlationId: d.correlationIdAsNumber(), code: d.code(), detail: d.detail() });
    }, 10);
    const ingress = await client.addExclusivePublication(`aeron:udp?endpoint=${endpoints[0]!.ingress!}`, DEFAULT_INGRESS_STREAM_ID);
    const b = new Uint8Array(512);
    const n = new codecs.SessionConnectRequestEncoder().wrapAndApplyHeader(b, 0).correlationId(7).responseStreamId(EGRESS_STREAM).version(CLIENT_PROTOCOL_VERSION)
      .responseChannel(egressChannel).encodedCredentials(new Uint8Array(0)).clientInfo('').encodedLength();
    await waitFor(() => ingress.offer(b, 0, n) >= 0, 5000, 'connect');
    await waitFor(() => events.length >= 1, 10_000, 'OK');
    const sessionId = events[0]!.sessionId;
    assert.equal(events[0]!.code, codecs.EventCode.OK);
    await waitFor(() => events.length >= 2, 10_000, 'CLOSED after the session timeout');
    assert.deepEqual(events[1], { sessionId, correlationId: -1, code: codecs.EventCode.CLOSED, detail: 'TIMEOUT' });
    assert.ok(!member.node.container.isOpen(sessionId));
    // A ClusterClient whose keep-alives come too seldom: told its session closed, it opens a new one by itself.
    const cc = await ClusterClient.connect(client.client, { ingressEndpoints: [endpoints[0]!.ingress!], keepAliveIntervalMs: 60_000, random: new SeededPrng(2) });
    const changes: string[] = [];
    cc.onStateChange((ch) => changes.push(`${ch.from}>${ch.to} ${ch.sessionId}`));
    const first = cc.sessionId;
    await waitFor(() => cc.state === 'CONNECTED' && cc.sessionId !== first, 10_000, 'a new session after the timeout');
    assert.match(changes[0]!, /^CONNECTED>RECONNECTING -1$/);
    assert.deepEqual(decodeKv<KvAnswer>(await cc.send(encodeKv({ op: 'put', key: 'after', value: 'timeout' }))), { ok: true });
    await cc.close();
  } finally {
    await member?.close();
    await memberSkein.close();
    await client.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('answers wait for a client that does not take them, none dropped; past maxEgressBacklogBytes its session is closed as timed out, naming it', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-backlog-'));
  const endpoints: ClusterMemberEndpoint[] = [{ id: 0, consensus: `127.0.0.1:${await freeUdpPort()}`, ingress: `127.0.0.1:${await freeUdpPort()}` }];
  const errors: unknown[] = [];
  const memberSkein = Skein.launch({ testProfile: true, seed: 460, dir: join(root, 'member'), driver: { publishSnapshots: true, snapshotIntervalNs: 100_000_000 }, errorHandler: (e) => errors.push(e) });
  const client = Skein.launch({ testProfile: true, seed: 461, dir: join(root, 'client') });
  let member: ClusterMember | null = null;
  try {
    const limit = 64 * 1024;
    member = await ClusterMember.launch(memberSkein.client, {
      memberId: 0, members: endpoints, clusterDir: join(root, 'member-0'), service: new KvService(), maxEgressBacklogBytes: limit,
      archiveOptions: { segmentFileLength: 1024 * 1024, lowStorageSpaceThreshold: 0 },
    });
    const ingress = await client.addExclusivePublication(`aeron:udp?endpoint=${endpoints[0]!.ingress!}`, DEFAULT_INGRESS_STREAM_ID);
    const b = new Uint8Array(512);
    const offer = async (frame: Uint8Array, length = frame.length): Promise<void> => {
      await waitFor(() => ingress.offer(frame, 0, length) >= 0, 5000, 'an offer to the ingress');
    };
    const command = (sessionId: number, sequence: number, key: string): Uint8Array => {
      const payload = encodeKv({ op: 'put', key, value: 'v' });
      const frame = new Uint8Array(SESSION_HEADER_LENGTH + payload.length);
      new codecs.SessionMessageHeaderEncoder().wrapAndApplyHeader(frame, 0).leadershipTermId(member!.leadershipTermId).clusterSessionId(sessionId).timestamp(sequence);
      frame.set(payload, SESSION_HEADER_LENGTH);
      return frame;
    };
    // A session whose egress has no subscriber yet: everything for it waits at the leader.
    const egressChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const n = new codecs.SessionConnectRequestEncoder().wrapAndApplyHeader(b, 0).correlationId(9).responseStreamId(EGRESS_STREAM).version(CLIENT_PROTOCOL_VERSION)
      .responseChannel(egressChannel).encodedCredentials(new Uint8Array(0)).clientInfo('').encodedLength();
    await offer(b, n);
    await waitFor(() => [...member!.node.container.openSessionIds()].length === 1, 10_000, 'the session open');
    const sessionId = [...member.node.container.openSessionIds()][0]!;
    // More answers than the 1,024 frames a session used to keep (the oldest were dropped then).
    const count = 1500;
    for (let s = 1; s <= count; s++) await offer(command(sessionId, s, `k${s}`));
    await waitFor(() => member!.node.container.lastSequence(sessionId) === count, 20_000, 'every command applied');
    // The client subscribes late: the OK event and every answer arrive, in order.
    const egress = await client.addSubscription(egressChannel, EGRESS_STREAM);
    const sequences: number[] = [];
    let events = 0;
    const header = new codecs.MessageHeaderDecoder();
    const messageDec = new codecs.SessionMessageHeaderDecoder();
    egress.onFragment((buffer, offset, length) => {
      if (header.wrap(buffer, offset, length).templateId() === codecs.SessionMessageHeaderDecoder.TEMPLATE_ID) sequences.push(messageDec.wrapAndCheckHeader(buffer, offset, length).timestampAsNumber());
      else events++;
    }, 100);
    await waitFor(() => sequences.length === count, 20_000, 'every answer');
    assert.equal(events, 1, 'the OK event first');
    assert.deepEqual(sequences, Array.from({ length: count }, (_, i) => i + 1));
    assert.equal(member.ingress!.stats.egressBacklogClosed, 0);
    assert.equal(errors.length, 0, String(errors[0]));

    // A second session whose answers nobody takes: past the limit it is closed (TIMEOUT) and the error names it.
    const deadChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const m = new codecs.SessionConnectRequestEncoder().wrapAndApplyHeader(b, 0).correlationId(10).responseStreamId(EGRESS_STREAM).version(CLIENT_PROTOCOL_VERSION)
      .responseChannel(deadChannel).encodedCredentials(new Uint8Array(0)).clientInfo('').encodedLength();
    await offer(b, m);
    await waitFor(() => [...member!.node.container.openSessionIds()].length === 2, 10_000, 'the second session open');
    const silent = Math.max(...member.node.container.openSessionIds());
    let sent = 0;
    while (member.node.container.isOpen(silent) && sent < 5000) {
      sent++;
      await offer(command(silent, sent, `s${sent}`));
      if (sent % 100 === 0) await waitFor(() => member!.node.container.lastSequence(silent) >= sent - 100 || !member!.node.container.isOpen(silent), 10_000, 'applied');
    }
    await waitFor(() => !member!.node.container.isOpen(silent), 10_000, 'the silent session closed');
    assert.equal(member.ingress!.stats.egressBacklogClosed, 1);
    assert.ok(sent > limit / 100 && sent < 5000, `closed after ${sent} commands`);
    assert.equal(errors.length, 1);
    const error = errors[0] as Error & { code: string };
    assert.equal(error.code, 'ERR_SKEIN_LIMIT_REACHED');
    assert.match(error.message, new RegExp(`closed session ${silent} \\(TIMEOUT\\): \\d+ bytes of answers .* more than maxEgressBacklogBytes ${limit}`));
    assert.match(error.message, new RegExp(deadChannel.replace(/[.?]/g, '\\$&')));
    assert.ok(member.node.container.isOpen(sessionId), 'the other session stays open');
    // What `skein stat` shows: the member's own counts, the backlog closure among them.
    const counts = (): Map<string, number> => {
      const out = new Map<string, number>();
      for (const f of liveSnapshots(join(root, 'member'))) for (const c of f.snapshot.counters) if (c.typeId === CounterTypeId.CLUSTER_MEMBER_COUNTS) out.set(c.label, c.value);
      return out;
    };
    await waitFor(() => counts().get('Cluster sessions closed for an egress backlog - member 0') === 1, 5000, 'the count published');
    assert.deepEqual([...counts().keys()].sort(), [
      'Cluster client resends absorbed by the leader - member 0', 'Cluster clients told a close or a leader they missed - member 0',
      'Cluster log stream gaps reported to the leader - member 0', 'Cluster messages not taken (back pressure; sent again later) - member 0',
      'Cluster sessions announced to after taking office - member 0', 'Cluster sessions closed for an egress backlog - member 0',
      'Cluster sessions told their open did not reach the log - member 0',
    ]);
  } finally {
    await member?.close();
    await memberSkein.close();
    await client.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('commands a suspended cluster does not answer end CLUSTER_COMMAND_UNKNOWN at their deadline, in order, later ones too; after resume new ones are answered', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-deadline-'));
  const endpoints: ClusterMemberEndpoint[] = [{ id: 0, consensus: `127.0.0.1:${await freeUdpPort()}`, ingress: `127.0.0.1:${await freeUdpPort()}` }];
  const memberSkein = Skein.launch({ testProfile: true, seed: 470, dir: join(root, 'member') });
  const client = Skein.launch({ testProfile: true, seed: 471, dir: join(root, 'client') });
  let member: ClusterMember | null = null;
  let cc: ClusterClient | null = null;
  try {
    member = await ClusterMember.launch(memberSkein.client, {
      memberId: 0, members: endpoints, clusterDir: join(root, 'member-0'), service: new KvService(),
      archiveOptions: { segmentFileLength: 1024 * 1024, lowStorageSpaceThreshold: 0 },
    });
    await waitFor(() => member!.role === 'LEADER' && member!.electionState === 'CLOSED', 10_000, 'the member leads');
    cc = await ClusterClient.connect(client.client, { ingressEndpoints: [endpoints[0]!.ingress!], commandTimeoutMs: 400, random: new SeededPrng(3) });
    assert.deepEqual(decodeKv<KvAnswer>(await cc.send(encodeKv({ op: 'put', key: 'before', value: 'suspend' }))), { ok: true });
    assert.ok(member.suspend());
    await waitFor(() => member!.node.state === 'SUSPENDED', 5000, 'suspended');
    const ended: [string, number][] = [];
    const started = performance.now();
    const outcome = (name: string, p: Promise<Uint8Array>): Promise<void> =>
      p.then(
        () => assert.fail(`${name} was answered by a suspended cluster`),
        (error: unknown) => {
          assert.ok(error instanceof SkeinError && error.code === ErrorCode.CLUSTER_COMMAND_UNKNOWN && /no answer within 400 ms/.test(error.message), String(error));
          ended.push([name, performance.now() - started]);
        },
      );
    const first = outcome('first', cc.send(encodeKv({ op: 'put', key: 'a', value: '1' })));
    await sleep(150);
    const second = outcome('second', cc.send(encodeKv({ op: 'put', key: 'b', value: '2' })));
    await first;
    // A command sent after the first expired has its own deadline.
    const third = outcome('third', cc.send(encodeKv({ op: 'put', key: 'c', value: '3' })));
    await Promise.all([second, third]);
    assert.deepEqual(ended.map(([name]) => name), ['first', 'second', 'third']);
    assert.ok(ended[0]![1] >= 390 && ended[1]![1] >= 540 && ended[2]![1] >= ended[0]![1] + 390, `ended at ${JSON.stringify(ended)}`);
    assert.equal(cc.inFlight, 0);
    assert.ok(member.resume());
    assert.deepEqual(decodeKv<KvAnswer>(await cc.send(encodeKv({ op: 'put', key: 'after', value: 'resume' }))), { ok: true });
  } finally {
    await cc?.close();
    await member?.close();
    await memberSkein.close();
    await client.close();
    rmSync(root, { recursive: true, force: true });
  }
});
