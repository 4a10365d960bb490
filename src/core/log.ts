import pino from 'pino';
import { logLevelSetting } from '../config/config.ts';

/**
 * Structured JSON lines on stderr (stdout stays for command output). Paths that could carry
 * secrets are redacted at the logger, so a careless `log.info({ config })` cannot leak them.
 */
export type Logger = pino.Logger;

const REDACT = [
  '*.password',
  '*.secret',
  '*.secretAccessKey',
  '*.token',
  '*.authorization',
  '*.*.password',
  '*.*.secretAccessKey',
  '*.*.token',
];

/** Where every logger's lines go: stderr, unless a command sends them elsewhere (`redirectLogs`). */
let destination: pino.DestinationStream = pino.destination(2);
const current: pino.DestinationStream = { write: (line: string) => destination.write(line) };

/**
 * Sends the lines of every logger, those already created included, to `to` until the returned
 * function restores the previous destination (`sluice demo` keeps the terminal for people).
 */
export function redirectLogs(to: pino.DestinationStream): () => void {
  const previous = destination;
  destination = to;
  return () => {
    destination = previous;
  };
}

/**
 * A logger for one component, at the configured level (SLUICE_LOG_LEVEL) unless given one.
 *
 * @example const log = createLogger('extract.postgres');
 */
export function createLogger(name: string, level: string = logLevelSetting()): Logger {
  return pino(
    { name, level, base: { service: 'sluice', component: name }, redact: { paths: REDACT, censor: '[redacted]' } },
    current,
  );
}
