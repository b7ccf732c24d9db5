/**
 * A member's client side (docs/cluster.md, "Clients"): Aeron Cluster's ingress and egress protocol
 * (CLUSTER.md §2, schema 111) on Skein. Clients send to a member's ingress endpoint (stream 101);
 * the member answers on a publication to the egress channel and stream each client names.
 *
 * - SessionConnectRequest: the leader opens a session (a SESSION_OPEN in the log that carries the
 *   client's egress channel, so any later leader can reach it) and answers SessionEvent OK with
 *   the session id, term and leader; a follower answers REDIRECT with the leader and every member's
 *   ingress endpoint; a client protocol version whose major is not 0 gets ERROR.
 * - AdminRequest SNAPSHOT (Aeron's AeronCluster.sendAdminRequestToTakeASnapshot): the leader asks
 *   every member for a snapshot and answers AdminResponse OK, or ERROR naming its state (or the
 *   unknown request type); taken like a command, for the current term and an open session.
 * - SessionMessageHeader + payload, SessionKeepAlive, SessionCloseRequest: taken by the leader only,
 *   for the current term and an open session. Skein's client carries its command's sequence in the
 *   header's timestamp (which Aeron's leader ignores and Aeron's Java client sends as 0): a sequence
 *   makes the command exactly-once, 0 means none. What is not taken is dropped, as Aeron drops it;
 *   but where Aeron stays silent, a member tells a client that sends where nothing is taken what it
 *   missed, at most once per STALE_REPLY_INTERVAL_NS per session: for a session that is closed
 *   here, SessionEvent CLOSED; for one that is open here, sent to a member that does not lead or
 *   for an older term, a NewLeaderEvent naming the leader this member follows or is, in its term.
 *   Without that, a client that missed its session's close or a new leader's announcement would
 *   read CONNECTED while every message it sends is dropped. And a member that answered OK for a
 *   session whose open then did not commit (it led, and the next leader's log dropped the open)
 *   tells the client CLOSED once it has applied past where the open was: no other member knows
 *   where that client takes answers.
 * - Egress: answers as SessionMessageHeader (term, session, the command's sequence in the timestamp)
 *   + answer; a command rejected for a closed session as SessionEvent CLOSED (correlation id = its
 *   sequence); a session the leader closes (timeout, service) as SessionEvent CLOSED with the
 *   reason; a member that becomes leader sends every open session a NewLeaderEvent, and so does a
 *   leader to a session opened in an earlier term that it applies once leading (an entry it had
 *   in its log, not yet known committed, when it took office).
 *
 * Publications to clients are made asynchronously; what is to be sent meanwhile, or while a
 * client's egress pushes back (a client that reads its answers slower than it sends commands),
 * waits in order and is never dropped: an answer lost here could not be asked for again (the
 * session table keeps only the last). A session whose waiting answers pass
 * `maxEgressBacklogBytes` is closed by the leader as timed out (SessionEvent CLOSED, TIMEOUT), its
 * backlog released and an error reported naming it.
 */
import type { SkeinClient } from '../client/skein-client.js';
import type { Publication } from '../client/publication.js';
import type { Subscription } from '../client/subscription.js';
import type { Header } from '../logbuffer/header.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import { ErrorCode, SkeinError, messageOf } from '../util/errors.js';
import {
  AdminRequestDecoder, AdminRequestType, AdminResponseCode, AdminResponseEncoder, EventCode, HEADER_LENGTH, MessageHeaderDecoder, NewLeaderEventEncoder, SCHEMA_ID, SessionCloseRequestDecoder, SessionConnectRequestDecoder, SessionEventEncoder, SessionKeepAliveDecoder,
  SessionMessageHeaderDecoder, SessionMessageHeaderEncoder,
} from './codecs/cluster-codecs.js';
import type { ClusterNode } from './cluster-node.js';
import { CloseReason, type SessionResponse } from './service/cluster-entries.js';
import { DEFAULT_INGRESS_FRAGMENT_LIMIT } from './ingress-defaults.js';

