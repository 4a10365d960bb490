import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { apicurioJar, javaBinary } from '../artifacts.ts';
import { secretOf } from '../../config/config.ts';
import { SECURE_STACK_USER } from '../../config/stackFiles.ts';
import { spawnDaemon } from '../processes.ts';
import { ensureStackSecret } from '../secrets.ts';
import type { StackService } from '../service.ts';

/**
 * Apicurio Registry 3 (Quarkus) serving the Confluent API at /apis/ccompat/v7. Storage is an
 * H2 file under the stack directory, so schema ids survive a restart just as the records that
 * carry them survive in Kafka.
 */
/**
 * A secured stack's registry: HTTP basic auth on every path, through Quarkus' own embedded user
 * realm (Apicurio's authentication needs an OIDC server; this needs nothing). Given as
 * environment variables, so the password is not on the process's command line.
 */
function basicAuth(stackDir: string): Record<string, string> {
  return {
    QUARKUS_HTTP_AUTH_BASIC: 'true',
    QUARKUS_SECURITY_USERS_EMBEDDED_ENABLED: 'true',
    QUARKUS_SECURITY_USERS_EMBEDDED_PLAIN_TEXT: 'true',
    [`QUARKUS_SECURITY_USERS_EMBEDDED_USERS_${SECURE_STACK_USER.toUpperCase()}`]: ensureStackSecret(
      stackDir,
      'registry-password',
    ),
    QUARKUS_HTTP_AUTH_PERMISSION_SLUICE_PATHS: '/*',
    QUARKUS_HTTP_AUTH_PERMISSION_SLUICE_POLICY: 'authenticated',
  };
}

export const registryService: StackService = {
  name: 'registry',
  port: (cfg) => cfg.registryPort,
  startTimeoutMs: 90_000,
  async start(cfg, paths) {
    const java = javaBinary();
    const jar = apicurioJar(cfg.cacheDir);
    const db = path.join(paths.dir, 'db');
    mkdirSync(db, { recursive: true });
    return spawnDaemon(
      java,
      [
        '-Xms128m',
        '-Xmx512m',
        '-Djava.awt.headless=true',
        `-Dquarkus.http.port=${cfg.registryPort}`,
        '-Dquarkus.http.host=127.0.0.1',
        `-Dapicurio.datasource.url=jdbc:h2:file:${path.join(db, 'registry')};DB_CLOSE_ON_EXIT=FALSE`,
        '-Dquarkus.log.level=WARN',
        '-jar',
        jar,
      ],
      {
        logFile: paths.logFile,
        pidFile: paths.pidFile,
        cwd: paths.dir,
        env: cfg.stackSecure ? { ...process.env, ...basicAuth(cfg.stackDir) } : undefined,
      },
    );
  },
  async healthy(cfg) {
    const user = cfg.registryUsername;
    const headers: Record<string, string> = user
      ? { authorization: `Basic ${Buffer.from(`${user}:${secretOf(cfg, 'registryPassword')}`).toString('base64')}` }
      : {};
    const res = await fetch(`http://127.0.0.1:${cfg.registryPort}/apis/ccompat/v7/subjects`, {
      headers,
      signal: AbortSignal.timeout(2000),
    });
    return res.ok;
  },
};
