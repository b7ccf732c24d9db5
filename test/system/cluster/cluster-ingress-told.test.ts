/**
 * What a member tells a client that would otherwise send where nothing is taken, driven step by
 * step: a ClusterIngress over real UDP, in front of a scripted node (its role, term, leader and
 * sessions set by the test), its duty cycle run by the test with a clock of its own.
 *
 * - A follower that has a session open answers a message of it with a NewLeaderEvent naming the
 *   leader it follows, in its term; not for a newer term than its own, not for a session it does
 *   not know; at most once per STALE_REPLY_INTERVAL_NS per session.
 * - A member that has the session closed answers with SessionEvent CLOSED.
 * - A leader that applies the open of a session from an earlier term after it took office (an
 *   entry that was in its log, not yet known committed, when it became leader) tells that session
 *   it leads, as it told every session open when it took office; one opened in its own term is not.
 * - A leader that closes such a session (a timeout) tells its client, though it never had an egress
 *   for it.
 * - A member that answered OK for a session whose open it then applied past without opening it
 *   (the open did not commit and was dropped when another member led) tells the client CLOSED.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { CLIENT_PROTOCOL_VERSION, ClusterIngress, DEFAULT_INGRESS_STREAM_ID, STALE_REPLY_INTERVAL_NS } from '../../../src/cluster/cluster-ingress.js';
import type { ClusterNode } from '../../../src/cluster/cluster-node.js';
import type { SessionResponse } from '../../../src/cluster/service/cluster-entries.js';
import { CloseReason } from '../../../src/cluster/service/cluster-entries.js';
import * as codecs from '../../../src/cluster/codecs/cluster-codecs.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';
import { readEgress, type EgressRecord } from '../../support/cluster-egress.js';

const EGRESS_STREAM = 102;
const MEMBER_ID = 1;

/** The part of a node the ingress reads, as plain fields the test sets. */
class ScriptedNode {
  state = 'ACTIVE';
  isLeader = false;
  readonly member = { leadershipTermId: 5, leaderId: 2, electionState: 'CLOSED', appliedPosition: 0 };
  /** What connect answers next: the session and where its open begins in the log. */
  nextSession = { sessionId: 0, position: 0 };
  readonly open = new Map<number, SessionResponse>();
  readonly closed = new Map<number, SessionResponse>();
  readonly container = {
    isOpen: (id: number): boolean => this.open.has(id),
    isClosed: (id: number): boolean => this.closed.has(id),
    responseOf: (id: number): SessionResponse | undefined => this.open.get(id),
    closedResponseOf: (id: number): SessionResponse | undefined => this.closed.get(id),
    openSessionIds: (): IterableIterator<number> => this.open.keys(),
  };
  isSessionOpen(id: number): boolean {
    return this.open.has(id);
  }
  onKeepAlive(): boolean {
    return this.isLeader;
  }
  connect(): { accepted: true; sessionId: number; position: number } {
    return { accepted: true, ...this.nextSession };
  }
}

