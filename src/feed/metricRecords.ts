import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../core/log.ts';
import { isSluiceError } from '../core/errors.ts';
import type { Consumer, KafkaMessage } from '../kafka/kafkaTypes.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import { tpKey } from './feedCursor.ts';
import { metricOfTopic, toFeedUpdate, updateBody, type LoggedUpdate } from './feedUpdate.ts';

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
  for (let attempt = 0; ; attempt++) {
    try {
      await serde.prepare(messages.map((m) => m.value));
      return;
    } catch (err) {
      if (!isSluiceError(err) || !err.retriable || !stillWanted()) throw err;
      if (attempt % 10 === 0) log.warn({ code: err.code, attempt }, 'schema registry unavailable; live feed waits');
      await sleep(Math.min(5_000, 200 * 2 ** Math.min(attempt, 5)));
    }
  }
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
    const decoded = serde.decodeSync(m.value, coordinates);
    const update = toFeedUpdate(metric, m.key?.toString('utf8') ?? null, decoded.value);
    if (!update) {
      log.warn(
        { code: 'SLUICE_ERR_FEED_NOT_A_WINDOW_RESULT', coordinates },
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
      { code: isSluiceError(err) ? err.code : 'SLUICE_ERR_INTERNAL', coordinates, err: (err as Error).message },
      'metric record cannot be decoded; not served',
    );
    return undefined;
  }
}

/**
 * A consumer for the feed: like `KafkaClient.consumer`, but fetches wait at most `maxWaitMs` for
 * data. kafkajs finishes the fetch in flight before it disconnects, so its default five-second
 * wait would hold up every feed shutdown and every consumer rebuild by that much.
 */
export function feedConsumer(kafka: KafkaClient, groupId: string, maxWaitMs = 500): Consumer {
  return kafka.raw.consumer({
    groupId,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: maxWaitMs,
    maxBytesPerPartition: 1024 * 1024,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
  });
}
