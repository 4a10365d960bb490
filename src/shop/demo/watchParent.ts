/**
 * Calls `onGone` once when the process that started this one exits (this process is re-parented).
 * `npx sluice demo` and `npm run demo` run under npm and a shell: `kill -INT` of npm kills the
 * shell, which passes nothing on, so the demo's only sign is that its parent is gone. Polls every
 * `everyMs` without keeping the process alive; returns the function that stops watching.
 *
 * @example const unwatch = watchParent(() => abort.abort());
 */
export function watchParent(onGone: () => void, everyMs = 500): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
