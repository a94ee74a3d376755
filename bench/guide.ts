/**
 * Renders PERFORMANCE-OPTIMIZATION-GUIDE.md's measured tables from docs/sweeps/*.json (written by
 * `npm run bench:sweep`), between `<!-- sweep:<knob> -->` markers; the prose is left as it is.
 *
 *   npm run guide            rewrite the guide
 *   npm run guide -- --check exit 1 when the guide is not what the sweeps render (nothing written)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../src/runtime/module-path.js';
import { loadSweeps, renderGuide } from './guide-render.js';

const { values: opts } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
const root = projectRoot();
const guidePath = join(root, 'PERFORMANCE-OPTIMIZATION-GUIDE.md');
try {
  const sweeps = loadSweeps(join(root, 'docs', 'sweeps'));
  const before = readFileSync(guidePath, 'utf8');
  const after = renderGuide(before, sweeps);
  if (opts.check) {
    if (after !== before) {
      process.stderr.write('PERFORMANCE-OPTIMIZATION-GUIDE.md is not what docs/sweeps/*.json render: run npm run guide\n');
      process.exit(1);
    }
    process.stdout.write(`guide up to date (${sweeps.length} sweeps)\n`);
  } else {
    if (after !== before) writeFileSync(guidePath, after);
    process.stdout.write(`${after === before ? 'unchanged' : 'rewrote'} PERFORMANCE-OPTIMIZATION-GUIDE.md from ${sweeps.length} sweeps\n`);
  }
} catch (e) {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
}
