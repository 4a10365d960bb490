import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the local stack keeps what it generates, under SLUICE_STACK_DIR: secrets (one file each,
 * mode 600), the TLS material of a secured stack, and the marker `dev up --secure` leaves so every
 * later command connects the secured way without being told.
 */

/** The secrets the local stack generates, each in a file under `<stack>/secrets/`. */
export type StackSecret =
  | 'pg-password'
  | 's3-secret'
  | 'feed-token'
  | 'pii-key'
  | 'kafka-password'
  | 'kafka-admin-password'
  | 'registry-password'
  | 'tls-store-password'
  | 'mcp-token'
  | 'mcp-reader-password';

export function stackSecretFile(stackDir: string, name: StackSecret): string {
  return path.join(stackDir, 'secrets', name);
}

/** The CA certificate (PEM) that signed the secured stack's server certificate. */
export function stackCaFile(stackDir: string): string {
  return path.join(stackDir, 'tls', 'ca.pem');
}

export function secureMarkerFile(stackDir: string): string {
  return path.join(stackDir, 'secure');
}

/** The user Sluice connects as to the secured stack's Kafka and registry. */
export const SECURE_STACK_USER = 'sluice';

/**
 * The client settings of a secured local stack, as variables: used where neither the environment
 * nor the config file sets them, when SLUICE_STACK_SECURE is on (or the marker says so).
 */
export function secureStackDefaults(stackDir: string): Record<string, string> {
  return {
    SLUICE_KAFKA_SSL: 'true',
    SLUICE_KAFKA_SSL_CA_FILE: stackCaFile(stackDir),
    SLUICE_KAFKA_SASL_MECHANISM: 'scram-sha-512',
    SLUICE_KAFKA_SASL_USERNAME: SECURE_STACK_USER,
    SLUICE_KAFKA_SASL_PASSWORD_FILE: stackSecretFile(stackDir, 'kafka-password'),
    SLUICE_REGISTRY_USERNAME: SECURE_STACK_USER,
    SLUICE_REGISTRY_PASSWORD_FILE: stackSecretFile(stackDir, 'registry-password'),
    SLUICE_PG_SSLMODE: 'verify-full',
    SLUICE_PG_SSL_ROOT_CERT: stackCaFile(stackDir),
  };
}

export function isSecureStack(stackDir: string): boolean {
  return existsSync(secureMarkerFile(stackDir));
}
