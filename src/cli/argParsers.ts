import { InvalidArgumentError } from 'commander';
import { SluiceError } from '../core/errors.ts';
import { parseDuration } from '../core/pacing.ts';

/** Option parsers shared by the commands: each rejects bad input with a message saying what to give. */

/** A whole number, 0 or more. */
export function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

/** A whole number, 1 or more. */
export function positiveWholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

/** A number above 0. */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

/** A Kafka offset, kept as a string (offsets exceed 2^53). */
export function kafkaOffset(value: string): string {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected an offset (a whole number)');
  return value;
}

/** ISO time, epoch ms, or a duration ago (`15m`). */
export function pointInTime(value: string): number {
  try {
    return parseTime(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/**
 * A time option: epoch milliseconds, an ISO 8601 date-time, or a duration ago (`15m`, `2h`, `1d`).
 *
 * @example parseTime('15m', Date.UTC(2026, 4, 1)) // 15 minutes before 2026-05-01T00:00:00Z
 */
export function parseTime(text: string, now = Date.now()): number {
  const t = text.trim();
  if (/^\d{10,}$/.test(t)) return Number(t);
  const ago = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)(?:\s*ago)?$/i.exec(t);
  if (ago) {
    const unit = ago[2].toLowerCase();
    const factor =
      unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : unit === 'h' ? 3_600_000 : 86_400_000;
    return now - Math.round(Number(ago[1]) * factor);
  }
  const ms = Date.parse(t);
  if (Number.isNaN(ms))
    throw new SluiceError(
      'CLI_USAGE',
      `"${text}" is not a time: use epoch milliseconds, an ISO date-time (2026-05-01T12:00:00Z) ` +
        'or a duration ago (15m, 2h)',
    );
  return ms;
}

/** Records per second; 0 means unlimited. */
export function recordsPerSecond(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('expected a number of records per second >= 0 (0: unlimited)');
  return n;
}

/** A share between 0 and 1. */
export function ratio(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('expected a ratio between 0 and 1, e.g. 0.05');
  return n;
}

/** A duration (`30s`, `5m`, `1h`, `1500ms`, `90` seconds) in milliseconds. */
export function duration(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Epoch milliseconds or an ISO 8601 time (no durations: a base time is a fixed point). */
export function epochOrIsoTime(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected epoch milliseconds or an ISO-8601 time');
  return n;
}

/** A TCP port, 0 to 65535 (0 picks a free one). */
export function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number (0 to 65535)');
  return n;
}
