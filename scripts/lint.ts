/**
 * `npm run lint`: Biome (formatting, lint rules, functions of at most 80 lines, no import
 * cycles — see biome.json) and the shape rules Biome has no rule for: no file in src/ or
 * connectors/ over 500 lines (generated types aside), no line over 120 characters anywhere — but
 * a line that is one string literal (a test title, a message), which formatters leave whole too.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const MAX_FILE_LINES = 500;
const MAX_LINE = 120;
const GENERATED = new Set(['src/domain/types.generated.ts']);
/** `'…',` or `test('…', async () => {` on a line of its own. */
const LONE_STRING = /^\s*(?:(?:test|it)\(\s*)?(['"`]).*\1\s*,?\s*(?:(?:async\s*)?\([^)]*\)\s*=>\s*\{)?\)?;?$/;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = path.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...files(rel));
    else if (/\.(ts|js)$/.test(name)) out.push(rel);
  }
  return out;
}

const problems: string[] = [];
for (const dir of ['src', 'connectors', 'topologies', 'test', 'bench', 'scripts']) {
  for (const file of files(dir)) {
    if (GENERATED.has(file)) continue;
    const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n');
    if ((dir === 'src' || dir === 'connectors') && lines.length > MAX_FILE_LINES) {
      problems.push(`${file}: ${lines.length} lines (at most ${MAX_FILE_LINES}: split it by job)`);
    }
    lines.forEach((l, i) => {
      if (l.length > MAX_LINE && !LONE_STRING.test(l))
        problems.push(`${file}:${i + 1}: ${l.length} characters (at most ${MAX_LINE})`);
    });
  }
}
for (const p of problems) process.stdout.write(`${p}\n`);

const biome = spawnSync(path.join(ROOT, 'node_modules/.bin/biome'), ['check', '--max-diagnostics=200', '.'], {
  cwd: ROOT,
  stdio: 'inherit',
});
const ok = !problems.length && biome.status === 0;
const failed = `lint: ${problems.length} shape problem(s)${biome.status ? ', Biome failed' : ''}\n`;
process.stdout.write(ok ? 'lint: clean\n' : failed);
process.exit(ok ? 0 : 1);
