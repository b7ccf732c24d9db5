/**
 * Entry point of every child process of the transport suite: `child-main.js <role> <json>`.
 * Roles are imported on demand, so a child loads (and a CPU profile shows) only its own code.
 */
import { runChild, type Role } from '../support/child-runtime.js';

function lazy<K extends string>(load: () => Promise<Record<K, Role>>, name: K): Role {
  return async (config, context) => (await load())[name](config, context);
}

export const TRANSPORT_ROLES: Readonly<Record<string, Role>> = {
  'skein-udp-pub': lazy(() => import('./roles/skein-udp-publisher.js'), 'skeinUdpPublisher'),
  'skein-udp-sub': lazy(() => import('./roles/skein-udp-subscriber.js'), 'skeinUdpSubscriber'),
  'skein-ipc': lazy(() => import('./roles/skein-ipc.js'), 'skeinIpc'),
  'skein-ipc-threads': lazy(() => import('./roles/skein-ipc-threads.js'), 'skeinIpcThreads'),
  'skein-ping': lazy(() => import('./roles/skein-ping.js'), 'skeinPing'),
  'skein-pong': lazy(() => import('./roles/skein-pong.js'), 'skeinPong'),
  'dgram-send': lazy(() => import('./roles/dgram-sender.js'), 'dgramSender'),
  'dgram-recv': lazy(() => import('./roles/dgram-receiver.js'), 'dgramReceiver'),
  'dgram-ping': lazy(() => import('./roles/dgram-ping.js'), 'dgramPing'),
  'dgram-pong': lazy(() => import('./roles/dgram-pong.js'), 'dgramPong'),
  'sab-ring': lazy(() => import('./roles/sab-ring.js'), 'sabRing'),
  'paired-ping': lazy(() => import('./roles/paired-ping.js'), 'pairedPing'),
  'paired-pong': lazy(() => import('./roles/paired-pong.js'), 'pairedPong'),
};

runChild(TRANSPORT_ROLES);
