import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { apicurioJar, javaBinary } from '../artifacts.ts';
import { spawnDaemon } from '../processes.ts';
import type { StackService } from '../service.ts';

/**
 * Apicurio Registry 3 (Quarkus) serving the Confluent API at /apis/ccompat/v7. Storage is an
 * H2 file under the stack directory, so schema ids survive a restart just as the records that
 * carry them survive in Kafka.
 */
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
      { logFile: paths.logFile, pidFile: paths.pidFile, cwd: paths.dir },
    );
  },
  async healthy(cfg) {
    const res = await fetch(`http://127.0.0.1:${cfg.registryPort}/apis/ccompat/v7/subjects`, {
      signal: AbortSignal.timeout(2000),
    });
    return res.ok;
  },
};
