/**
 * The shape of Skein's errors as a TypeScript and Node user meets them: a code whose type is the
 * union of the documented codes (so a `switch` over it is checked), aborts in Node's AbortError
 * shape, and one subject per message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, SkeinAbortError, SkeinError, handlerFailed, isAbortError, plural, type SkeinErrorCode } from '../../../src/util/errors.js';
import { Skein } from '../../../src/skein.js';
import { freeUdpPort } from '../../support/wait.js';
import { createSocket } from 'node:dgram';

/** Compile-time checks: this file does not build if `code` were a plain string. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const codeIsTheUnion: Equals<SkeinError['code'], SkeinErrorCode> = true;
const unionIsNotString: Equals<SkeinErrorCode, string> = false;

function retryAdvice(error: SkeinError): string {
  // An exhaustive switch: adding a code to ErrorCode without a case here fails the build.
  switch (error.code) {
    case ErrorCode.REQUEST_TIMEOUT:
    case ErrorCode.NOT_CONNECTED:
    case ErrorCode.PEER_LOST:
    case ErrorCode.BACK_PRESSURED:
    case ErrorCode.IN_FLIGHT_LIMIT:
    case ErrorCode.TIMEOUT:
    case ErrorCode.RPC_UNAVAILABLE:
    case ErrorCode.RPC_RESOURCE_EXHAUSTED:
    case ErrorCode.RPC_ABORTED:
    case ErrorCode.CLUSTER_COMMAND_FAILED:
      return 'retry';
    case ErrorCode.RPC_INVALID_ARGUMENT:
    case ErrorCode.RPC_NOT_FOUND:
    case ErrorCode.RPC_ALREADY_EXISTS:
    case ErrorCode.RPC_PERMISSION_DENIED:
    case ErrorCode.RPC_FAILED_PRECONDITION:
    case ErrorCode.RPC_OUT_OF_RANGE:
    case ErrorCode.RPC_UNIMPLEMENTED:
    case ErrorCode.RPC_UNAUTHENTICATED:
      return 'fix the call';
    case ErrorCode.RPC_CANCELLED:
    case ErrorCode.RPC_DEADLINE_EXCEEDED:
    case ErrorCode.RPC_UNKNOWN:
    case ErrorCode.RPC_INTERNAL:
    case ErrorCode.RPC_DATA_LOSS:
    case ErrorCode.CLUSTER_COMMAND_UNKNOWN:
      return 'look at the cause';
    case ErrorCode.URI_INVALID:
    case ErrorCode.URI_PARAM_INVALID:
    case ErrorCode.CONFIG_INVALID:
    case ErrorCode.CONFIG_UNKNOWN_OPTION:
    case ErrorCode.ARG_INVALID:
    case ErrorCode.MESSAGE_TOO_LONG:
      return 'fix the call';
    case ErrorCode.CLOSED:
    case ErrorCode.CLOSE_INCOMPLETE:
    case ErrorCode.DRIVER_COMMAND_FAILED:
    case ErrorCode.DRIVER_TIMEOUT:
    case ErrorCode.DRIVER_FAILED:
    case ErrorCode.PROTOCOL_INVALID:
    case ErrorCode.ARCHIVE_REQUEST_FAILED:
    case ErrorCode.TRANSPORT_BIND_FAILED:
    case ErrorCode.TRANSPORT_SEND_FAILED:
    case ErrorCode.AGENT_ERROR:
    case ErrorCode.COUNTERS_FULL:
    case ErrorCode.SNAPSHOT_INVALID:
    case ErrorCode.STORAGE_FAILED:
    case ErrorCode.LIMIT_REACHED:
    case ErrorCode.REQUEST_FAILED:
    case ErrorCode.RECONNECT_FAILED:
    case ErrorCode.ABORTED:
    case ErrorCode.HANDLER_FAILED:
      return 'look at the cause';
    default: {
      const unhandled: never = error.code;
      return unhandled;
    }
  }
}

test('SkeinError.code is the union of the documented codes', () => {
  assert.equal(codeIsTheUnion, true);
  assert.equal(unionIsNotString, false);
  // @ts-expect-error a code outside the documented ones does not compile
  const wrong = new SkeinError('ERR_SKEIN_NO_SUCH_CODE', 'x');
  assert.equal(wrong.code, 'ERR_SKEIN_NO_SUCH_CODE');
  for (const code of Object.values(ErrorCode)) assert.notEqual(retryAdvice(new SkeinError(code, 'x')), undefined);
});

test('SkeinAbortError is an AbortError in Node\'s shape: name, cause = signal.reason, and a Skein code and subject', () => {
  const controller = new AbortController();
  const reason = new Error('why');
  controller.abort(reason);
  const error = new SkeinAbortError('wait aborted', controller.signal, { channel: 'aeron:ipc', streamId: 1 });
  assert.equal(error.name, 'AbortError');
  assert.equal(error.cause, reason);
  assert.equal(error.code, ErrorCode.ABORTED);
  assert.ok(error instanceof SkeinError);
  assert.equal(error.message, 'wait aborted [channel=aeron:ipc streamId=1]');
  assert.ok(isAbortError(error));
  assert.ok(isAbortError(new DOMException('node', 'AbortError')), "Node's own AbortError counts too");
  assert.equal(isAbortError(new SkeinError(ErrorCode.TIMEOUT, 'late')), false);
});

test('handlerFailed names what threw and its subject, with the thrown value as the cause; plural agrees', () => {
  const thrown = new TypeError('bad');
  const error = handlerFailed('request handler', thrown, { channel: 'c', streamId: 2, sessionId: 3, correlationId: 4 });
  assert.equal(error.code, ErrorCode.HANDLER_FAILED);
  assert.equal(error.cause, thrown);
  assert.equal(error.message, 'request handler threw: bad [channel=c streamId=2 sessionId=3 correlationId=4]');
  assert.equal(handlerFailed('listener', 'a string', {}).message, 'listener threw: a string');
  assert.equal(plural(1, 'request is', 'requests are'), '1 request is');
  assert.equal(plural(2, 'request is', 'requests are'), '2 requests are');
});

test('an error the driver answers carries one subject, not one per layer', { timeout: 10_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 401, env: {}, errorHandler: () => {} });
  try {
    const socket = createSocket('udp4');
    const port = await freeUdpPort();
    await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
    try {
      for (const attempt of [
        () => skein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${port}`, 2),
        () => skein.addSubscription(`aeron:udp?control=127.0.0.1:${port}|control-mode=response|session-id=1`, 3),
        () => skein.addPublication(`aeron:ipc?term-lenght=65536`, 4),
      ]) {
        await assert.rejects(attempt(), (error: SkeinError) => {
          assert.equal((error.message.match(/\[/g) ?? []).length, 1, `one bracketed subject: ${error.message}`);
          assert.match(error.message, /\[channel=aeron:[^ ]+ streamId=\d+ correlationId=\d+\]$/);
          return true;
        });
      }
    } finally {
      socket.close();
    }
  } finally {
    await skein.close();
  }
});
