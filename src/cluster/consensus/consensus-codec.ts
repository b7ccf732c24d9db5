/**
 * The consensus core's messages in Aeron Cluster's encoding (CLUSTER.md §4 and §14: schema 111,
 * the SBE codecs generated from aeron-cluster-codecs.xml), so that members exchange exactly the
 * bytes Aeron's members do. One encoder and one decoder of each kind are kept and rewrapped; a
 * message becomes one SBE frame (8-byte header and body).
 *
 * Fields the core does not keep are filled from the codec's context when encoding (the leader's
 * recording id, log session id, app version, cluster time, this member's catch-up endpoint) and
 * not returned when decoding. Where a field names no sender (TerminationPosition), the decoded
 * message's `from` is NULL_VALUE and the receiver answers the leader it knows.
 */
import { ErrorCode, SkeinError } from '../../util/errors.js';
import {
  AppendPositionDecoder, AppendPositionEncoder, BooleanType, CanvassPositionDecoder, CanvassPositionEncoder, CatchupPositionDecoder, CatchupPositionEncoder, CommitPositionDecoder,
  CommitPositionEncoder, HEADER_LENGTH, MessageHeaderDecoder, NewLeadershipTermDecoder, NewLeadershipTermEncoder, RequestVoteDecoder, RequestVoteEncoder, SCHEMA_ID, TerminationAckDecoder,
  TerminationAckEncoder, TerminationPositionDecoder, TerminationPositionEncoder, VoteDecoder, VoteEncoder,
} from '../codecs/cluster-codecs.js';
import { NULL_VALUE, type ConsensusMessage } from './consensus-messages.js';

/** Aeron Cluster's consensus protocol version, 1.0.0 as a semantic version (major << 16 | minor << 8 | patch). */
export const CONSENSUS_PROTOCOL_VERSION = 1 << 16;

/** Template ids of the consensus messages (schema 111). */
export const ConsensusTemplate = {
  CANVASS_POSITION: 50, REQUEST_VOTE: 51, VOTE: 52, NEW_LEADERSHIP_TERM: 53, APPEND_POSITION: 54, COMMIT_POSITION: 55, CATCHUP_POSITION: 56, TERMINATION_POSITION: 75, TERMINATION_ACK: 76,
} as const;

export interface ConsensusCodecContext {
  /** The log recording's id on this member (NewLeadershipTerm.leaderRecordingId); -1 when unknown. */
  leaderRecordingId?(): number;
  /** Session id of the leader's log publication (NewLeadershipTerm.logSessionId); -1 when unknown. */
  logSessionId?(): number;
  /** Cluster time for NewLeadershipTerm.timestamp. */
  clusterTime?(): number;
  /** Where this member takes a catch-up replay (CatchupPosition.catchupEndpoint). */
  readonly catchupEndpoint?: string;
  readonly appVersion?: number;
}

/** Largest frame a consensus message takes (NewLeadershipTerm; CatchupPosition with an endpoint up to 200 characters). */
export const MAX_CONSENSUS_FRAME = HEADER_LENGTH + 256;

export class ConsensusCodec {
  private readonly context: ConsensusCodecContext;
  private readonly header = new MessageHeaderDecoder();
  private readonly canvassEnc = new CanvassPositionEncoder();
  private readonly canvassDec = new CanvassPositionDecoder();
  private readonly requestVoteEnc = new RequestVoteEncoder();
  private readonly requestVoteDec = new RequestVoteDecoder();
  private readonly voteEnc = new VoteEncoder();
  private readonly voteDec = new VoteDecoder();
  private readonly nltEnc = new NewLeadershipTermEncoder();
  private readonly nltDec = new NewLeadershipTermDecoder();
  private readonly appendEnc = new AppendPositionEncoder();
  private readonly appendDec = new AppendPositionDecoder();
  private readonly commitEnc = new CommitPositionEncoder();
  private readonly commitDec = new CommitPositionDecoder();
  private readonly catchupEnc = new CatchupPositionEncoder();
  private readonly catchupDec = new CatchupPositionDecoder();
  private readonly terminationEnc = new TerminationPositionEncoder();
  private readonly terminationDec = new TerminationPositionDecoder();
  private readonly ackEnc = new TerminationAckEncoder();
  private readonly ackDec = new TerminationAckDecoder();

