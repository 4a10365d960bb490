import type client from 'prom-client';
import type { Config } from '../../../src/config/config.ts';
import { SluiceError } from '../../../src/core/errors.ts';
import { createPostgresCdcSource } from './source.ts';

/** Which source feeds oltp.<table> in `sluice run`: the --source flag, else SLUICE_OLTP_SOURCE. */
export function chooseOltpSource(flag: string | undefined, cfg: Pick<Config, 'oltpSource'>): 'extract' | 'cdc' {
  if (flag === undefined) return cfg.oltpSource;
  if (flag === 'extract' || flag === 'cdc') return flag;
  throw new SluiceError('CLI_USAGE', `--source ${flag}: expected extract or cdc`);
}

/**
 * The CDC source inside `sluice run`: started in the background (a first snapshot may take a
 * while; the topologies need not wait), its metrics on the runner's registry. Transient failures
 * are retried without limit; a fatal one (an invalidated slot, a change that does not fit its
 * schema) is handed to `onFatal`, so the runner stops instead of running without its source.
 *
 * @example const cdc = startCdcInRunner(cfg, proc.registry, (err) => stopWith(1, err));
 */
export function startCdcInRunner(
  cfg: Config,
  registry: client.Registry,
  onFatal: (err: unknown) => void,
): { stop(): Promise<void> } {
  const cdc = createPostgresCdcSource(cfg, {}, { registry });
  let stopped = false;
  const fatal = (err: unknown) => {
    if (!stopped) onFatal(err);
  };
  cdc.start().then(() => cdc.done.catch(fatal), fatal);
  return {
    async stop() {
      stopped = true;
      await cdc.stop();
    },
  };
}
