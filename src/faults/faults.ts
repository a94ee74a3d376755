import { ATTACKS } from './attacks.js';
import { SocketFlood } from './stranger.js';
import { sleep, type Harness } from './harness.js';

/** What a fault did, for the measurements and checks that follow it. */
export interface FaultPlan {
  startedAt: number;
  liftedAt: number;
  /** Validators expected to keep committing while the fault is on (a quorum is left); empty: none. */
  duringNodes: number[];
  /** Validators whose commits must resume after the lift (resumed-after is measured on them). */
  resumeNodes: number[];
  /** Validators that were restarted or cut off: they must catch up and hold every acknowledged id. */
  rejoining: number[];
  wiped?: boolean;
  /** A silent member (the Byzantine one) is still in the set at the lift: its rounds time out. */
  silentAtLift?: boolean;
  probe?: () => Promise<string | undefined>;
  notes: string[];
}

export interface Fault {
  name: string;
  what: string;
  /** Runs with the Byzantine member in place of v0 (otherwise v0 is an honest process). */
  byzantine: boolean;
  run(h: Harness): Promise<FaultPlan>;
}

const others = (h: Harness, ...except: number[]) => h.honest().filter((i) => !except.includes(i));

/** A follower: an honest validator that is not the leader, preferring the highest index (every other validator dials it). */
async function follower(h: Harness): Promise<number> {
  const l = await h.leader();
  return others(h, l).at(-1)!;
}

function crash(name: string, role: 'leader' | 'follower', wipe: boolean): Fault {
  return {
    name,
    byzantine: false,
    what: wipe ? 'kill -9 of a follower, its data dir deleted, restarted: it replays from genesis by forward sync' : `kill -9 of the ${role}, restarted on its data dir after 4 s`,
    run: async (h) => {
      const target = role === 'leader' ? await h.leader() : await follower(h);
      const survivors = others(h, target);
      const startedAt = Date.now();
      await h.kill(target);
      await sleep(4_000);
      await h.restart(target, wipe);
      return { startedAt, liftedAt: Date.now(), duringNodes: survivors, resumeNodes: survivors, rejoining: [target], wiped: wipe, notes: [`v${target} killed`] };
    },
  };
}