  constructor(context: ConsensusCodecContext = {}) {
    const endpoint = context.catchupEndpoint ?? '';
    if (endpoint.length > 200) throw new SkeinError(ErrorCode.CONFIG_INVALID, `catch-up endpoint '${endpoint.slice(0, 40)}...' is ${endpoint.length} characters, more than 200`);
    this.context = context;
  }

  /**
   * Writes `message`, sent to member `to`, at `offset` of `buffer`; returns the frame's length.
   * LogData is the log stream's, not a consensus message: it is refused here.
   */
  encode(to: number, message: ConsensusMessage, buffer: Uint8Array, offset: number): number {
    switch (message.type) {
      case 'canvass':
        return this.canvassEnc.wrapAndApplyHeader(buffer, offset)
          .logLeadershipTermId(message.logTermId).logPosition(message.logPosition).leadershipTermId(message.candidateTermId)
          .followerMemberId(message.from).protocolVersion(CONSENSUS_PROTOCOL_VERSION).encodedLength();
      case 'requestVote':
        return this.requestVoteEnc.wrapAndApplyHeader(buffer, offset)
          .logLeadershipTermId(message.logTermId).logPosition(message.logPosition).candidateTermId(message.candidateTermId).candidateMemberId(message.from)
          .protocolVersion(CONSENSUS_PROTOCOL_VERSION).encodedLength();
      case 'vote':
        return this.voteEnc.wrapAndApplyHeader(buffer, offset)
          .candidateTermId(message.candidateTermId).logLeadershipTermId(message.logTermId).logPosition(message.logPosition)
          .candidateMemberId(to).followerMemberId(message.from).vote(message.granted ? BooleanType.TRUE : BooleanType.FALSE).encodedLength();
      case 'newLeadershipTerm':
        return this.nltEnc.wrapAndApplyHeader(buffer, offset)
          .logLeadershipTermId(message.logTermId).nextLeadershipTermId(message.nextTermId).nextTermBaseLogPosition(message.nextTermBase).nextLogPosition(message.nextLogPosition)
          .leadershipTermId(message.leadershipTermId).termBaseLogPosition(message.termBase).logPosition(message.logPosition)
          .leaderRecordingId(this.context.leaderRecordingId?.() ?? NULL_VALUE).timestamp(this.context.clusterTime?.() ?? 0)
          .leaderMemberId(message.from).logSessionId(this.context.logSessionId?.() ?? NULL_VALUE).appVersion(this.context.appVersion ?? 0)
          .isStartup(BooleanType.FALSE).commitPosition(message.commitPosition).encodedLength();
      case 'appendPosition':
        return this.appendEnc.wrapAndApplyHeader(buffer, offset)
          .leadershipTermId(message.leadershipTermId).logPosition(message.logPosition).followerMemberId(message.from).flags(0).encodedLength();
      case 'commitPosition':
        return this.commitEnc.wrapAndApplyHeader(buffer, offset)
          .leadershipTermId(message.leadershipTermId).logPosition(message.logPosition).leaderMemberId(message.from).encodedLength();
      case 'catchupPosition':
        return this.catchupEnc.wrapAndApplyHeader(buffer, offset)
          .leadershipTermId(message.leadershipTermId).logPosition(message.logPosition).followerMemberId(message.from)
          .catchupEndpoint(this.context.catchupEndpoint ?? '').encodedLength();
      case 'terminationPosition':
        return this.terminationEnc.wrapAndApplyHeader(buffer, offset).leadershipTermId(message.leadershipTermId).logPosition(message.logPosition).encodedLength();
      case 'terminationAck':
        return this.ackEnc.wrapAndApplyHeader(buffer, offset).leadershipTermId(message.leadershipTermId).logPosition(message.logPosition).memberId(message.from).encodedLength();
      case 'logData':
        throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `LogData from member ${message.from} (term ${message.leadershipTermId}, position ${message.position}) travels on the log stream, not as a consensus message`);
    }
  }

  /**
   * Reads the consensus message framed at `offset` (`length` bytes). Messages of schema 111 that
   * are not consensus messages return null; bytes that are not schema 111, or a frame that is cut
   * short, throw PROTOCOL_INVALID.
   */
  decode(buffer: Uint8Array, offset: number, length: number): ConsensusMessage | null {
    const h = this.header.wrap(buffer, offset, length);
    if (h.schemaId() !== SCHEMA_ID) throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `consensus message of schema ${h.schemaId()}, expected ${SCHEMA_ID} (template ${h.templateId()}, ${length} bytes)`);
    switch (h.templateId()) {
      case ConsensusTemplate.CANVASS_POSITION: {
        const d = this.canvassDec.wrapAndCheckHeader(buffer, offset, length);
        return { type: 'canvass', from: d.followerMemberId(), logTermId: d.logLeadershipTermIdAsNumber(), logPosition: d.logPositionAsNumber(), candidateTermId: d.leadershipTermIdAsNumber() };
      }
      case ConsensusTemplate.REQUEST_VOTE: {
        const d = this.requestVoteDec.wrapAndCheckHeader(buffer, offset, length);
        return { type: 'requestVote', from: d.candidateMemberId(), candidateTermId: d.candidateTermIdAsNumber(), logTermId: d.logLeadershipTermIdAsNumber(), logPosition: d.logPositionAsNumber() };
      }
      case ConsensusTemplate.VOTE: {
        const d = this.voteDec.wrapAndCheckHeader(buffer, offset, length);
        return {
          type: 'vote', from: d.followerMemberId(), candidateTermId: d.candidateTermIdAsNumber(), logTermId: d.logLeadershipTermIdAsNumber(), logPosition: d.logPositionAsNumber(), granted: d.vote() === BooleanType.TRUE,
        };
      }
      case ConsensusTemplate.NEW_LEADERSHIP_TERM: {
        const d = this.nltDec.wrapAndCheckHeader(buffer, offset, length);
        const commit = d.commitPosition();
        return {
          type: 'newLeadershipTerm', from: d.leaderMemberId(), logTermId: d.logLeadershipTermIdAsNumber(), nextTermId: d.nextLeadershipTermIdAsNumber(),
          nextTermBase: d.nextTermBaseLogPositionAsNumber(), nextLogPosition: d.nextLogPositionAsNumber(), leadershipTermId: d.leadershipTermIdAsNumber(),
          termBase: d.termBaseLogPositionAsNumber(), logPosition: d.logPositionAsNumber(),
          // Before version 15 the message has no commit position: none is known.
          commitPosition: commit === -9223372036854775808n ? 0 : d.commitPositionAsNumber(),
        };
      }
      case ConsensusTemplate.APPEND_POSITION: {
        const d = this.appendDec.wrapAndCheckHeader(buffer, offset, length);
        return { type: 'appendPosition', from: d.followerMemberId(), leadershipTermId: d.leadershipTermIdAsNumber(), logPosition: d.logPositionAsNumber() };
      }
      case ConsensusTemplate.COMMIT_POSITION: {
        const d = this.commitDec.wrapAndCheckHeader(buffer, offset, length);
        return { type: 'commitPosition', from: d.leaderMemberId(), leadershipTermId: d.leadershipTermIdAsNumber(), logPosition: d.logPositionAsNumber() };
      }
      case ConsensusTemplate.CATCHUP_POSITION: {
        const d = this.catchupDec.wrapAndCheckHeader(buffer, offset, length);
        return { type: 'catchupPosition', from: d.followerMemberId(), leadershipTermId: d.leadershipTermIdAsNumber(), logPosition: d.logPositionAsNumber() };
      }
      case ConsensusTemplate.TERMINATION_POSITION: {
        const d = this.terminationDec.wrapAndCheckHeader(buffer, offset, length);
        return { type: 'terminationPosition', from: NULL_VALUE, leadershipTermId: d.leadershipTermIdAsNumber(), logPosition: d.logPositionAsNumber() };
      }
      case ConsensusTemplate.TERMINATION_ACK: {
        const d = this.ackDec.wrapAndCheckHeader(buffer, offset, length);
        return { type: 'terminationAck', from: d.memberId(), leadershipTermId: d.leadershipTermIdAsNumber(), logPosition: d.logPositionAsNumber() };
      }
      default:
        return null;
    }
  }
}
