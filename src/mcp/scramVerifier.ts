import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * A SCRAM-SHA-256 password verifier in the form Postgres stores (`rolpassword`). `CREATE ROLE ...
 * PASSWORD '<verifier>'` then sets the password without the plain text ever reaching the server,
 * its statement log or `pg_stat_activity` (RFC 5802 / RFC 7677; Postgres' default iteration count).
 *
 * @example await admin.query(`alter role r password ${client.escapeLiteral(scramSha256Verifier(pw))}`);
 */
export function scramSha256Verifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  // SASLprep is the identity for the ASCII passwords Sluice generates; NFKC covers the common rest.
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const b64 = (b: Buffer) => b.toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}
