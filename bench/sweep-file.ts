import { z } from 'zod';
import { HotledgerError } from '../src/errors.js';
import { SWEEP_BENCHES } from './sweep-knobs.js';

/** Bumped when a field changes meaning; the renderer refuses other versions. */
export const SWEEP_FORMAT = 1;

const latency = z.object({ p50: z.number().nonnegative(), p95: z.number().nonnegative(), p99: z.number().nonnegative() });

/** The figures a guide table shows, taken from the bench's JSON by the sweep (the full result is kept beside). */
export const RunSummarySchema = z.object({
  tps: z.number().nonnegative(),
  ceilingTps: z.number().positive(),
  /** Engine: TPS / ceiling. Cluster: the bench's efficiency, TPS × validators / ceiling. */
  ratio: z.number().nonnegative(),
  latencyMs: latency,
  /** Where the latency was measured (e.g. "fixed rate 8,000 tx/s"). */
  latencyAt: z.string().min(1),
  /** Engine: the bench process's peak RSS. Cluster: RSS per logical node at the end of saturation. */
  rssMb: z.number().nonnegative(),
  readyMs: z.number().nonnegative().optional(),
  viewChanges: z.number().int().nonnegative().optional(),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;

export const SweepRunSchema = z.object({
  value: z.number().int(),
  repeat: z.number().int().min(1),
  startedAt: z.string().min(1),
  seconds: z.number().nonnegative(),
  /** Load average (1 min) right before the run: the machine is shared. */
  loadAvg1: z.number().nonnegative(),
  /** The knob's value the bench reports it ran with; equal to `value` or the sweep fails. */
  effective: z.unknown(),
  summary: RunSummarySchema,
  result: z.record(z.string(), z.unknown()),
});
export type SweepRun = z.infer<typeof SweepRunSchema>;

export const SweepFileSchema = z
  .object({
    format: z.literal(SWEEP_FORMAT),
    knob: z.string().min(1),
    bench: z.enum(SWEEP_BENCHES),
    /** How the value reached the bench: a flag or a HOTLEDGER_* variable. */
    appliedBy: z.string().min(1),
    values: z.array(z.number().int()).min(1),
    repeat: z.number().int().min(1),
    command: z.string().min(1),
    benchArgs: z.array(z.string()),
    commit: z.string().regex(/^[0-9a-f]{40}$/),
    /** Uncommitted changes under src/, bench/ or config/ when the sweep ran (dist/ was built from them). */
    dirty: z.boolean(),
    startedAt: z.string().min(1),
    finishedAt: z.string().min(1),
    machine: z.object({ cpuModel: z.string().min(1), cores: z.number().int().min(1), node: z.string().min(1), os: z.string().min(1) }),
    runs: z.array(SweepRunSchema).min(1),
  })
  .superRefine((f, ctx) => {
    for (const v of f.values) {
      const n = f.runs.filter((r) => r.value === v).length;
      if (n !== f.repeat) ctx.addIssue({ code: 'custom', path: ['runs'], message: `value ${v} has ${n} run(s), expected ${f.repeat} (repeat)` });
    }
    f.runs.forEach((r, i) => {
      if (!f.values.includes(r.value)) ctx.addIssue({ code: 'custom', path: ['runs', i, 'value'], message: `${r.value} is not one of values [${f.values.join(', ')}]` });
    });
  });
export type SweepFile = z.infer<typeof SweepFileSchema>;

/** A sweep file the renderer cannot use: names the file and every field that is wrong. */
export class SweepFileError extends HotledgerError {
  constructor(source: string, problems: string[]) {
    // BAD_REQUEST: the input is refused as given; nothing else in the project reads sweep files.
    super('BAD_REQUEST', `${source}: not a usable sweep file:\n${problems.map((p) => `  ${p}`).join('\n')}`, { source, problems });
    this.name = 'SweepFileError';
  }
}

export function parseSweepFile(text: string, source: string): SweepFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SweepFileError(source, [`invalid JSON: ${(e as Error).message}`]);
  }
  const parsed = SweepFileSchema.safeParse(raw);
  if (!parsed.success)
    throw new SweepFileError(
      source,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`),
    );
  return parsed.data;
}
