/**
 * Runs `work` with an AbortSignal tied to Ctrl-C (SIGINT) and SIGTERM: the first signal asks the
 * work to stop cleanly (printing `<signal>: <stopping>`), a second one exits at once with 130.
 *
 * @example
 *   await withInterrupt((signal) => generateClickstream(cfg, { rate: 100, signal }));
 */
export async function withInterrupt<T>(
  work: (signal: AbortSignal) => Promise<T>,
  stopping = 'stopping cleanly (again to force)…',
): Promise<T> {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      process.stderr.write(`\n${sig} again: exiting now\n`);
      process.exit(130);
    }
    process.stderr.write(`\n${sig}: ${stopping}\n`);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(ac.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
