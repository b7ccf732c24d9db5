/** Entry point of every child process of the transport suite: `child-main.js <role> <json>`. */
import { runChild, type Role } from '../support/child-runtime.js';
import { skeinUdpPublisher } from './roles/skein-udp-publisher.js';
import { skeinUdpSubscriber } from './roles/skein-udp-subscriber.js';
import { skeinIpc } from './roles/skein-ipc.js';
import { skeinPing } from './roles/skein-ping.js';
import { skeinPong } from './roles/skein-pong.js';
import { dgramSender } from './roles/dgram-sender.js';
import { dgramReceiver } from './roles/dgram-receiver.js';
import { dgramPing } from './roles/dgram-ping.js';
import { dgramPong } from './roles/dgram-pong.js';
import { sabRing } from './roles/sab-ring.js';

export const TRANSPORT_ROLES: Readonly<Record<string, Role>> = {
  'skein-udp-pub': skeinUdpPublisher as Role,
  'skein-udp-sub': skeinUdpSubscriber as Role,
  'skein-ipc': skeinIpc as Role,
  'skein-ping': skeinPing as Role,
  'skein-pong': skeinPong as Role,
  'dgram-send': dgramSender as Role,
  'dgram-recv': dgramReceiver as Role,
  'dgram-ping': dgramPing as Role,
  'dgram-pong': dgramPong as Role,
  'sab-ring': sabRing as Role,
};

runChild(TRANSPORT_ROLES);
