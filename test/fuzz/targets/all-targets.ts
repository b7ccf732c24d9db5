/** Every fuzz target, by name: one per decoder family, then the live receive path (simulated, then real UDP), then SETUP floods. */
import type { FuzzTarget } from '../fuzz-target.js';
import { dataFrameTarget } from './data-frame-target.js';
import { setupTarget } from './setup-target.js';
import { statusMessageTarget } from './status-message-target.js';
import { nakTarget } from './nak-target.js';
import { rttmTarget } from './rttm-target.js';
import { errorFrameTarget } from './error-frame-target.js';
import { responseSetupTarget } from './response-setup-target.js';
import { resolutionTarget } from './resolution-target.js';
import { receivePathTarget } from './receive-path-target.js';
import { receivePathUdpTarget } from './receive-path-udp-target.js';
import { setupFloodTarget } from './setup-flood-target.js';

export const DECODER_TARGETS: readonly FuzzTarget[] = [
  dataFrameTarget,
  setupTarget,
  statusMessageTarget,
  nakTarget,
  rttmTarget,
  errorFrameTarget,
  responseSetupTarget,
  resolutionTarget,
];

export const FUZZ_TARGETS: readonly FuzzTarget[] = [...DECODER_TARGETS, receivePathTarget, receivePathUdpTarget, setupFloodTarget];

export function findTarget(name: string): FuzzTarget | undefined {
  return FUZZ_TARGETS.find((t) => t.name === name);
}