test('a member tells a client what it missed: a follower names the leader, a closed session is told CLOSED, a leader announces itself to a session it applies after taking office and tells it when it times it out', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-ingress-told-'));
  const skein = Skein.launch({ testProfile: true, seed: 71, dir: join(root, 'skein') });
  let ingress: ClusterIngress | null = null;
  try {
    const node = new ScriptedNode();
    const errors: unknown[] = [];
    const ingressPort = await freeUdpPort();
    const endpoints = `0=127.0.0.1:1,${MEMBER_ID}=127.0.0.1:${ingressPort},2=127.0.0.1:3`;
    ingress = await ClusterIngress.open(
      { client: skein.client, node: node as unknown as ClusterNode, memberId: MEMBER_ID, ingressEndpoints: endpoints, leaderHeartbeatTimeoutNs: 1e9, reportError: (e) => errors.push(e) },
      `aeron:udp?endpoint=127.0.0.1:${ingressPort}`,
      DEFAULT_INGRESS_STREAM_ID,
    );
    let nowNs = 1e12;
    const work = (): number => ingress!.doWork(nowNs);

    // The client's side, spoken by hand.
    const egressChannel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const response: SessionResponse = { channel: egressChannel, streamId: EGRESS_STREAM };
    const egress = await skein.client.addSubscription(egressChannel, EGRESS_STREAM);
    const told: EgressRecord[] = [];
    readEgress(egress, told);
    const toMember = await skein.client.addExclusivePublication(`aeron:udp?endpoint=127.0.0.1:${ingressPort}`, DEFAULT_INGRESS_STREAM_ID);
    const keepAlive = async (term: number, sessionId: number): Promise<void> => {
      const b = new Uint8Array(8 + 16);
      new codecs.SessionKeepAliveEncoder().wrapAndApplyHeader(b, 0).leadershipTermId(term).clusterSessionId(sessionId);
      const dropped = ingress!.stats.dropped;
      await waitFor(() => toMember.offer(b) >= 0, 5000, 'offer');
      // Taken in by the ingress's duty cycle (every message below is one it drops).
      await waitFor(() => (work(), ingress!.stats.dropped > dropped), 5000, `keep-alive of session ${sessionId} read`);
    };
    const expect = async (what: EgressRecord, label: string): Promise<void> => {
      await waitFor(() => (work(), told.length >= 1), 10_000, label);
      assert.deepEqual(told.shift(), what, label);
    };
    /** Nothing more arrives while the duty cycle runs a while. */
    const nothing = async (label: string): Promise<void> => {
      const until = Date.now() + 300;
      await waitFor(() => (work(), Date.now() >= until), 5000, label);
      assert.deepEqual(told, [], label);
    };

    // A follower (term 5, following member 2) with session 7 open.
    node.open.set(7, response);
    await keepAlive(4, 7);
    await expect({ kind: 'newLeader', sessionId: 7, term: 5, leaderId: 2, endpoints }, 'an older term: told the leader');
    // Within the interval: dropped without another reply; once it passed, told again.
    await keepAlive(5, 7);
    await nothing('no second reply within the interval');
    assert.equal(ingress.stats.staleTold, 1);
    nowNs += STALE_REPLY_INTERVAL_NS;
    await keepAlive(5, 7);
    await expect({ kind: 'newLeader', sessionId: 7, term: 5, leaderId: 2, endpoints }, 'this term, sent to a follower: told the leader');
    // A newer term than the follower's, a session it does not know, a follower that knows no leader: nothing.
    nowNs += STALE_REPLY_INTERVAL_NS;
    await keepAlive(6, 7);
    await keepAlive(5, 8);
    node.member.electionState = 'CANVASS';
    await keepAlive(5, 7);
    await nothing('nothing for a newer term, an unknown session or an unknown leader');
    node.member.electionState = 'CLOSED';

    // A closed session: told so.
    node.open.delete(7);
    node.closed.set(7, response);
    nowNs += STALE_REPLY_INTERVAL_NS;
    await keepAlive(5, 7);
    await expect({ kind: 'event', sessionId: 7, correlationId: -1, term: 5, leaderId: MEMBER_ID, code: codecs.EventCode.CLOSED, detail: 'session 7 is closed' }, 'a closed session: CLOSED');

    // This member leads term 6, with no session open as it takes office: nothing to announce.
    node.isLeader = true;
    node.member.leadershipTermId = 6;
    node.member.leaderId = MEMBER_ID;
    work();
    assert.equal(ingress.stats.newLeaderEvents, 0);
    // It then applies the open of session 9 from term 5 (in its log, not known committed when it
    // took office): session 9 is told who leads now. Session 10, opened in term 6, is not.
    node.open.set(9, response);
    ingress.sessionOpened(9, 5);
    await expect({ kind: 'newLeader', sessionId: 9, term: 6, leaderId: MEMBER_ID, endpoints }, 'a session applied after taking office: told');
    assert.equal(ingress.stats.lateAnnounced, 1);
    node.open.set(10, response);
    ingress.sessionOpened(10, 6);
    await nothing('a session opened in the leader\'s own term: answered OK at connect, not announced');
    // Session 11, from term 4, applied and then timed out before this leader ever sent it anything:
    // its client is told CLOSED all the same.
    node.open.set(11, response);
    node.open.delete(11);
    node.closed.set(11, response);
    ingress.sessionClosed(11, CloseReason.TIMEOUT);
    await expect({ kind: 'event', sessionId: 11, correlationId: -1, term: 6, leaderId: MEMBER_ID, code: codecs.EventCode.CLOSED, detail: 'TIMEOUT' }, 'a session timed out without an egress: told');
    // Session 9 (announced, so with an egress) timed out: told, and its publication let go once it went.
    node.open.delete(9);
    node.closed.set(9, response);
    ingress.sessionClosed(9, CloseReason.TIMEOUT);
    await expect({ kind: 'event', sessionId: 9, correlationId: -1, term: 6, leaderId: MEMBER_ID, code: codecs.EventCode.CLOSED, detail: 'TIMEOUT' }, 'a session with an egress timed out: told');
    // A leader answers a message of an older term for an open session with its own NewLeaderEvent.
    nowNs += STALE_REPLY_INTERVAL_NS;
    await keepAlive(5, 10);
    await expect({ kind: 'newLeader', sessionId: 10, term: 6, leaderId: MEMBER_ID, endpoints }, 'the leader, for an older term: told again');
    assert.equal(ingress.stats.lateAnnounced, 1);

    // Sessions 20 and 21 are opened here (OK), their opens at log positions 1000 and 1100.
    const connect = async (correlationId: number): Promise<void> => {
      const b = new Uint8Array(512);
      const n = new codecs.SessionConnectRequestEncoder().wrapAndApplyHeader(b, 0).correlationId(correlationId).responseStreamId(EGRESS_STREAM).version(CLIENT_PROTOCOL_VERSION)
        .responseChannel(egressChannel).encodedCredentials(new Uint8Array(0)).clientInfo('name=test').encodedLength();
      await waitFor(() => toMember.offer(b, 0, n) >= 0, 5000, 'connect offered');
    };
    node.nextSession = { sessionId: 20, position: 1000 };
    await connect(31);
    await expect({ kind: 'event', sessionId: 20, correlationId: 31, term: 6, leaderId: MEMBER_ID, code: codecs.EventCode.OK, detail: '' }, 'session 20 opened');
    node.nextSession = { sessionId: 21, position: 1100 };
    await connect(32);
    await expect({ kind: 'event', sessionId: 21, correlationId: 32, term: 6, leaderId: MEMBER_ID, code: codecs.EventCode.OK, detail: '' }, 'session 21 opened');
    // This member then follows (term 7), its log applied up to 1000: nothing said yet.
    node.isLeader = false;
    node.member.leadershipTermId = 7;
    node.member.leaderId = 2;
    node.member.appliedPosition = 1000;
    nowNs += 200_000_000;
    await nothing('the opens may still come');
    // Past 1000 without session 20 opened: its open did not commit. Session 21's open applied.
    node.open.set(21, response);
    node.member.appliedPosition = 1200;
    nowNs += 200_000_000;
    await expect({ kind: 'event', sessionId: 20, correlationId: -1, term: 7, leaderId: MEMBER_ID, code: codecs.EventCode.CLOSED, detail: 'session 20 was not opened: its open did not reach the log' }, 'a lost open: CLOSED');
    nowNs += 200_000_000;
    await nothing('told once; nothing for the session that opened');
    assert.equal(ingress.stats.opensLost, 1);
    assert.deepEqual(errors, []);
  } finally {
    ingress?.close();
    await skein.close();
    rmSync(root, { recursive: true, force: true });
  }
});
