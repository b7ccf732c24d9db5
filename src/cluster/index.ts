/** The cluster's public API (docs/cluster.md): members, the client, services. */
export { ClusterClient, DEFAULT_EGRESS_STREAM_ID, type ClusterClientOptions, type ClusterClientState, type ClusterClientStateChange, type CommandListener } from './cluster-client.js';
export { ClusterMember, DEFAULT_CONSENSUS_STREAM_ID, DEFAULT_LOG_STREAM_ID, type ClusterMemberEndpoint, type ClusterMemberOptions } from './cluster-member.js';
export { DEFAULT_INGRESS_FRAGMENT_LIMIT, DEFAULT_INGRESS_STREAM_ID } from './cluster-ingress.js';
export { KvService, encodeKv, decodeKv, type KvCommand, type KvAnswer } from './service/kv-service.js';
export { CloseReason } from './service/cluster-entries.js';
export type { ClusteredService, ClientSession, ServiceCluster } from './service/service-container.js';
