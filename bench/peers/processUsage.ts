import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const PAGE_BYTES = 4096;

/**
 * CPU seconds (user + system) a process has used so far and its resident MiB, from /proc: the
 * same reading for a JVM and for Node, so peers are compared on what the kernel counted.
 * Zeros once the process is gone.
 */
export function processUsage(pid: number): { cpuSeconds: number; rssMiB: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name: state is f[0], utime f[11], stime f[12], rss (pages) f[21].
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      cpuSeconds: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND,
      rssMiB: (Number(f[21]) * PAGE_BYTES) / 2 ** 20,
    };
  } catch {
    return { cpuSeconds: 0, rssMiB: 0 };
  }
}
