import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type StackSecret, stackSecretFile } from '../config/config.ts';

/**
 * The local stack's secrets are generated on first `dev up`, kept in files readable only by
 * their owner, and read back through the same *_FILE mechanism users have for their own.
 */
export function ensureStackSecret(stackDir: string, name: StackSecret): string {
  const file = stackSecretFile(stackDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  // The stack directory with the default mode (as root, Postgres runs as another user that must
  // traverse it; a recursive mkdir would give it 700 too), only `secrets/` private.
  mkdirSync(stackDir, { recursive: true });
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(18).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