export { DEFAULT_INGRESS_FRAGMENT_LIMIT };

const EMPTY = new Uint8Array(0);

/** Aeron's default ingress stream id (aeron.cluster.ingress.stream.id). */
export const DEFAULT_INGRESS_STREAM_ID = 101;
/** The client protocol version Aeron's cluster speaks: 0.3.0 (major << 16 | minor << 8 | patch). */
export const CLIENT_PROTOCOL_VERSION = (0 << 16) | (3 << 8) | 0;
/** Bytes of answers kept for one session while its publication is not there yet or pushes back, before the session is closed. */
export const DEFAULT_MAX_EGRESS_BACKLOG_BYTES = 16 * 1024 * 1024;

/** A session is told what it missed (a close, a new leader) at most this often when it sends where nothing is taken. */
export const STALE_REPLY_INTERVAL_NS = 250_000_000;

/** A SessionMessageHeader with its SBE header: the payload follows. */
export const SESSION_HEADER_LENGTH = HEADER_LENGTH + 24;

export interface ClusterIngressOptions {
  readonly client: SkeinClient;
  readonly node: ClusterNode;
  readonly memberId: number;
  /** Every member's ingress endpoint, `id=host:port,…` (REDIRECT's detail, NewLeaderEvent's endpoints). */
  readonly ingressEndpoints: string;
  readonly leaderHeartbeatTimeoutNs: number;
  readonly reportError: (error: unknown) => void;
  /** @default DEFAULT_MAX_EGRESS_BACKLOG_BYTES */
  readonly maxEgressBacklogBytes?: number;
  /** Client messages taken from the ingress in one duty cycle. @default DEFAULT_INGRESS_FRAGMENT_LIMIT */
  readonly fragmentLimit?: number;
  /**
   * Longest command the cluster's log takes. A longer one is not appended: its client is told with
   * a SessionEvent ERROR naming the command (its sequence as correlation id) and both lengths, and
   * the session stays open. @default no limit
   */
  readonly maxCommandLength?: number;
}

/**
 * How a SessionEvent ERROR naming a command (its sequence as correlation id) begins when the
 * command was applied but its answer is longer than the client's egress takes; any other such
 * ERROR refused the command before it was appended.
 */
export const ANSWER_TOO_LONG_DETAIL = 'applied; its answer is too long: ';

/** Frames waiting for a publication, oldest first: an array read from a moving head, compacted as it drains. */
export class FrameQueue {
  private frames: Uint8Array[] = [];
  private head = 0;
  /** Bytes of the frames waiting. */
  bytes = 0;

  get length(): number {
    return this.frames.length - this.head;
  }

  peek(): Uint8Array | undefined {
    return this.frames[this.head];
  }

  push(frame: Uint8Array): void {
    this.frames.push(frame);
    this.bytes += frame.length;
  }

