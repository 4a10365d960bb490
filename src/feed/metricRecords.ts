import { createLogger } from '../core/log.ts';
import { errorCode, isSluiceError, type SluiceError } from '../core/errors.ts';
import { withRetry } from '../core/retry.ts';
import type { KafkaMessage } from '../kafka/kafkaTypes.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import { tpKey } from './feedCursor.ts';
import { metricOfTopic, toFeedUpdate, updateBody, type LoggedUpdate, FEED_INTERNAL_TOPICS } from './feedUpdate.ts';
import { decodeQualityMinute } from '../quality/qualityLedger.ts';

/**
 * Decoding of `metrics.*` records into feed updates, shared by the feed's live consumer and the
 * short-lived consumers that replay a range for a reconnecting client: both must turn the same
 * offset into the same update, or a resumed client would see something a live one did not.
 */

const log = createLogger('feed');

/**
 * Fetches the schemas of a batch, waiting out a registry outage: skipping those records would
 * leave a gap in every client's stream, and the log is the only place they could come from again.
 */
export async function prepareBatch(
  serde: AvroSerde,
  messages: KafkaMessage[],
  stillWanted: () => boolean,
): Promise<void> {
  await withRetry(() => serde.prepare(messages.map((m) => m.value)), {
    retries: Infinity,
    initialMs: 200,
    maxMs: 5_000,
    retriable: (err) => isSluiceError(err) && err.retriable && stillWanted(),
    // One line per ten attempts: an outage of minutes would otherwise flood the log.
    onRetry: (err, attempt) => {
      if ((attempt - 1) % 10 === 0)
        log.warn({ code: (err as SluiceError).code, attempt }, 'schema registry unavailable; live feed waits');
    },
  });
}

/**
 * The update a record stands for, or undefined for a tombstone or a value that is not a window
 * result (logged with its coordinates, never its contents).
 */
export function recordToUpdate(
  serde: AvroSerde,
  topic: string,
  partition: number,
  m: KafkaMessage,
): LoggedUpdate | undefined {
  const metric = metricOfTopic(topic);
  if (!metric || m.value === null) return undefined;
  const coordinates = { topic, partition, offset: m.offset };
  try {
    // The quality counts are JSON (no schema); every other metric topic is Avro.
    const decoded = topic === FEED_INTERNAL_TOPICS.quality ? undefined : serde.decodeSync(m.value, coordinates);
    const value = decoded ? decoded.value : decodeQualityMinute(m.value);
    // A key holds the group fields as they were: where some were masked, the key is made anew
    // from the masked value (the same layout, `<window_start>|<group fields>`).
    const key = decoded?.piiMasked ? null : (m.key?.toString('utf8') ?? null);
    const update = toFeedUpdate(metric, key, value);
    if (!update) {
      log.warn(
        { code: errorCode('FEED_NOT_A_WINDOW_RESULT'), coordinates },
        'metric record has no window_start/window_end; not served',
      );
      return undefined;
    }
    return {
      tp: tpKey(topic, partition),
      offset: Number(m.offset),
      metric,
      key: update.key,
      windowEnd: update.window.end,
      body: updateBody(update),
    };
  } catch (err) {
    log.warn(
      { code: isSluiceError(err) ? err.code : errorCode('INTERNAL'), coordinates, err: (err as Error).message },
      'metric record cannot be decoded; not served',
    );
    return undefined;
  }
}
