import { InvalidArgumentError } from 'commander';
import { parseTime } from '../admin/inspectTopic.ts';

/** Option parsers shared by the commands: each rejects bad input with a message saying what to give. */

export function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

export function positiveWholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

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
