/**
 * A client's egress as tests read it by hand: SessionEvent, NewLeaderEvent and answers
 * (SessionMessageHeader + key-value answer) decoded into plain records, in arrival order.
 */
import type { Subscription } from '../../src/client/subscription.js';
import * as codecs from '../../src/cluster/codecs/cluster-codecs.js';
import { SESSION_HEADER_LENGTH } from '../../src/cluster/cluster-ingress.js';
import { decodeKv, type KvAnswer } from '../../src/cluster/service/kv-service.js';

export type EgressRecord =
  | { kind: 'event'; sessionId: number; correlationId: number; term: number; leaderId: number; code: number; detail: string }
  | { kind: 'newLeader'; sessionId: number; term: number; leaderId: number; endpoints: string }
  | { kind: 'message'; sessionId: number; term: number; sequence: number; answer: KvAnswer };

/** Decodes what `egress` receives into `into` (other templates are passed over). */
export function readEgress(egress: Subscription, into: EgressRecord[]): void {
  const header = new codecs.MessageHeaderDecoder();
  const eventDec = new codecs.SessionEventDecoder();
  const newLeaderDec = new codecs.NewLeaderEventDecoder();
  const messageDec = new codecs.SessionMessageHeaderDecoder();
  egress.onFragment((buffer, offset, length) => {
    const t = header.wrap(buffer, offset, length).templateId();
    if (t === codecs.SessionEventDecoder.TEMPLATE_ID) {
      const d = eventDec.wrapAndCheckHeader(buffer, offset, length);
      into.push({ kind: 'event', sessionId: d.clusterSessionIdAsNumber(), correlationId: d.correlationIdAsNumber(), term: d.leadershipTermIdAsNumber(), leaderId: d.leaderMemberId(), code: d.code(), detail: d.detail() });
    } else if (t === codecs.NewLeaderEventDecoder.TEMPLATE_ID) {
      const d = newLeaderDec.wrapAndCheckHeader(buffer, offset, length);
      into.push({ kind: 'newLeader', sessionId: d.clusterSessionIdAsNumber(), term: d.leadershipTermIdAsNumber(), leaderId: d.leaderMemberId(), endpoints: d.ingressEndpoints() });
    } else if (t === codecs.SessionMessageHeaderDecoder.TEMPLATE_ID) {
      const d = messageDec.wrapAndCheckHeader(buffer, offset, length);
      into.push({ kind: 'message', sessionId: d.clusterSessionIdAsNumber(), term: d.leadershipTermIdAsNumber(), sequence: d.timestampAsNumber(), answer: decodeKv<KvAnswer>(buffer.subarray(offset + SESSION_HEADER_LENGTH, offset + length)) });
    }
  }, 10);
}
