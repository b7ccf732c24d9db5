/**
 * Results of `offer` and `tryClaim` that are not a new position. Values match Aeron's so that
 * code written against Aeron reads the same.
 */
export const NOT_CONNECTED = -1;
/** The subscriber (or the sender's flow-control window) is behind: try again later. */
export const BACK_PRESSURED = -2;
/** The log rotated to the next term during the call: try again at once. */
export const ADMIN_ACTION = -3;
export const CLOSED = -4;
/** The stream reached the largest position its term length allows. */
export const MAX_POSITION_EXCEEDED = -5;

export function publicationCodeName(code: number): string {
  switch (code) {
    case NOT_CONNECTED:
      return 'NOT_CONNECTED';
    case BACK_PRESSURED:
      return 'BACK_PRESSURED';
    case ADMIN_ACTION:
      return 'ADMIN_ACTION';
    case CLOSED:
      return 'CLOSED';
    case MAX_POSITION_EXCEEDED:
      return 'MAX_POSITION_EXCEEDED';
    default:
      return code >= 0 ? 'POSITION' : `UNKNOWN(${code})`;
  }
}