  /** Lets go of the oldest frame. */
  shift(): void {
    const frame = this.frames[this.head];
    if (frame === undefined) return;
    this.bytes -= frame.length;
    this.frames[this.head++] = EMPTY;
    if (this.head === this.frames.length) {
      this.frames.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.frames = [];
    this.head = 0;
    this.bytes = 0;
  }
}

interface Egress {
  readonly response: SessionResponse;
  publication: Publication | null;
  readonly pending: FrameQueue;
  /** The session (-1 for a one-off reply). */
  readonly sessionId: number;
  /** For a one-off reply, or a closed session's last frames: given up (the publication closed) at this time. */
  expiresNs: number;
}

export class ClusterIngress {
  private readonly client: SkeinClient;
  private readonly node: ClusterNode;
  private readonly options: ClusterIngressOptions;
  private readonly fragmentLimit: number;
  private readonly subscription: Subscription;
  private readonly onFragment: (buffer: Uint8Array, offset: number, length: number, header: Header) => void;
  private readonly sessions = new Map<number, Egress>();
  /** The same sessions for the duty cycle's pumping (no iterator per turn); null: to be made again. */
  private sessionList: Egress[] | null = null;
  /** One-off replies, and closed sessions' last frames: each closed once what is pending went. */
  private readonly replies: Egress[] = [];
  /** Sessions told what they missed, and when they may be told again. */
  private readonly staleTold = new Map<number, number>();
  /** Sessions this member answered OK for, until their open is applied: where the client takes answers, and where the open begins in the log. */
  private readonly opening = new Map<number, { readonly response: SessionResponse; readonly position: number }>();
  private readonly scratch = new Uint8Array(SESSION_HEADER_LENGTH + 64 * 1024);
  private readonly header = new MessageHeaderDecoder();
  private readonly connectDec = new SessionConnectRequestDecoder();
  private readonly messageDec = new SessionMessageHeaderDecoder();
  private readonly keepAliveDec = new SessionKeepAliveDecoder();
  private readonly closeDec = new SessionCloseRequestDecoder();
  private readonly adminDec = new AdminRequestDecoder();
  private readonly adminEnc = new AdminResponseEncoder();
  private readonly messageEnc = new SessionMessageHeaderEncoder();
  private readonly eventEnc = new SessionEventEncoder();
  private readonly newLeaderEnc = new NewLeaderEventEncoder();
  private wasLeading = false;
  private nowNs = 0;
  private nextSweepNs = 0;
  private closed = false;
  /** Counts for tests and operators. */
  readonly stats = { connects: 0, redirects: 0, commands: 0, refused: 0, dropped: 0, staleTold: 0, lateAnnounced: 0, opensLost: 0, egressBacklogClosed: 0, newLeaderEvents: 0, adminRequests: 0 };
  private readonly maxCommandLength: number;

  private constructor(options: ClusterIngressOptions, subscription: Subscription, assembler: FragmentAssembler) {
    this.options = options;
    this.fragmentLimit = options.fragmentLimit ?? DEFAULT_INGRESS_FRAGMENT_LIMIT;
    this.client = options.client;
    this.node = options.node;
    this.subscription = subscription;
    this.onFragment = assembler.onFragment;
    this.maxCommandLength = options.maxCommandLength ?? Number.POSITIVE_INFINITY;
  }

  static async open(options: ClusterIngressOptions, channel: string, streamId: number): Promise<ClusterIngress> {
    // A message longer than one frame (the client's MTU less the DATA header) comes in fragments:
    // each client's are put together again, and a client's partial message goes with its image.
    let ingress: ClusterIngress | null = null;
    const assembler = new FragmentAssembler((buffer, offset, length, header) => ingress?.onMessage(buffer, offset, length, header));
    const subscription = await options.client.addSubscription(channel, streamId, { onUnavailableImage: (image) => assembler.freeSessionBuffer(image.sessionId) });
    ingress = new ClusterIngress(options, subscription, assembler);
    return ingress;
  }

  /** The ingress channel as bound (a port 0 resolved). */
  get channel(): string {
    return this.subscription.resolvedChannel;
  }

  /** @internal One duty cycle (its owner calls it). */
  doWork(nowNs: number): number {
    if (this.closed) return 0;
    this.nowNs = nowNs;
    // A suspended cluster reads no ingress: clients' messages wait in the stream (Aeron's SUSPENDED).
    let work = this.node.state === 'SUSPENDED' ? 0 : this.subscription.poll(this.onFragment, this.fragmentLimit);
    const leading = this.node.isLeader;
    if (leading !== this.wasLeading) {
      this.wasLeading = leading;
      if (leading) this.announceLeadership();
      else this.closeSessions();
      work++;
    }
    const sessions = (this.sessionList ??= [...this.sessions.values()]);
    for (let i = 0; i < sessions.length; i++) work += this.pump(sessions[i]!);
    for (let i = this.replies.length - 1; i >= 0; i--) {
      const reply = this.replies[i]!;
      work += this.pump(reply);
      if ((reply.pending.length === 0 && reply.publication !== null) || nowNs > reply.expiresNs) {
        reply.publication?.close();
        this.replies.splice(i, 1);
      }
    }
    if (nowNs >= this.nextSweepNs) {
      this.nextSweepNs = nowNs + 100_000_000;
      if (this.staleTold.size > 0) for (const [id, againNs] of this.staleTold) if (nowNs >= againNs) this.staleTold.delete(id);
      if (this.opening.size > 0) this.checkOpenings();
      // Sessions that closed (or whose open did not survive) let go of their publications.
      for (const [id, egress] of this.sessions) {
        if (!this.node.isSessionOpen(id)) {
          egress.publication?.close();
          this.sessions.delete(id);
          this.sessionList = null;
        }
      }
    }
    return work;
  }

