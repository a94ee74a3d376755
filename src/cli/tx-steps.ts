import type { HotledgerClient, Keypair, SubmitAnswer, Submittable } from '../client/index.js';
import { HotledgerError } from '../errors.js';
import { print } from './output.js';

/** The nonce a command signs with: the one given, else the sender's committed nonce + 1 (the account must exist). */
export async function nextNonce(client: HotledgerClient, from: Keypair, explicit: number | undefined): Promise<number> {
  if (explicit !== undefined) return explicit;
  const account = await client.account(from.publicKey);
  if (!account) throw new HotledgerError('BAD_REQUEST', `sender account ${from.publicKeyHex} does not exist on this chain (fund it first)`);
  return account.nonce + 1;
}

/** Submits one signed transaction; a refusal at admission is the command's error, in words. */
export async function submitOne(client: HotledgerClient, tx: Submittable, what: string, nonce: number): Promise<SubmitAnswer> {
  const answer = await client.submit(tx);
  const r = answer.results[0]!;
  if (!r.accepted) throw new HotledgerError('INVALID_TRANSACTION', `the node rejected the ${what}: ${r.message || r.code} (${r.code}; nonce ${nonce})`);
  return answer;
}

/**
 * Waits until the transaction is in a durable block and prints where; a rejection in the block or
 * a wait past the timeout is the command's error, in words.
 */
export async function waitCommitted(
  client: HotledgerClient,
  id: string,
  endpoint: string,
  timeoutSec: number,
): Promise<Extract<Awaited<ReturnType<HotledgerClient['waitDurable']>>, { status: 'committed' }>> {
  let s: Awaited<ReturnType<HotledgerClient['waitDurable']>>;
  try {
    s = await client.waitDurable(id, endpoint);
  } catch (e) {
    if ((e as { code?: string }).code === 'DURABILITY_TIMEOUT')
      throw new HotledgerError('NOT_READY', `transaction ${id} still pending after ${timeoutSec} s; check later with \`hotledger tx ${id}\``);
    throw e;
  }
  if (s.status === 'rejected')
    throw new HotledgerError('INVALID_TRANSACTION', `transaction ${id} was rejected${s.height !== undefined ? ` in block ${s.height}` : ''}: ${s.message || s.code} (${s.code})`);
  print(`committed in block ${s.height} at position ${s.position}`);
  return s;
}
