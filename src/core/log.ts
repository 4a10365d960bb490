import pino from 'pino';

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

export function createLogger(name: string, level: string = process.env.SLUICE_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    { name, level, base: { service: 'sluice', component: name }, redact: { paths: REDACT, censor: '[redacted]' } },
    pino.destination(2),
  );
}