  /** An answer of the service to a session's command (only while leading). */
  egress(sessionId: number, sequence: number, answer: Uint8Array): void {
    const egress = this.egressOf(sessionId);
    if (egress === undefined) return;
    if (egress.publication !== null && SESSION_HEADER_LENGTH + answer.length > egress.publication.maxMessageLength) {
      this.answerTooLong(egress, sequence, answer.length, egress.publication.maxMessageLength);
      return;
    }
    this.messageEnc.wrapAndApplyHeader(this.scratch, 0).leadershipTermId(this.node.member.leadershipTermId).clusterSessionId(sessionId).timestamp(sequence);
    this.send(egress, this.scratch, SESSION_HEADER_LENGTH, answer);
  }

  /**
   * An answer longer than the client's egress takes (its term length's longest message): not sent;
   * reported, and the client told with a SessionEvent ERROR naming the command that it was applied.
   */
  private answerTooLong(egress: Egress, sequence: number, answerLength: number, maxMessageLength: number): void {
    const max = maxMessageLength - SESSION_HEADER_LENGTH;
    const what = `the answer of ${answerLength} bytes is longer than the ${max} the client's egress takes (its term length's longest message less the ${SESSION_HEADER_LENGTH}-byte session header)`;
    this.options.reportError(
      new SkeinError(ErrorCode.MESSAGE_TOO_LONG, `member ${this.options.memberId}: command ${egress.sessionId}/${sequence} was applied, but ${what}`, {
        channel: egress.response.channel, streamId: egress.response.streamId, sessionId: egress.sessionId,
      }),
    );
    this.send(egress, this.scratch, this.encodeEvent(egress.sessionId, sequence, this.options.memberId, EventCode.ERROR, `${ANSWER_TOO_LONG_DETAIL}${what}`), null);
  }

  /** Encodes a SessionEvent of this member's current term into the scratch buffer; returns its length. */
  private encodeEvent(sessionId: number, correlationId: number, leaderId: number, code: EventCode, detail: string): number {
    return this.eventEnc.wrapAndApplyHeader(this.scratch, 0).clusterSessionId(sessionId).correlationId(correlationId).leadershipTermId(this.node.member.leadershipTermId)
      .leaderMemberId(leaderId).code(code).version(CLIENT_PROTOCOL_VERSION).leaderHeartbeatTimeoutNs(this.options.leaderHeartbeatTimeoutNs).detail(detail).encodedLength();
  }

  /** A command refused as it came (too long for the log): SessionEvent ERROR naming it; the session stays open. */
  private refuse(sessionId: number, sequence: number, reason: string): void {
    this.stats.refused++;
    const egress = this.egressOf(sessionId);
    if (egress === undefined) return;
    this.send(egress, this.scratch, this.encodeEvent(sessionId, sequence, this.options.memberId, EventCode.ERROR, reason), null);
  }

  /** A command that was not applied and never will be: the session is closed (or was never opened). */
  reject(sessionId: number, sequence: number, reason: string): void {
    const length = this.encodeEvent(sessionId, sequence, this.options.memberId, EventCode.CLOSED, reason);
    const egress = this.egressOf(sessionId);
    if (egress !== undefined) this.send(egress, this.scratch, length, null);
    else if (this.mayTell(sessionId)) this.replyToClosed(sessionId, length);
  }

