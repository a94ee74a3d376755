import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/runtime/module-path.js';

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions per stage: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): { name: string; base: string; instructions: Instruction[] }[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: { name: string; base: string; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`not an instruction: ${line}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ base: f[1]!, name: f[2] ?? String(stages.length), instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`${op} before FROM`);
      stages.at(-1)!.instructions.push({ op, args });
    }
  }
  return stages;
}

describe('Dockerfile.production', () => {
  const stages = parseDockerfile(readFileSync(join(projectRoot(), 'Dockerfile.production'), 'utf8'));
  const runtime = stages.at(-1)!;
  const all = (op: string) => runtime.instructions.filter((i) => i.op === op);

  it('builds in one stage and runs on a Debian (glibc) Node 20 slim image', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    for (const s of stages) expect(s.base).toMatch(/^node:20-(bookworm|bullseye)-slim$/);
    expect(stages[0]!.instructions.some((i) => i.op === 'RUN' && /npm ci(?!.*--omit=dev)/.test(i.args))).toBe(true);
    expect(stages[0]!.instructions.some((i) => i.op === 'RUN' && i.args.includes('npm run build'))).toBe(true);
  });

  it('installs production dependencies only in the runtime stage and checks the native modules load', () => {
    expect(all('RUN').some((i) => i.args.includes('npm ci --omit=dev'))).toBe(true);
    expect(all('RUN').some((i) => ['lmdb', 'sodium-native', 'uWebSockets.js'].every((m) => i.args.includes(`require('${m}')`)))).toBe(true);
    expect(all('COPY').some((i) => i.args.includes('--from=build') && i.args.includes('dist'))).toBe(true);
  });

  it('runs as a non-root user under tini, with a health check on /q/health/ready, a volume and the ports', () => {
    const user = all('USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(all('ENTRYPOINT').at(-1)?.args).toMatch(/tini.*--/);
    const hc = all('HEALTHCHECK').at(-1)?.args ?? '';
    expect(hc).toContain('healthcheck.mjs');
    expect(hc).toContain('ready');
    expect(readFileSync(join(projectRoot(), 'deploy/healthcheck.mjs'), 'utf8')).toMatch(/\/q\/health\/\$\{kind\}/);
    expect(
      all('VOLUME')
        .map((i) => i.args)
        .join(),
    ).toContain('/var/lib/hotledger');
    expect(
      all('EXPOSE')
        .map((i) => i.args)
        .join(' '),
    ).toMatch(/9003.*9103/);
    // A data-dir variable would give every node of a host process the same directory.
    expect(
      all('ENV')
        .map((i) => i.args)
        .join(' '),
    ).not.toContain('HOTLEDGER_DATA_DIR');
  });
});
