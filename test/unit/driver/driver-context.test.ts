import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolveDriverSettings, DRIVER_OPTIONS } from '../../../src/driver/driver-context.js';
import { renderConfigurationDoc } from '../../../src/driver/config-doc.js';

test('defaults follow Aeron where it has them', () => {
  const s = resolveDriverSettings();
  assert.equal(s.termBufferLength, 16 * 1024 * 1024);
  assert.equal(s.ipcTermBufferLength, 64 * 1024 * 1024);
  assert.equal(s.mtuLength, 1408);
  assert.equal(s.initialWindowLength, 128 * 1024);
  assert.equal(s.statusMessageTimeoutNs, 200e6);
  assert.equal(s.imageLivenessTimeoutNs, 10e9);
  assert.equal(s.publicationConnectionTimeoutNs, 5e9);
  assert.equal(s.publicationLingerTimeoutNs, 5e9);
  assert.equal(s.publicationUnblockTimeoutNs, 15e9);
  assert.equal(s.nakUnicastDelayNs, 1000);
  assert.equal(s.retransmitUnicastLingerNs, 10e6);
  assert.ok(Object.isFrozen(s));
});

test('explicit options win over the environment, which wins over defaults', () => {
  const s = resolveDriverSettings({ mtuLength: 4096 }, { SKEIN_MTU_LENGTH: '8192', SKEIN_IMAGE_LIVENESS_TIMEOUT: '3s', SKEIN_TERM_BUFFER_LENGTH: '64k' });
  assert.equal(s.mtuLength, 4096);
  assert.equal(s.imageLivenessTimeoutNs, 3e9);
  assert.equal(s.termBufferLength, 65536);
});

test('every problem is reported in one error that names option, value and range', () => {
  assert.throws(
    () => resolveDriverSettings({ termBufferLength: 1000, mtuLength: 100, imageLivenesTimeoutNs: 5 } as never, { SKEIN_RCV_STATUS_MESSAGE_TIMEOUT: 'soon' }),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ERR_SKEIN_CONFIG_INVALID');
      assert.match(error.message, /termBufferLength: must be >= 65536 \(got 1000\)/);
      assert.match(error.message, /mtuLength: must be a multiple of 32 \(got 100\)/);
      assert.match(error.message, /unknown option 'imageLivenesTimeoutNs' \(did you mean 'imageLivenessTimeoutNs'\?\)/);
      assert.match(error.message, /SKEIN_RCV_STATUS_MESSAGE_TIMEOUT=soon/);
      return true;
    },
  );
});

test('docs/configuration.md is the generated reference of every option', () => {
  const doc = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');
  assert.equal(doc, renderConfigurationDoc(), 'regenerate with: node scripts/config-doc.mjs > docs/configuration.md');
  for (const spec of Object.values(DRIVER_OPTIONS)) assert.ok(doc.includes(spec.env));
});
