/**
 * A node:test reporter that writes one line per failed test (file, name, first line of the
 * error) and the run's summary to its destination. `npm test` adds it beside the spec reporter
 * and prints the lines again after both passes: CI keeps only the tail of a long log, and a
 * failure in the first pass would otherwise scroll out of it.
 */
import { relative } from 'node:path';

interface FailEvent {
  type: string;
  data: {
    name: string;
    success?: boolean;
    counts?: { tests: number; passed: number; failed: number; cancelled: number; skipped: number; todo: number };
    file?: string;
    nesting: number;
    details?: { error?: { message?: string; cause?: { message?: string }; failureType?: string } };
  };
}

export default async function* failureReporter(source: AsyncIterable<FailEvent>): AsyncGenerator<string> {
  for await (const event of source) {
    const counts = event.data.counts;
    // The run's own summary comes without a file (each file's process sends one with its file).
    if (event.type === 'test:summary' && counts && !event.data.file) {
      const { tests, passed, failed, cancelled } = counts;
      yield `summary: tests ${tests}, pass ${passed}, fail ${failed}, cancelled ${cancelled}\n`;
    }
    if (event.type !== 'test:fail') continue;
    const { name, file, details } = event.data;
    // A file whose test failed also fails as a whole ("file failed"): report the test, not both.
    if (details?.error?.failureType === 'subtestsFailed') continue;
    const err = details?.error;
    const message = (err?.cause?.message ?? err?.message ?? 'failed').split('\n')[0]?.slice(0, 300);
    const where = file ? relative(process.cwd(), file) : '?';
    yield `${where}: ${name}: ${message}\n`;
  }
}
