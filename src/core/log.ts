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

/**
 * A logger for one component, at the configured level (SLUICE_LOG_LEVEL) unless given one.
 *
 * @example const log = createLogger('extract.postgres');
 */
export function createLogger(name: string, level: string = logLevelSetting()): Logger {
  return pino(
    { name, level, base: { service: 'sluice', component: name }, redact: { paths: REDACT, censor: '[redacted]' } },
    pino.destination(2),
  );
}
