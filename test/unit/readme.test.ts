import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/config.ts';
import { buildCli } from '../../src/cli/main.ts';
import { settingsTable } from '../../src/cli/configCommand.ts';

const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');

test('the README configuration table is the one the config module generates (`sluice config table`)', () => {
  const table = /<!-- config-table:start -->\n([\s\S]*?)<!-- config-table:end -->/.exec(readme)?.[1];
  assert.equal(table, settingsTable());
});

test('every command the README lists exists in the CLI, and every CLI command is in the README', () => {
  const listed = new Set([...readme.matchAll(/^\| `sluice ([a-z-]+)/gm)].map((m) => m[1]));
  const actual = new Set(buildCli().commands.map((c) => c.name()));
  assert.deepEqual([...listed].sort(), [...actual].sort());
});

test('the README starts with the two commands for a fresh machine', () => {
  const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1].trim().split('\n') ?? [];
  assert.deepEqual(
    block.map((l) => l.split('#')[0].trim()),
    ['npm ci && npx sluice demo', 'npm ci && npm test'],
  );
});

test('the connector example in the README is the example connector, whole (connectors/file/sink_jsonl.ts)', () => {
  const source = readFileSync(path.join(PROJECT_ROOT, 'connectors/file/sink_jsonl.ts'), 'utf8').trimEnd();
  assert.ok(readme.includes(`\`\`\`ts\n${source}\n\`\`\``), 'README shows connectors/file/sink_jsonl.ts as it is');
});
