/**
 * Exits once what the process wrote to stdout and stderr has been handed to the OS. Writes to a
 * pipe are asynchronous in Node: `process.exit` right after a large write kept only what fit the
 * pipe's buffer (`sluice describe --format json | cat` printed 65,536 bytes and stopped).
 *
 * @example await exitAfterOutput(0);
 */
export async function exitAfterOutput(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/** Resolves when everything written to `stream` so far is out (at once for a closed stream). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || !stream.writable) return Promise.resolve();
  // An empty write's callback runs after every write queued before it.
  return new Promise((resolve) => {
    stream.once('error', () => resolve());
    stream.write('', () => resolve());
  });
}
