/** Entry point of every child process of the peers suite: `peer-child.js <role> <json config>`. */
import { runChild } from '../support/child-runtime.js';
import { PEER_ROLES } from './peer-roles.js';

runChild(PEER_ROLES);
