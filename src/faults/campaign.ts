import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stats } from '../cluster/http.js';
import { Harness, sleep } from './harness.js';
import type { Fault, FaultPlan } from './faults.js';

export interface CampaignOptions {
  faults: Fault[];
  validators?: number;
  timeoutMs?: number;
  /** Peak RSS bound of every validator process, MB. */
  rssLimitMb?: number;
  perTick?: number;
  tickMs?: number;
  /** Keep the cluster directory (node.log files) after the run. */
  keep?: boolean;
  log?: (s: string) => void;
}

export interface FaultResult {
  fault: string;
  what: string;
  /** ms from the fault's start to a commit on every validator that kept a quorum (null: none expected). */
  duringMs: number | null;
  duringBoundMs: number | null;
  /** ms from the lift to a commit on every validator expected to resume (null: none within the wait). */
  resumedAfterMs: number | null;
  resumedBoundMs: number;
  /** ms from the lift until each rejoining validator reached the survivors' height at the lift. */
  catchUpMs: Record<string, number | null>;
  acked: number;
  ackedTotal: number;
  lost: number;
  rootsAgree: boolean;
  supplyOk: boolean;
  peakRssMb: number;
  rssByValidatorMb: number[];
  height: number;
  pass: boolean;
  failures: string[];
  notes: string[];
  durationMs: number;
}

export interface CampaignReport {
  date: string;
  validators: number;
  f: number;
  quorum: number;
  timeoutMs: number;
  rssLimitMb: number;
  load: string;
  results: FaultResult[];
  pass: boolean;
  durationMs: number;
}

/** Slack on top of protocol bounds for loopback round trips and fsyncs on a shared 2-core machine. */
const SLACK_MS = 750;

/**
 * Runs faults one after another against one real cluster under steady load and checks the
 * ledger's promises after each (see docs/reliability.md). Every child process is stopped at the
 * end, also when a fault throws.
 */
