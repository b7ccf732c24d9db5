/** The sender-limit strategies of multicast and multi-destination publications (PROTOCOL.md §8.2). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MaxFlowControl, MinFlowControl, flowControlFor } from '../../../src/driver/flow-control.js';

const S = 1_000_000_000;
const defaults = { receiverTimeoutNs: 5 * S, groupMinSize: 0, groupTag: -1n };

test('max: the fastest receiver sets the limit, and the limit never falls', () => {
  const fc = new MaxFlowControl();
  let limit = 0;
  limit = fc.onStatusMessage(1n, 1000, 500, undefined, 0, limit);
  assert.equal(limit, 1500);
  limit = fc.onStatusMessage(2n, 200, 500, undefined, 0, limit);
  assert.equal(limit, 1500, 'a slower receiver does not hold it back');
  limit = fc.onStatusMessage(2n, 4000, 500, undefined, 0, limit);
  assert.equal(limit, 4500);
  assert.equal(fc.onIdle(10 * S, limit), 4500);
  assert.equal(fc.hasRequiredReceivers(), true);
});

test('min: the slowest live receiver sets the limit; a silent one stops counting after the timeout', () => {
  const fc = new MinFlowControl(5 * S, 0, undefined);
  let limit = 0;
  limit = fc.onStatusMessage(1n, 1000, 500, undefined, 0, limit);
  limit = fc.onStatusMessage(2n, 200, 500, undefined, 0, limit);
  assert.equal(limit, 1500, 'a status message never lowers the limit');
  assert.equal(fc.onIdle(1 * S, limit), 700, 'the periodic check paces by the slowest');
  limit = 700;
  limit = fc.onStatusMessage(1n, 3000, 500, undefined, 2 * S, limit);
  assert.equal(limit, 700, 'receiver 2 still holds it');
  limit = fc.onStatusMessage(2n, 600, 500, undefined, 2 * S, limit);
  assert.equal(limit, 1100);
  // Receiver 2 falls silent; receiver 1 keeps reporting.
  limit = fc.onStatusMessage(1n, 3000, 500, undefined, 6 * S, limit);
  assert.equal(fc.onIdle(6 * S, limit), 1100, 'not yet timed out (4 s of silence)');
  assert.equal(fc.onIdle(7.5 * S, limit), 3500, 'after 5 s of silence receiver 2 no longer counts');
  assert.equal(fc.receiverCount, 1);
});

test('min: a receiver that says it is leaving stops counting at once; a late joiner does not lower the limit', () => {
  const fc = new MinFlowControl(5 * S, 0, undefined);
  let limit = fc.onStatusMessage(1n, 1000, 500, undefined, 0, 0);
  limit = fc.onStatusMessage(2n, 1000, 500, undefined, 0, limit);
  assert.equal(limit, 1500);
  limit = fc.onStatusMessage(3n, 900, 500, undefined, 0, limit);
  assert.equal(limit, 1500, 'the late joiner reports where it joined; the limit stays');
  fc.onReceiverGone(3n);
  assert.equal(fc.receiverCount, 2);
  assert.equal(fc.onIdle(0, limit), 1500);
});

test('min with a group size: the limit stays and the publication is not connected until enough receivers report', () => {
  const fc = new MinFlowControl(5 * S, 2, undefined);
  let limit = fc.onStatusMessage(1n, 1000, 500, undefined, 0, 1000);
  assert.equal(limit, 1000);
  assert.equal(fc.hasRequiredReceivers(), false);
  limit = fc.onStatusMessage(2n, 1000, 800, undefined, 0, limit);
  assert.equal(limit, 1500);
  assert.equal(fc.hasRequiredReceivers(), true);
});

test('tagged: only receivers of the group count; others neither hold it back nor complete the group', () => {
  const fc = new MinFlowControl(5 * S, 2, 99n);
  let limit = fc.onStatusMessage(1n, 1000, 500, 99n, 0, 1000);
  limit = fc.onStatusMessage(2n, 10, 500, undefined, 0, limit);
  limit = fc.onStatusMessage(3n, 10, 500, 7n, 0, limit);
  assert.equal(fc.receiverCount, 1, 'receivers without the tag are not tracked');
  assert.equal(fc.hasRequiredReceivers(), false);
  assert.equal(limit, 1000);
  limit = fc.onStatusMessage(4n, 2000, 500, 99n, 0, limit);
  assert.equal(fc.hasRequiredReceivers(), true);
  assert.equal(limit, 1500, 'the slower of the two tagged receivers');
  assert.equal(fc.onIdle(0, limit), 1500, 'the untagged slow receivers do not pace it');
});

test('flowControlFor: max for unicast whatever fc= says; min and tagged with the URI options or the defaults', () => {
  assert.equal(flowControlFor({ strategy: 'min' }, false, defaults).name, 'max');
  assert.equal(flowControlFor(undefined, true, defaults).name, 'max');
  const min = flowControlFor({ strategy: 'min', timeoutNs: 1 * S, groupMinSize: 3 }, true, defaults);
  assert.equal(min.name, 'min');
  assert.equal(min.hasRequiredReceivers(), false, 'needs 3');
  const tagged = flowControlFor({ strategy: 'tagged' }, true, defaults);
  assert.equal(tagged.name, 'tagged');
  tagged.onStatusMessage(1n, 0, 10, -1n, 0, 0);
  assert.equal(tagged.receiverCount, 1, 'the default group tag is -1');
});
