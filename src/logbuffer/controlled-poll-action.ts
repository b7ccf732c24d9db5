/**
 * What a controlled fragment handler tells the reader to do after a fragment:
 *
 * - `ABORT`: do not consume this fragment; the next poll delivers it again.
 * - `BREAK`: consume this fragment and stop the poll.
 * - `COMMIT`: consume this fragment and make everything so far the committed position, then go on.
 * - `CONTINUE`: consume this fragment and go on.
 */
export const ControlledPollAction = {
  ABORT: 1,
  BREAK: 2,
  COMMIT: 3,
  CONTINUE: 4,
} as const;

export type ControlledPollAction = (typeof ControlledPollAction)[keyof typeof ControlledPollAction];