  /**
   * A session's open was applied. A leader tells a session opened in an earlier term, that it did
   * not know when it took office (the entry was in its log, not yet known committed), that it leads
   * now, as it told every session open then; one opened in this term was answered OK.
   */
  sessionOpened(sessionId: number, termId: number): void {
    // Not leading yet as this ingress saw it: announceLeadership tells every open session, this one too.
    if (!this.wasLeading || !this.node.isLeader || termId === this.node.member.leadershipTermId || this.sessions.has(sessionId)) return;
    if (this.announce(sessionId)) this.stats.lateAnnounced++;
  }

  /**
   * A session's close was applied: a client the cluster closed (a timeout, the service) is told
   * with SessionEvent CLOSED naming the reason (correlation id -1), as Aeron tells it; one that
   * asked to close is not. Its publication goes.
   */
  sessionClosed(sessionId: number, reason: CloseReason): void {
    const egress = this.sessions.get(sessionId);
    if (egress !== undefined) {
      this.sessions.delete(sessionId);
      this.sessionList = null;
    }
    if (!this.node.isLeader || reason === CloseReason.CLIENT_ACTION) {
      egress?.publication?.close();
      return;
    }
    const length = this.encodeEvent(sessionId, -1, this.options.memberId, EventCode.CLOSED, reason === CloseReason.TIMEOUT ? 'TIMEOUT' : 'SERVICE_ACTION');
    if (egress === undefined) {
      // Never answered by this leader (opened before it took office and quiet since): told all the same.
      this.replyToClosed(sessionId, length);
      return;
    }
    // The event goes after what waits; the publication closes once it went (or gives up in 10 s).
    this.send(egress, this.scratch, length, null);
    this.pump(egress);
    if (egress.pending.length === 0 && egress.publication !== null) egress.publication.close();
    else {
      egress.expiresNs = this.nowNs + 10_000_000_000;
      this.replies.push(egress);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeSessions();
    for (const reply of this.replies) reply.publication?.close();
    this.replies.length = 0;
    this.subscription.close();
  }

  // -----------------------------------------------------------------------------------------------

  private onMessage(buffer: Uint8Array, offset: number, length: number, header: Header): void {
    try {
      const h = this.header.wrap(buffer, offset, length);
      if (h.schemaId() !== SCHEMA_ID) {
        this.stats.dropped++;
        return;
      }
      switch (h.templateId()) {
        case SessionConnectRequestDecoder.TEMPLATE_ID:
          this.onConnect(buffer, offset, length);
          return;
        case SessionMessageHeaderDecoder.TEMPLATE_ID: {
          const d = this.messageDec.wrapAndCheckHeader(buffer, offset, length);
          const sessionId = d.clusterSessionIdAsNumber();
          if (!this.current(d.leadershipTermIdAsNumber(), sessionId) || length < SESSION_HEADER_LENGTH) return;
          const sequence = d.timestampAsNumber();
          const commandLength = length - SESSION_HEADER_LENGTH;
          if (commandLength > this.maxCommandLength) {
            this.refuse(sessionId, sequence, `a command of ${commandLength} bytes is longer than the ${this.maxCommandLength} the cluster's log takes`);
            return;
          }
          if (this.node.onIngress(sessionId, sequence < 0 ? 0 : sequence, buffer.subarray(offset + SESSION_HEADER_LENGTH, offset + length)).accepted) this.stats.commands++;
          return;
        }
        case SessionKeepAliveDecoder.TEMPLATE_ID: {
          const d = this.keepAliveDec.wrapAndCheckHeader(buffer, offset, length);
          const sessionId = d.clusterSessionIdAsNumber();
          if (this.current(d.leadershipTermIdAsNumber(), sessionId)) this.node.onKeepAlive(sessionId);
          return;
        }
        case SessionCloseRequestDecoder.TEMPLATE_ID: {
          const d = this.closeDec.wrapAndCheckHeader(buffer, offset, length);
          const sessionId = d.clusterSessionIdAsNumber();
          if (this.current(d.leadershipTermIdAsNumber(), sessionId) && this.node.closeSession(sessionId)) {
            this.sessions.get(sessionId)?.publication?.close();
            this.sessions.delete(sessionId);
            this.sessionList = null;
          }
          return;
        }
        case AdminRequestDecoder.TEMPLATE_ID:
          this.onAdminRequest(buffer, offset, length);
          return;
        default:
          this.stats.dropped++;
      }
    } catch (error) {
      this.stats.dropped++;
      this.options.reportError(
        new SkeinError(ErrorCode.PROTOCOL_INVALID, `member ${this.options.memberId}: dropped an ingress message of ${length} bytes: ${messageOf(error)}`, {
          cause: error, channel: this.subscription.channel, streamId: this.subscription.streamId, sessionId: header.sessionId,
        }),
      );
    }
  }

  /** Taken only by the leader, for its current term and an open session; dropped otherwise (the client told what it missed, see tellStale). */
  private current(leadershipTermId: number, sessionId: number): boolean {
    if (this.node.isLeader && leadershipTermId === this.node.member.leadershipTermId && this.node.isSessionOpen(sessionId)) return true;
    this.stats.dropped++;
    this.tellStale(leadershipTermId, sessionId);
    return false;
  }

  /**
   * A message of `sessionId` for term `leadershipTermId` was not taken here. A session closed here
   * is told SessionEvent CLOSED (correlation id -1: its commands in flight are of unknown outcome).
   * One open here, whose client takes this member for the leader of the current term or an older
   * one, is told the leader this member follows or is, with a NewLeaderEvent of its term, when it
   * knows one. Nothing for a session not known here (this member may not have applied its open
   * yet) or a newer term (this member is behind). At most once per STALE_REPLY_INTERVAL_NS per session.
   */
  private tellStale(leadershipTermId: number, sessionId: number): void {
    const container = this.node.container;
    const closed = container.isClosed(sessionId);
    if (!closed && !container.isOpen(sessionId)) return;
    if (closed) {
      if (this.mayTell(sessionId) && this.replyToClosed(sessionId, this.encodeEvent(sessionId, -1, this.options.memberId, EventCode.CLOSED, `session ${sessionId} is closed`))) this.stats.staleTold++;
      return;
    }
    const member = this.node.member;
    const leaderId = member.leaderId;
    const leaderKnown = this.node.state === 'ACTIVE' && member.electionState === 'CLOSED' && leaderId >= 0 && (leaderId !== this.options.memberId || this.node.isLeader);
    if (!leaderKnown || leadershipTermId > member.leadershipTermId || !this.mayTell(sessionId)) return;
    if (this.node.isLeader) {
      if (this.announce(sessionId)) this.stats.staleTold++;
      return;
    }
    const response = container.responseOf(sessionId);
    if (response === undefined) return;
    this.reply(response, this.scratch.slice(0, this.encodeNewLeader(sessionId, leaderId)));
    this.stats.staleTold++;
  }

  /**
   * A session this member opened (answered OK) whose open it has since applied past without
   * opening it: the open was not committed, and the member that led after dropped it (this member
   * followed and truncated its log). Nobody else knows where its client takes answers, and the
   * client, told OK, would send into nothing for good: it is told CLOSED, and opens a new session.
   */
  private checkOpenings(): void {
    const container = this.node.container;
    const applied = this.node.member.appliedPosition;
    for (const [id, opening] of this.opening) {
      if (container.isOpen(id) || container.isClosed(id)) this.opening.delete(id);
      else if (applied > opening.position) {
        this.opening.delete(id);
        this.stats.opensLost++;
        const length = this.encodeEvent(id, -1, this.options.memberId, EventCode.CLOSED, `session ${id} was not opened: its open did not reach the log`);
        this.reply(opening.response, this.scratch.slice(0, length));
      }
    }
  }

  /** Whether a session not answered on its own egress may be told something now (then not again for STALE_REPLY_INTERVAL_NS): a burst of its messages costs one reply. */
  private mayTell(sessionId: number): boolean {
    if ((this.staleTold.get(sessionId) ?? 0) > this.nowNs) return false;
    this.staleTold.set(sessionId, this.nowNs + STALE_REPLY_INTERVAL_NS);
    return true;
  }

  /** The first `length` bytes of the scratch buffer to a closed session's client, as a one-off reply, when it is known where it took its answers; whether it was. */
  private replyToClosed(sessionId: number, length: number): boolean {
    const response = this.node.container.closedResponseOf(sessionId);
    if (response === undefined) return false;
    this.reply(response, this.scratch.slice(0, length));
    return true;
  }

  private onAdminRequest(buffer: Uint8Array, offset: number, length: number): void {
    const d = this.adminDec.wrapAndCheckHeader(buffer, offset, length);
    const sessionId = d.clusterSessionIdAsNumber();
    if (!this.current(d.leadershipTermIdAsNumber(), sessionId)) return;
    const egress = this.egressOf(sessionId);
    if (egress === undefined) return;
    const type = d.requestType();
    const known = type === AdminRequestType.SNAPSHOT;
    const ok = known && this.node.requestSnapshot();
    const message = ok ? '' : known ? `snapshot refused by leader ${this.options.memberId} in state ${this.node.state}` : `unknown admin request type ${type}`;
    const frameLength = this.adminEnc.wrapAndApplyHeader(this.scratch, 0).clusterSessionId(sessionId).correlationId(d.correlationIdAsNumber()).requestType(type)
      .responseCode(ok ? AdminResponseCode.OK : AdminResponseCode.ERROR).message(message).payload(EMPTY).encodedLength();
    this.send(egress, this.scratch, frameLength, null);
    this.stats.adminRequests++;
  }

  private onConnect(buffer: Uint8Array, offset: number, length: number): void {
    const d = this.connectDec.wrapAndCheckHeader(buffer, offset, length);
    const correlationId = d.correlationIdAsNumber();
    const streamId = d.responseStreamId();
    const version = d.version();
    const response = { channel: d.responseChannel(), streamId };
    if (version >>> 16 !== 0) {
      this.reply(response, this.scratch.slice(0, this.encodeEvent(-1, correlationId, this.node.member.leaderId, EventCode.ERROR, `invalid client version ${version >>> 16}.${(version >>> 8) & 0xff}.${version & 0xff}, this cluster speaks 0.x`)));
      return;
    }
    const result = this.node.connect(response);
    if (!result.accepted) {
      this.stats.redirects++;
      this.reply(response, this.scratch.slice(0, this.encodeEvent(-1, correlationId, result.leaderId, EventCode.REDIRECT, this.options.ingressEndpoints)));
      return;
    }
    this.stats.connects++;
    this.opening.set(result.sessionId, { response, position: result.position });
    const egress = this.egressOf(result.sessionId, response)!;
    this.send(egress, this.scratch, this.encodeEvent(result.sessionId, correlationId, this.options.memberId, EventCode.OK, ''), null);
  }

  private announceLeadership(): void {
    for (const id of this.node.container.openSessionIds()) this.announce(id);
  }

  /** Tells a session that this member leads, in its current term (NewLeaderEvent); false when it is not known where its client takes answers. */
  private announce(sessionId: number): boolean {
    const egress = this.egressOf(sessionId);
    if (egress === undefined) return false;
    this.send(egress, this.scratch, this.encodeNewLeader(sessionId, this.options.memberId), null);
    this.stats.newLeaderEvents++;
    return true;
  }

  /** Encodes a NewLeaderEvent of this member's current term naming `leaderId` into the scratch buffer; returns its length. */
  private encodeNewLeader(sessionId: number, leaderId: number): number {
    return this.newLeaderEnc.wrapAndApplyHeader(this.scratch, 0).leadershipTermId(this.node.member.leadershipTermId).clusterSessionId(sessionId)
      .leaderMemberId(leaderId).ingressEndpoints(this.options.ingressEndpoints).encodedLength();
  }

  private closeSessions(): void {
    for (const egress of this.sessions.values()) egress.publication?.close();
    this.sessions.clear();
    this.sessionList = null;
  }

  /** The session's egress, made (its publication on the way) from where it takes answers, if known. */
  private egressOf(sessionId: number, known?: SessionResponse): Egress | undefined {
    const existing = this.sessions.get(sessionId);
    if (existing !== undefined) return existing;
    const response = known ?? this.node.container.responseOf(sessionId);
    if (response === undefined) return undefined;
    const egress = this.makeEgress(response, sessionId);
    this.sessions.set(sessionId, egress);
    this.sessionList = null;
    return egress;
  }

  private reply(response: SessionResponse, frame: Uint8Array): void {
    const egress = this.makeEgress(response, -1);
    egress.pending.push(frame);
    this.replies.push(egress);
  }

  private makeEgress(response: SessionResponse, sessionId: number): Egress {
    const egress: Egress = { response, publication: null, pending: new FrameQueue(), sessionId, expiresNs: this.nowNs + 10_000_000_000 };
    this.client.addPublication(response.channel, response.streamId).then(
      (publication) => {
        // Not wanted any more: the ingress closed, or the session's egress (or the reply) was let go meanwhile.
        if (this.closed || (this.sessions.get(sessionId) !== egress && !this.replies.includes(egress))) publication.close();
        else egress.publication = publication;
      },
      (error: unknown) => {
        this.options.reportError(new SkeinError(ErrorCode.CONFIG_INVALID, `member ${this.options.memberId}: cannot answer a client on ${response.channel} stream ${response.streamId}: ${messageOf(error)}`, { cause: error }));
        egress.expiresNs = 0;
      },
    );
    return egress;
  }

  /** Sends a frame (the first `length` bytes of `frame`, then `tail`), at once when it can, else after what waits. */
  private send(egress: Egress, frame: Uint8Array, length: number, tail: Uint8Array | null): void {
    const total = length + (tail?.length ?? 0);
    if (egress.pending.length === 0 && egress.publication !== null) {
      // The answer goes after the header in the same buffer: no array or view per answer.
      if (tail !== null && total <= frame.length) frame.set(tail, length);
      const result = tail === null || total <= frame.length ? egress.publication.offer(frame, 0, total) : egress.publication.offerV([frame.subarray(0, length), tail]);
      if (result >= 0) return;
    }
    const copy = new Uint8Array(total);
    copy.set(frame.subarray(0, length));
    if (tail !== null) copy.set(tail, length);
    egress.pending.push(copy);
    const limit = this.options.maxEgressBacklogBytes ?? DEFAULT_MAX_EGRESS_BACKLOG_BYTES;
    if (egress.pending.bytes > limit && egress.sessionId >= 0 && this.node.timeOutSession(egress.sessionId)) {
      this.stats.egressBacklogClosed++;
      this.options.reportError(
        new SkeinError(
          ErrorCode.LIMIT_REACHED,
          `member ${this.options.memberId}: closed session ${egress.sessionId} (TIMEOUT): ${egress.pending.bytes} bytes of answers (${egress.pending.length} frames) wait on its egress, more than maxEgressBacklogBytes ${limit}; the client does not take them`,
          { channel: egress.response.channel, streamId: egress.response.streamId, sessionId: egress.sessionId },
        ),
      );
      egress.pending.clear();
    }
  }

  private pump(egress: Egress): number {
    const publication = egress.publication;
    if (publication === null) return 0;
    let sent = 0;
    while (egress.pending.length > 0) {
      const frame = egress.pending.peek()!;
      if (frame.length > publication.maxMessageLength) {
        // An answer queued before the publication was there, longer than it takes (only answers
        // can be): dropped and told, as egress() does once the publication is known.
        egress.pending.shift();
        const sequence = this.messageDec.wrapAndCheckHeader(frame, 0, frame.length).timestampAsNumber();
        this.answerTooLong(egress, sequence, frame.length - SESSION_HEADER_LENGTH, publication.maxMessageLength);
        sent++;
        continue;
      }
      if (publication.offer(frame) < 0) break;
      egress.pending.shift();
      sent++;
    }
    return sent;
  }
}