export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const T = o.timeoutMs ?? 1_000;
  const rssLimitMb = o.rssLimitMb ?? 1_024;
  const perTick = o.perTick ?? 5;
  const tickMs = o.tickMs ?? 100;
  const dir = mkdtempSync(join(tmpdir(), 'hotledger-faults-'));
  const t00 = Date.now();
  const h = new Harness({ dir, validators: o.validators ?? 4, chainId: 8008, timeoutMs: T, perTick, tickMs, maxSeconds: 900, log });
  const results: FaultResult[] = [];
  const final: Fault = {
    name: 'final',
    byzantine: false,
    what: 'every validator honest and running again; every acknowledged id checked on every validator',
    run: async (hh) => ({ startedAt: Date.now(), liftedAt: Date.now(), duringNodes: [], resumeNodes: hh.honest(), rejoining: hh.honest(), notes: [] }),
  };
  let interrupted = false;
  const onSignal = () => {
    // A second signal (e.g. from both `timeout` and its process group) must not end this process
    // with validators still running: kill them at once instead of waiting for the graceful stop.
    if (interrupted) {
      h.sup?.killAllNow();
      process.exit(130);
    }
    interrupted = true;
    log('interrupted: stopping the cluster');
    void h.stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await h.start();
    await sleep(2_000);
    for (const fault of [...o.faults, final]) {
      if (interrupted) break;
      log(`-- ${fault.name}: ${fault.what}`);
      const t0 = Date.now();
      const r = await runOne(h, fault, T, rssLimitMb, log).catch((e: Error) => failedRow(fault, e, Date.now() - t0, h.acked.size));
      results.push(r);
      log(
        `   ${r.pass ? 'PASS' : 'FAIL'} during ${r.duringMs ?? '-'} ms, resumed ${r.resumedAfterMs ?? '-'} ms, acked ${r.acked}, lost ${r.lost}, roots ${r.rootsAgree ? 'agree' : 'DIFFER'}, supply ${r.supplyOk ? 'ok' : 'WRONG'}, peak RSS ${r.peakRssMb} MB${r.failures.length ? `\n   ! ${r.failures.join('\n   ! ')}` : ''}${r.notes.length ? `\n   · ${r.notes.join('\n   · ')}` : ''}`,
      );
      // A fault that could not even be set up leaves the cluster in an unknown state: stop here.
      if (r.height < 0) break;
      if (!r.pass) {
        const revived = await reviveStalled(h, rssLimitMb);
        if (revived.length > 0) log(`   (restarted ${revived.map((i) => `v${i}`).join(', ')}: unresponsive or above the RSS bound after this fault)`);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await h.stop();
    if (o.keep) log(`cluster dir kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  return {
    date: new Date().toISOString(),
    validators: h.n,
    f: h.f,
    quorum: h.quorum,
    timeoutMs: T,
    rssLimitMb,
    load: `${perTick} signed transfers every ${tickMs} ms to each validator (${Math.round((perTick * 1000) / tickMs)} tx/s each)`,
    results,
    pass: results.every((r) => r.pass),
    durationMs: Date.now() - t00,
  };
}

async function runOne(h: Harness, fault: Fault, T: number, rssLimitMb: number, log: (s: string) => void): Promise<FaultResult> {
  const t0 = Date.now();
  const failures: string[] = [];
  const notes: string[] = [];
  // The member the fault needs: the Byzantine peer in v0's place, or every honest process.
  if (!fault.byzantine && h.byzantine) {
    await h.ensureHonest();
    notes.push('v0 honest again before this fault');
  }
  for (let i = fault.byzantine ? 1 : 0; i < h.n; i++) {
    if (!h.sup.isRunning(i)) {
      notes.push(`v${i} was down before this fault: restarted`);
      await h.restart(i);
    }
  }
  await waitLevel(h, 30_000);
  const windowStart = h.ackedLog.length;
  const exitsBefore = h.unexpectedExits.length;
  h.rss.reset();
  let plan: FaultPlan;
  try {
    plan = await fault.run(h);
  } catch (e) {
    failures.push(`the fault could not be applied: ${(e as Error).message}`);
    plan = { startedAt: t0, liftedAt: Date.now(), duringNodes: [], resumeNodes: h.honest(), rejoining: [], notes: [] };
  }
  notes.push(...plan.notes);
  const duringBoundMs = plan.duringNodes.length > 0 ? 3 * T + SLACK_MS : null;
  let duringMs: number | null = null;
  if (plan.duringNodes.length > 0) {
    // A commit after the lift still counts when it is within the bound: a fault shorter than the
    // bound (an attack sent in a few ms) proves nothing by the absence of a commit before its lift.
    duringMs =
      (await h.firstCommitAfter(
        plan.duringNodes.filter((i) => h.honest().includes(i)),
        plan.startedAt,
        duringBoundMs!,
      )) ?? null;
    if (duringMs === null || duringMs > duringBoundMs!)
      failures.push(`no commit on every survivor within ${duringBoundMs} ms of the fault's start${duringMs === null ? '' : ` (${duringMs} ms)`}`);
  }
  // With the Byzantine member silent after its attack, a round it leads times out (and the one
  // before it, whose votes go to it): up to one more timeout than a full honest set.
  const resumedBoundMs = plan.silentAtLift ? 3 * T + SLACK_MS : 2 * T;
  const resumeNodes = plan.resumeNodes.filter((i) => h.honest().includes(i));
  const resumed = await h.firstCommitAfter(resumeNodes, plan.liftedAt, 10 * T);
  const resumedAfterMs = resumed ?? null;
  if (resumedAfterMs === null || resumedAfterMs > resumedBoundMs)
    failures.push(`commits resumed ${resumedAfterMs === null ? `not within ${10 * T} ms` : `after ${resumedAfterMs} ms`}, bound ${resumedBoundMs} ms`);
  // Rejoining validators: reach the height the survivors had at the lift.
  const catchUpMs: Record<string, number | null> = {};
  const catchUpBound = plan.wiped ? 120_000 : 30_000;
  const ref = Math.max(0, ...plan.resumeNodes.map((i) => h.commits[i]!.filter((c) => c.at <= plan.liftedAt).at(-1)?.height ?? 0));
  for (const i of plan.rejoining) {
    if (fault.name === 'final') break;
    const until = plan.liftedAt + catchUpBound;
    let at: number | undefined;
    for (;;) {
      const c = h.commits[i]!.find((x) => x.at >= plan.startedAt && x.height >= ref);
      if (c) at = Math.max(0, c.at - plan.liftedAt);
      if (at !== undefined || Date.now() > until || !h.sup.isRunning(i)) break;
      await sleep(50);
    }
    catchUpMs[`v${i}`] = at ?? null;
    if (at === undefined) failures.push(`v${i} did not reach height ${ref} within ${catchUpBound} ms of the lift`);
  }
  await sleep(1_000);
  const survivors = h.honest();
  const allIdsOn = new Set(fault.name === 'final' ? survivors : plan.rejoining);
  const windowIds = h.ackedLog.slice(windowStart);
  const audit = await h.audit(survivors, windowIds, allIdsOn, plan.wiped ? 90_000 : 20_000).catch((e: Error) => {
    failures.push(`audit failed: ${e.message}`);
    return undefined;
  });
  if (audit) {
    failures.push(...audit.failures);
    notes.push(...audit.notes);
  }
  if (plan.probe) {
    const p = await plan.probe().catch((e: Error) => `probe failed: ${e.message}`);
    if (p) failures.push(p);
  }
  const rssBy = h.rss.window();
  const peakRssMb = Math.max(0, ...rssBy);
  if (peakRssMb > rssLimitMb) failures.push(`peak RSS ${peakRssMb} MB > ${rssLimitMb} MB (${rssBy.map((m, i) => `v${i} ${m}`).join(', ')})`);
  for (const e of h.unexpectedExits.slice(exitsBefore)) failures.push(`${e.id} exited unexpectedly (${e.signal ?? `code ${e.code}`}): ${lastLine(e.stderrTail)}`);
  if (failures.length > 0 && h.byzantine) log(`   (attacker: ${h.byzantine.observed.messagesIn} messages in, ${h.byzantine.downs} links lost)`);
  return {
    fault: fault.name,
    what: fault.what,
    duringMs,
    duringBoundMs,
    resumedAfterMs,
    resumedBoundMs,
    catchUpMs,
    acked: windowIds.length,
    ackedTotal: h.acked.size,
    lost: audit?.lost ?? -1,
    rootsAgree: audit?.rootsAgree ?? false,
    supplyOk: audit?.supplyOk ?? false,
    peakRssMb,
    rssByValidatorMb: rssBy,
    height: audit?.height ?? 0,
    pass: failures.length === 0,
    failures,
    notes,
    durationMs: Date.now() - t0,
  };
}

/**
 * After a failed fault: an honest validator that no longer answers its API, or holds more memory
 * than the bound, is killed and started again, so the next faults test something (the failure
 * stays in the table).
 */
async function reviveStalled(h: Harness, rssLimitMb: number): Promise<number[]> {
  const revived: number[] = [];
  const rss = h.rss.window();
  for (const i of h.honest()) {
    const alive = await stats(h.url(i)).then(
      () => true,
      () => false,
    );
    if (alive && (rss[i] ?? 0) <= rssLimitMb) continue;
    await h.kill(i);
    revived.push(i);
  }
  for (const i of revived) await h.restart(i).catch(() => undefined);
  return revived;
}

/** The row of a fault whose preparation or checks threw (e.g. a validator that cannot start again). */
function failedRow(fault: Fault, e: Error, durationMs: number, ackedTotal: number): FaultResult {
  return {
    fault: fault.name,
    what: fault.what,
    duringMs: null,
    duringBoundMs: null,
    resumedAfterMs: null,
    resumedBoundMs: 0,
    catchUpMs: {},
    acked: 0,
    ackedTotal,
    lost: -1,
    rootsAgree: false,
    supplyOk: false,
    peakRssMb: 0,
    rssByValidatorMb: [],
    height: -1,
    pass: false,
    failures: [`campaign stopped: ${e.message.slice(0, 600)}`],
    notes: [],
    durationMs,
  };
}

/** Before a fault: every honest validator within a few blocks of the others (a restarted one caught up). */
async function waitLevel(h: Harness, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const hs = h.honest().map((i) => h.height(i));
    if (Math.max(...hs) - Math.min(...hs) <= 3) return;
    await sleep(100);
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines.at(-1) ?? '').slice(0, 300);
}
