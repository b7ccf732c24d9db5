/**
 * The error-code table stays stable and documented, and docs/robustness.md stays true: it lists
 * every error code, every limit option with its variable, only counters that exist, and only test
 * files that exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { DRIVER_OPTIONS } from '../../../src/driver/driver-context.js';
import { SYSTEM_COUNTER_LABELS } from '../../../src/agent/counter-types.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const DOC = readFileSync(`${ROOT}docs/robustness.md`, 'utf8');

/** Codes that existed before the robustness work: they must never change. */
const STABLE_CODES: Record<string, string> = {
  URI_INVALID: 'ERR_SKEIN_URI_INVALID',
  URI_PARAM_INVALID: 'ERR_SKEIN_URI_PARAM_INVALID',
  CONFIG_INVALID: 'ERR_SKEIN_CONFIG_INVALID',
  CONFIG_UNKNOWN_OPTION: 'ERR_SKEIN_CONFIG_UNKNOWN_OPTION',
  ARG_INVALID: 'ERR_SKEIN_ARG_INVALID',
  MESSAGE_TOO_LONG: 'ERR_SKEIN_MESSAGE_TOO_LONG',
  CLOSED: 'ERR_SKEIN_CLOSED',
  CLOSE_INCOMPLETE: 'ERR_SKEIN_CLOSE_INCOMPLETE',
  DRIVER_COMMAND_FAILED: 'ERR_SKEIN_DRIVER_COMMAND_FAILED',
  DRIVER_TIMEOUT: 'ERR_SKEIN_DRIVER_TIMEOUT',
  TRANSPORT_BIND_FAILED: 'ERR_SKEIN_TRANSPORT_BIND_FAILED',
  TRANSPORT_SEND_FAILED: 'ERR_SKEIN_TRANSPORT_SEND_FAILED',
  AGENT_ERROR: 'ERR_SKEIN_AGENT_ERROR',
  COUNTERS_FULL: 'ERR_SKEIN_COUNTERS_FULL',
  SNAPSHOT_INVALID: 'ERR_SKEIN_SNAPSHOT_INVALID',
  STORAGE_FAILED: 'ERR_SKEIN_STORAGE_FAILED',
  LIMIT_REACHED: 'ERR_SKEIN_LIMIT_REACHED',
};

/** The options that bound a collection or the work per step; each has a row in the limits table. */
const LIMIT_OPTIONS = [
  'maxImagesPerEndpoint',
  'imageLogsLengthMax',
  'pendingSetupsMax',
  'pendingImagesMax',
  'receiversPerPublicationMax',
  'retransmitSlotsMax',
  'nakGapsMax',
  'clientsMax',
  'countersCapacity',
  'errorLogCapacity',
  'sendBatchDatagramsMax',
] as const;

test('error codes: ERR_SKEIN_<AREA>_<REASON>, named after their key, unique, and the old ones unchanged', () => {
  const values = Object.values(ErrorCode);
  assert.equal(new Set(values).size, values.length, 'no two keys share a code');
  for (const [key, code] of Object.entries(ErrorCode)) {
    assert.match(code, /^ERR_SKEIN_[A-Z]+(_[A-Z]+)*$/);
    assert.equal(code, `ERR_SKEIN_${key}`);
  }
  for (const [key, code] of Object.entries(STABLE_CODES)) assert.equal((ErrorCode as Record<string, string>)[key], code, `${key} keeps its code`);
});

test('a SkeinError carries its code, category and subject, and names the subject in its message', () => {
  const error = new SkeinError(ErrorCode.LIMIT_REACHED, 'limit', { channel: 'aeron:ipc', streamId: 7, category: 'warn' });
  assert.equal(error.code, 'ERR_SKEIN_LIMIT_REACHED');
  assert.equal(error.category, 'warn');
  assert.deepEqual(error.subject, { channel: 'aeron:ipc', streamId: 7 });
  assert.equal(error.message, 'limit [channel=aeron:ipc streamId=7]');
});

test('docs/robustness.md has a row for every error code', () => {
  for (const code of Object.values(ErrorCode)) assert.ok(DOC.includes(`| \`${code}\` |`), `docs/robustness.md documents ${code}`);
});

test('docs/robustness.md lists every limit option with its variable, and they are driver options', () => {
  const options = DRIVER_OPTIONS as Record<string, { env: string }>;
  for (const name of LIMIT_OPTIONS) {
    assert.ok(options[name] !== undefined, `${name} is a driver option`);
    assert.ok(DOC.includes(`\`${name}\` (\`${options[name]!.env}\`)`), `docs/robustness.md lists ${name} (${options[name]!.env})`);
  }
});

test('counters named in the limits table exist', () => {
  const labels = new Set(Object.values(SYSTEM_COUNTER_LABELS));
  const table = DOC.slice(DOC.indexOf('## Resource limits'), DOC.indexOf('Fixed bounds'));
  const rows = table.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| Bound') && !line.startsWith('|---'));
  assert.ok(rows.length >= LIMIT_OPTIONS.length);
  for (const row of rows) {
    const cell = row.split(' | ')[5]!.trim();
    if (cell === '–') continue;
    // A bound with several counters names them separated by '; '.
    for (const counter of cell.split('; ')) assert.ok(labels.has(counter), `'${counter}' is a system counter label`);
  }
});

test('test files and scripts named in docs/robustness.md exist', () => {
  const paths = new Set([...DOC.matchAll(/`((?:test|scripts)\/[\w./-]+\.(?:ts|mjs))`/g)].map((m) => m[1]!));
  assert.ok(paths.size >= 10, `found ${paths.size} paths`);
  for (const path of paths) assert.ok(existsSync(`${ROOT}${path}`), `${path} exists`);
});
