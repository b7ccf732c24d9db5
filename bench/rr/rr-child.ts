/** Entry point of the rr suite's child processes: `rr-child.js <role> <json>`. */
import { runChild, type Role } from '../support/child-runtime.js';

function lazy<K extends string>(load: () => Promise<Record<K, Role>>, name: K): Role {
  return async (config, context) => (await load())[name](config, context);
}

runChild({
  'skein-rr-server': lazy(() => import('./roles/skein-rr-server.js'), 'skeinRrServer'),
  'skein-rr-client': lazy(() => import('./roles/skein-rr-client.js'), 'skeinRrClient'),
  'skein-rr-spaced-client': lazy(() => import('./roles/skein-rr-client.js'), 'skeinRrSpacedClient'),
  'dgram-rr-client': lazy(() => import('./roles/dgram-rr-client.js'), 'dgramRrClient'),
  'dgram-rr-spaced-client': lazy(() => import('./roles/dgram-rr-client.js'), 'dgramRrSpacedClient'),
  'dgram-rr-server': lazy(() => import('./roles/dgram-rr-server.js'), 'dgramRrServer'),
  'dgram-pong': lazy(() => import('../transport/roles/dgram-pong.js'), 'dgramPong'),
});
