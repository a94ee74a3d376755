import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HotledgerClient } from '../client/client.js';
import type { KeyPair } from '../crypto/keys.js';
import type { ContractView } from '../node/node-api.js';
import { projectRoot } from '../runtime/module-path.js';

/** What the contract deployment validation found: a verdict line and what went wrong, per node. */
export interface ContractCheck {
  figure: string;
  failures: string[];
  details: Record<string, unknown>;
}

const SUPPLY = 1_000;
const MOVED = 7;

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

/**
 * Contract deployment validation: the example token (dist/contracts/token.wasm) is deployed
 * through the ingress nodes, one `transfer` runs, and every live node must then show the same
 * contract (code hash, deployer) and the same two balances in its storage.
 */
export async function checkContractDeployment(
  client: HotledgerClient,
  from: KeyPair,
  to: KeyPair,
  nodes: readonly { id: string; url: string }[],
  timeoutMs: number,
): Promise<ContractCheck> {
  const failures: string[] = [];
  const code = readFileSync(join(projectRoot(), 'dist/contracts/token.wasm'));
  const deployed = await client.deploy({ from, code, initArgs: u64(SUPPLY), gasLimit: 20_000_000 });
  if (deployed.receipt.status !== 'OK') failures.push(`token deploy committed with receipt ${deployed.receipt.status}: ${deployed.receipt.message ?? ''}`);
  const moved = await client.call({ from, contract: deployed.address, method: 'transfer', args: new Uint8Array([...to.publicKey, ...u64(MOVED)]), gasLimit: 1_000_000 });
  if (moved.receipt.status !== 'OK') failures.push(`token transfer committed with receipt ${moved.receipt.status}: ${moved.receipt.message ?? ''}`);
  const key = (k: KeyPair) => Buffer.concat([Buffer.from('b'), k.publicKey]).toString('hex');
  const want = { [key(from)]: Buffer.from(u64(SUPPLY - MOVED)).toString('hex'), [key(to)]: Buffer.from(u64(MOVED)).toString('hex') };
  const query = `?key=${key(from)}&key=${key(to)}`;
  const seen = new Map<string, string>();
  const deadline = Date.now() + timeoutMs;
  // A node behind the ingress shows the contract once it has applied the block: poll until then.
  let pending = [...nodes];
  while (pending.length > 0 && Date.now() < deadline) {
    const next: typeof pending = [];
    for (const n of pending) {
      const res = await fetch(`${n.url}/api/v11/contracts/${deployed.address}${query}`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
      const c = res?.ok ? ((await res.json()) as ContractView) : undefined;
      if (c && JSON.stringify(c.storage) === JSON.stringify(want)) seen.set(n.id, `${c.codeHash}/${c.deployer}`);
      else next.push(n);
    }
    pending = next;
    if (pending.length > 0) await new Promise((r) => setTimeout(r, 200));
  }
  for (const n of pending) failures.push(`${n.id}: contract ${deployed.address.slice(0, 16)} missing or its storage differs after ${timeoutMs} ms`);
  if (new Set(seen.values()).size > 1) failures.push(`nodes disagree on the contract's code hash or deployer: ${[...seen].map(([id, v]) => `${id}=${v.slice(0, 16)}`).join(', ')}`);
  return {
    figure: `token deployed (gas ${deployed.receipt.gasUsed}) and called (gas ${moved.receipt.gasUsed}); same contract and storage on ${seen.size}/${nodes.length} nodes`,
    failures,
    details: { address: deployed.address, deployHeight: deployed.height, callHeight: moved.height, nodesAgreeing: seen.size },
  };
}