export const NETWORK_AND_PROCESS_FAULTS: Fault[] = [
  crash('kill-leader', 'leader', false),
  crash('kill-follower', 'follower', false),
  {
    name: 'sigstop',
    byzantine: false,
    what: 'SIGSTOP of the leader for 3 consensus timeouts, then SIGCONT',
    run: async (h) => {
      const target = await h.leader();
      const T = h.o.timeoutMs;
      h.load.pause(target);
      const startedAt = Date.now();
      h.signal(target, 'SIGSTOP');
      await sleep(3 * T);
      h.signal(target, 'SIGCONT');
      h.load.resume(target);
      const liftedAt = Date.now();
      return { startedAt, liftedAt, duringNodes: others(h, target), resumeNodes: h.honest(), rejoining: [target], notes: [`v${target} stopped ${liftedAt - startedAt} ms`] };
    },
  },
  {
    name: 'partition',
    byzantine: false,
    what: 'the validators split in two halves (bytes between them dropped, no quorum anywhere) for 3 timeouts, then healed',
    run: async (h) => {
      const all = h.honest();
      const half = Math.ceil(all.length / 2);
      const groups = [all.slice(0, half), all.slice(half)];
      const startedAt = Date.now();
      h.net.partition(groups);
      await sleep(3 * h.o.timeoutMs);
      h.net.heal();
      return {
        startedAt,
        liftedAt: Date.now(),
        duringNodes: [],
        resumeNodes: all,
        rejoining: [],
        notes: [`groups ${groups.map((g) => g.map((i) => `v${i}`).join('+')).join(' | ')}`],
      };
    },
  },
  {
    name: 'one-way',
    byzantine: false,
    what: "the leader's outgoing bytes dropped (it still hears everyone) for 4 s, then healed",
    run: async (h) => {
      const l = await h.leader();
      const startedAt = Date.now();
      for (const j of others(h, l)) h.net.oneWay(l, j);
      await sleep(4_000);
      h.net.heal();
      return { startedAt, liftedAt: Date.now(), duringNodes: others(h, l), resumeNodes: h.honest(), rejoining: [l], notes: [`v${l} mute`] };
    },
  },
  {
    name: 'delay',
    byzantine: false,
    what: 'every link delays its bytes by 200 ms each way for 5 s',
    run: async (h) => {
      const startedAt = Date.now();
      for (const a of h.honest()) for (const b of h.honest()) if (a !== b) h.net.setFlow(a, b, { kind: 'delay', ms: 200 });
      await sleep(5_000);
      h.net.heal();
      return { startedAt, liftedAt: Date.now(), duringNodes: h.honest(), resumeNodes: h.honest(), rejoining: [], notes: [] };
    },
  },
  {
    name: 'cut',
    byzantine: false,
    what: "a follower's connections reset and refused for 4 s, then allowed again",
    run: async (h) => {
      const f = await follower(h);
      const startedAt = Date.now();
      for (const j of others(h, f)) h.net.cut(f, j);
      await sleep(4_000);
      h.net.heal();
      return { startedAt, liftedAt: Date.now(), duringNodes: others(h, f), resumeNodes: others(h, f), rejoining: [f], notes: [`v${f} cut off`] };
    },
  },
  {
    name: 'stranger-sockets',
    byzantine: false,
    what: "a stranger holds 100 raw sockets open to every validator's peer port while the highest validator is killed and restarted",
    run: async (h) => {
      const victim = h.n - 1;
      const flood = new SocketFlood(
        h.topo.nodes.map((s) => ({ host: s.host, port: s.peerPort })),
        100,
        50_000,
      );
      const startedAt = Date.now();
      flood.start();
      const notes: string[] = [];
      let rejoinedUnderFlood: number | undefined;
      try {
        await sleep(1_000);
        await h.kill(victim);
        await sleep(1_000);
        const target = Math.max(...others(h, victim).map((i) => h.height(i)));
        const t0 = Date.now();
        await h.restart(victim);
        while (Date.now() - t0 < 10_000) {
          if (h.height(victim) >= target) {
            rejoinedUnderFlood = Date.now() - t0;
            break;
          }
          await sleep(50);
        }
        notes.push(`stranger held ${flood.holding} sockets, opened ${flood.opened}`);
      } finally {
        flood.stop();
      }
      notes.push(
        rejoinedUnderFlood === undefined
          ? `v${victim} did not catch up within 10 s of its restart while the sockets were held`
          : `v${victim} caught up ${rejoinedUnderFlood} ms after its restart, under the flood`,
      );
      return {
        startedAt,
        liftedAt: Date.now(),
        duringNodes: others(h, victim),
        resumeNodes: others(h, victim),
        rejoining: [victim],
        notes,
        probe: async () => (rejoinedUnderFlood === undefined ? `v${victim} could not rejoin while a stranger held sockets to its peer port` : undefined),
      };
    },
  },
];

export const BYZANTINE_FAULTS: Fault[] = Object.entries(ATTACKS).map(([name, a]) => ({
  name: `byz-${name}`,
  byzantine: true,
  what: `Byzantine v0 (item ${a.item}): ${a.what}`,
  run: async (h: Harness): Promise<FaultPlan> => {
    const peer = await h.ensureByzantine(0);
    if (!(await peer.connected(10_000))) throw new Error('the Byzantine peer lost its links and could not reconnect');
    const startedAt = Date.now();
    const out = await a.run(h.attackContext(peer));
    await sleep(2_000);
    return {
      startedAt,
      liftedAt: Date.now(),
      duringNodes: h.honest(),
      resumeNodes: h.honest(),
      rejoining: [],
      silentAtLift: true,
      probe: out.probe,
      notes: [`${out.sent} frames: ${out.note}`, `links lost by the attacker: ${peer.downs}`],
    };
  },
}));

/** Replays the whole chain: last, so a replay that never finishes cannot take the cluster's spare validator from every later fault. */
export const WIPE_FAULT = crash('wipe', 'follower', true);

export const ALL_FAULTS: Fault[] = [...NETWORK_AND_PROCESS_FAULTS, ...BYZANTINE_FAULTS, WIPE_FAULT];

export function faultsByName(names: string[]): Fault[] {
  return names.map((n) => {
    const f = ALL_FAULTS.find((x) => x.name === n);
    if (!f) throw new RangeError(`unknown fault "${n}"; known: ${ALL_FAULTS.map((x) => x.name).join(', ')}`);
    return f;
  });
}
