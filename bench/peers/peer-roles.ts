/**
 * The roles a child process of the peers suite can play, by name. Each is imported on demand, so a
 * child loads only its own system's library (and nothing loads a bench library unless it runs).
 */
import type { Role } from '../support/child-runtime.js';

function lazy<K extends string>(load: () => Promise<Record<K, Role>>, name: K): Role {
  return async (config, context) => (await load())[name](config, context);
}

const skein = (): Promise<typeof import('./roles/skein-roles.js')> => import('./roles/skein-roles.js');
const skeinRpc = (): Promise<typeof import('./roles/skein-rpc-roles.js')> => import('./roles/skein-rpc-roles.js');
const skeinArchive = (): Promise<typeof import('./roles/skein-archive-roles.js')> => import('./roles/skein-archive-roles.js');
const dgram = (): Promise<typeof import('./roles/dgram-roles.js')> => import('./roles/dgram-roles.js');
const workers = (): Promise<typeof import('./roles/worker-roles.js')> => import('./roles/worker-roles.js');
const zeromq = (): Promise<typeof import('./roles/zeromq-roles.js')> => import('./roles/zeromq-roles.js');
const nats = (): Promise<typeof import('./roles/nats-roles.js')> => import('./roles/nats-roles.js');
const redis = (): Promise<typeof import('./roles/redis-roles.js')> => import('./roles/redis-roles.js');
const sofa = (): Promise<typeof import('./roles/sofa-roles.js')> => import('./roles/sofa-roles.js');
const grpc = (): Promise<typeof import('./roles/grpc-roles.js')> => import('./roles/grpc-roles.js');

export const PEER_ROLES: Readonly<Record<string, Role>> = {
  'skein-udp-send': lazy(skein, 'skeinUdpSender'),
  'skein-udp-recv': lazy(skein, 'skeinUdpReceiver'),
  'skein-ipc': lazy(skein, 'skeinIpc'),
  'skein-udp-echo': lazy(skein, 'skeinUdpEcho'),
  'skein-udp-request': lazy(skein, 'skeinUdpRequester'),
  'skein-ipc-request': lazy(skein, 'skeinIpcRequester'),
  'skein-rr-server': lazy(skein, 'skeinRrServer'),
  'skein-rr-request': lazy(skein, 'skeinRrRequester'),
  'skein-rpc-server': lazy(skeinRpc, 'skeinRpcServer'),
  'skein-rpc-request': lazy(skeinRpc, 'skeinRpcRequester'),
  'skein-archive-server': lazy(skeinArchive, 'skeinArchiveServer'),
  'skein-archive-publish': lazy(skeinArchive, 'skeinArchivePublisher'),
  'dgram-send': lazy(dgram, 'dgramSender'),
  'dgram-recv': lazy(dgram, 'dgramReceiver'),
  'dgram-echo': lazy(dgram, 'dgramEcho'),
  'dgram-request': lazy(dgram, 'dgramRequester'),
  'worker-post': lazy(workers, 'workerPost'),
  'worker-post-request': lazy(workers, 'workerPostRequester'),
  'sab-ring': lazy(workers, 'sabRing'),
  'zmq-pull': lazy(zeromq, 'zmqPull'),
  'zmq-push': lazy(zeromq, 'zmqPush'),
  'zmq-pub': lazy(zeromq, 'zmqPublisher'),
  'zmq-sub': lazy(zeromq, 'zmqSubscriber'),
  'zmq-router-echo': lazy(zeromq, 'zmqRouterEcho'),
  'zmq-dealer-request': lazy(zeromq, 'zmqDealerRequester'),
  'nats-pub': lazy(nats, 'natsPublisher'),
  'nats-sub': lazy(nats, 'natsSubscriber'),
  'nats-reply': lazy(nats, 'natsReplier'),
  'nats-request': lazy(nats, 'natsRequester'),
  'nats-jetstream': lazy(nats, 'natsJetStreamPublisher'),
  'redis-pub': lazy(redis, 'redisPublisher'),
  'redis-sub': lazy(redis, 'redisSubscriber'),
  'redis-echo': lazy(redis, 'redisEcho'),
  'redis-request': lazy(redis, 'redisRequester'),
  'grpc-server': lazy(grpc, 'grpcServer'),
  'grpc-stream-send': lazy(grpc, 'grpcStreamSender'),
  'grpc-unary-request': lazy(grpc, 'grpcUnaryRequester'),
  'sofa-server': lazy(sofa, 'sofaServer'),
  'sofa-request': lazy(sofa, 'sofaRequester'),
  'grpc-bidi-request': lazy(grpc, 'grpcBidiRequester'),
};
