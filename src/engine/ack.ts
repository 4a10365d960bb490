import type { Ack } from '../topology/types.ts';

/**
 * A reference-counted acknowledgement. Starts with one reference (the engine's, released when
 * the record has passed synchronously through the pipeline). `onDone` runs once, when the count
 * reaches zero; `onFail` runs once if any holder fails.
 */
export function createAck(onDone: () => void, onFail: (err: unknown) => void): Ack {
  let refs = 1;
  let settled = false;
  return {
    retain() {
      if (!settled) refs++;
    },
    release() {
      if (settled) return;
      if (--refs === 0) {
        settled = true;
        onDone();
      }
    },
    fail(err) {
      if (settled) return;
      settled = true;
      onFail(err);
    },
  };
}
