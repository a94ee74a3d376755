import type { RejectName } from '../errors.js';
import { ClientError, TransactionRejectedError } from './errors.js';
import { type Answer, Endpoints, type HttpOptions } from './http.js';
import { bytesOf, hexOf } from './hex.js';
import { NonceTracker } from './nonces.js';
import { openSocket, textOf } from './socket.js';
import { signCallTx, signDeployTx, type SignedDeploy } from './contract.js';
import { signTransferTx, type SignedTransaction } from './transfer.js';
import { Watcher, type Outcome } from './watch.js';

export interface ClientOptions extends Partial<HttpOptions> {
  /** Chain id to sign for; read from the first endpoint's /api/v11/info when absent. */
  chainId?: number;
  /** How long `transfer()` waits for the outcome. Default 30,000 ms. */
  durableTimeoutMs?: number;
  /** Polling interval when the WebSocket is not available. Default 200 ms. */
  pollIntervalMs?: number;
  /** Set false to always poll instead of watching on a WebSocket. Default true. */
  useWebSocket?: boolean;
}

/** One transaction's admission result. `accepted: false` carries the RejectCode name. */
export type SubmitResult = { index: number; id: string; accepted: true } | { index: number; id: string; accepted: false; code: RejectName | 'UNKNOWN'; message: string };

export interface SubmitAnswer {
  /** The base URL that took the submission (its node holds the transactions). */
  endpoint: string;
  accepted: number;
  rejected: number;
  results: SubmitResult[];
}

/** What `submit()` needs: signed bytes and their id (a SignedTransaction, or ClientError.transaction). */
export type Submittable = Pick<SignedTransaction, 'bytes' | 'id'>;

export interface Durable {
  id: string;
  height: number;
  position: number;
}

export interface Account {
  publicKey: string;
  balance: bigint;
  /** Last committed nonce: the next transfer uses nonce + 1. */
  nonce: number;
}

export interface BlockHeader {
  height: number;
  hash: string;
  parentHash: string;
  stateRoot: string;
  timestamp: number;
  txCount: number;
  committed: number;
  rejected: number;
  txIds?: string[];
  /** Contract events of the block's transactions (`blocks({ events: true })`), in block order. */
  events?: (ContractEvent & { txId: string; index: number })[];
  [k: string]: unknown;
}

/** GET /api/v11/info (docs/api.md); the fields a client relies on are typed, the rest passes through. */
export interface NodeInfo {
  nodeId: string;
  role: 'validator' | 'business' | 'slim';
  chainId: number;
  version: string;
  validatorCount: number;
  [k: string]: unknown;
}

/** GET /api/v11/stats (docs/api.md). */
export interface NodeStats {
  height: number;
  committedTxs: number;
  rejectedTxs: number;
  [k: string]: unknown;
}

/** GET /q/health: `DOWN` (HTTP 503) is an answer here, not an error. */
export interface HealthReport {
  status: 'UP' | 'DOWN';
  checks: { name: string; status: 'UP' | 'DOWN'; data?: Record<string, string | number | boolean> }[];
}

/** One event a contract emitted (hex): the emitting contract, its topic bytes and data bytes. */
export interface ContractEvent {
  contract: string;
  topic: string;
  data: string;
}

/**
 * What a committed deploy or call did. `status` is `OK` or why the call reverted (`OUT_OF_GAS`,
 * `CONTRACT_TRAP`, `CONTRACT_ABORT`, ...): a reverted call is still committed, its nonce used and
 * its fee (`feeFor(gasUsed)`) burned; only its state changes and transfers were undone.
 */
export interface ContractReceipt {
  status: 'OK' | RejectName | 'UNKNOWN';
  gasUsed: number;
  fee: number;
  events: ContractEvent[];
  /** Bytes the method returned, hex. */
  output: string;
  /** The deployed contract (a deploy that succeeded). */
  address?: string;
  /** Abort message, trap text or the module's refusal reason. */
  message?: string;
}

export interface ContractOutcome extends Durable {
  receipt: ContractReceipt;
}

export interface DeployOutcome extends ContractOutcome {
  /** Where the contract is (derived from sender and nonce: known before the deploy commits). */
  address: string;
}

/** GET /api/v11/contracts/:address. `storage` holds the keys asked for (hex): the value, or null when unset. */
export interface ContractInfo {
  address: string;
  codeHash: string;
  deployer: string;
  balance: bigint;
  codeSize: number;
  storage: Record<string, string | null>;
}

type From = { seed: Uint8Array; publicKey: Uint8Array };
/** A committed outcome and the endpoint that took the transaction. */
type Committed = Extract<Outcome, { status: 'committed' }> & { endpoint: string };

export type TransactionStatus =
  | { status: 'pending'; id: string }
  | { status: 'committed'; id: string; height: number; position: number; contract?: ContractReceipt }
  | { status: 'rejected'; id: string; code: RejectName | 'UNKNOWN'; message: string; height?: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The hotledger client: one or several API base URLs (`http://host:9003`) of the same chain.
 * Submissions rotate over them and move on when one is down; a transaction is followed on the
 * node that took it.
 */
export class HotledgerClient {
  private readonly http: Endpoints;
  private readonly opts: Required<Omit<ClientOptions, 'chainId'>>;
  private chainId: Promise<number> | undefined;
  private readonly watchers = new Map<string, Watcher>();
  readonly nonces: NonceTracker;

  constructor(urls: string | string[], opts: ClientOptions = {}) {
    this.opts = {
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      maxRetries: opts.maxRetries ?? 5,
      maxBackoffMs: opts.maxBackoffMs ?? 5_000,
      durableTimeoutMs: opts.durableTimeoutMs ?? 30_000,
      pollIntervalMs: opts.pollIntervalMs ?? 200,
      useWebSocket: opts.useWebSocket ?? true,
    };
    this.http = new Endpoints(Array.isArray(urls) ? urls : [urls], this.opts);
    if (opts.chainId !== undefined) this.chainId = Promise.resolve(opts.chainId);
    this.nonces = new NonceTracker(async (sender) => (await this.account(sender))?.nonce ?? 0);
  }

  get endpoints(): readonly string[] {
    return this.http.urls;
  }

  async getChainId(): Promise<number> {
    if (!this.chainId) {
      const p = this.http.request('/api/v11/info').then((a) => (a.body as { chainId: number }).chainId);
      p.catch(() => this.chainId === p && (this.chainId = undefined));
      this.chainId = p;
    }
    return this.chainId;
  }

  /** Signs a transfer with an explicit nonce (use `transfer()` to have the nonce filled). */
  async sign(t: {
    from: { seed: Uint8Array; publicKey: Uint8Array };
    to: Uint8Array | string;
    amount: number | bigint;
    nonce: number;
    reference?: Uint8Array | string;
  }): Promise<SignedTransaction> {
    return signTransferTx({ ...t, chainId: await this.getChainId() });
  }

  /**
   * Submits signed transactions in one binary request. Retries (429/503, timeouts, a down node)
   * resend these same bytes, so a transaction can only ever be known under its one id.
   */
  async submit(txs: Submittable | Submittable[], opts: { endpoint?: string } = {}): Promise<SubmitAnswer> {
    const list = Array.isArray(txs) ? txs : [txs];
    if (list.length === 0) throw new TypeError('nothing to submit');
    // Transfers (168 bytes) and contract transactions (own length) concatenate as they are: the node frames them.
    const body = new Uint8Array(list.reduce((n, t) => n + t.bytes.length, 0));
    let at = 0;
    for (const t of list) {
      body.set(t.bytes, at);
      at += t.bytes.length;
    }
    let a: Answer;
    try {
      a = await this.http.request('/api/v11/transactions', { method: 'POST', body }, opts.endpoint !== undefined ? { only: opts.endpoint } : {});
    } catch (e) {
      // 422 and all-capacity 429/503 still name every transaction's fate: report them per tx.
      const inner = e instanceof ClientError ? (e.body as { error?: { results?: unknown[] } } | undefined)?.error : undefined;
      if (!(e instanceof ClientError) || e.code === 'RATE_LIMITED' || !inner?.results) throw e;
      return toAnswer('', inner as RawAnswer, list);
    }
    return toAnswer(a.endpoint, a.body as RawAnswer, list);
  }

  /**
   * Signs, submits and waits until the transfer is in a committed block: resolves with its
   * height and position, rejects with TransactionRejectedError (admission or execution) or
   * ClientError (the node could not be reached, or DURABILITY_TIMEOUT).
   */
  async transfer(t: { from: From; to: Uint8Array | string; amount: number | bigint; reference?: Uint8Array | string }): Promise<Durable> {
    const { tx, outcome } = await this.signSubmitWait(t.from, (nonce) => this.sign({ ...t, nonce }));
    return { id: tx.id, height: outcome.height, position: outcome.position };
  }

  /**
   * Deploys a contract: nonce from the sender's sequence (shared with its transfers), signs,
   * submits as binary and waits until the deploy is in a committed block. Resolves with the
   * receipt, also when the deploy reverted (`receipt.status` is then not `OK`, e.g.
   * `MODULE_INVALID`, and no contract exists at `address`); throws like `transfer()` when the
   * transaction itself is rejected (`INSUFFICIENT_FUNDS` for the fee reservation, nonce rules).
   */
  async deploy(d: { from: From; code: Uint8Array; initArgs?: Uint8Array | string; gasLimit: number }): Promise<DeployOutcome> {
    const chainId = await this.getChainId();
    const { tx, outcome } = await this.signSubmitWait(d.from, (nonce) => signDeployTx({ ...d, chainId, nonce }));
    return { id: tx.id, height: outcome.height, position: outcome.position, address: (tx as SignedDeploy).address, receipt: await this.receiptOf(tx, outcome) };
  }

  /** Calls a contract method; like `deploy()`, a reverted call resolves with its receipt (`status` OUT_OF_GAS, CONTRACT_ABORT, ...). */
  async call(c: { from: From; contract: Uint8Array | string; method: string; args?: Uint8Array | string; amount?: number | bigint; gasLimit: number }): Promise<ContractOutcome> {
    const chainId = await this.getChainId();
    const { tx, outcome } = await this.signSubmitWait(c.from, (nonce) => signCallTx({ ...c, chainId, nonce }));
    return { id: tx.id, height: outcome.height, position: outcome.position, receipt: await this.receiptOf(tx, outcome) };
  }

  /** A contract's record and the storage values of `keys` (hex or bytes), or undefined when no contract is at `address`. */
  async getContract(address: Uint8Array | string, keys: readonly (Uint8Array | string)[] = []): Promise<ContractInfo | undefined> {
    const a = hexOf(bytesOf(address, 'contract address', 32));
    const query = keys.map((k) => `key=${typeof k === 'string' ? k : hexOf(k)}`).join('&');
    const r = await this.http.request(`/api/v11/contracts/${a}${query ? `?${query}` : ''}`, {}, { allow404: true });
    if (r.status === 404) return undefined;
    const b = r.body as Omit<ContractInfo, 'balance'> & { balance: string };
    return { ...b, balance: BigInt(b.balance) };
  }

  /** The watch message carries the receipt; a polled or older outcome may not: then it is read from the node that took the transaction. */
  private async receiptOf(tx: SignedTransaction, o: Committed): Promise<ContractReceipt> {
    if (o.contract) return o.contract;
    const s = await this.transaction(tx.id, { endpoint: o.endpoint });
    if (s?.status === 'committed' && s.contract) return s.contract;
    throw new ClientError('RECEIPT_MISSING', `transaction ${tx.id} is committed at height ${o.height} but the node reports no contract receipt for it`, {
      retrySafe: false,
      transaction: tx,
    });
  }

  /**
   * The shared path of transfer, deploy and call: next nonce of the sender, sign once, submit,
   * wait for the outcome on the node that took it. A rejection resets the sender's nonces.
   */
  private async signSubmitWait<T extends SignedTransaction>(from: From, build: (nonce: number) => T | Promise<T>): Promise<{ tx: T; outcome: Committed }> {
    const sender = hexOf(from.publicKey);
    let tx: T;
    try {
      tx = await build(await this.nonces.next(sender));
    } catch (e) {
      this.nonces.reset(sender);
      throw e;
    }
    let answer: SubmitAnswer;
    let o: Outcome;
    try {
      answer = await this.submit(tx);
      const r = answer.results[0]!;
      if (!r.accepted) throw new TransactionRejectedError(tx.id, r.code, r.message);
      o = await this.waitDurable(tx.id, answer.endpoint);
    } catch (e) {
      this.nonces.reset(sender);
      // The bytes may have reached a node: calling transfer() again would be a second payment.
      if (e instanceof ClientError) throw withTransaction(e, tx);
      throw e;
    }
    if (o.status === 'rejected') {
      this.nonces.reset(sender);
      throw new TransactionRejectedError(o.id, o.code as RejectName, o.message, o.height);
    }
    return { tx, outcome: { ...o, endpoint: answer.endpoint } };
  }

  /** Waits for a transaction's outcome on `endpoint`: WebSocket watch, else polling. */
  async waitDurable(id: string, endpoint: string = this.http.urls[0]!): Promise<Outcome> {
    const deadline = Date.now() + this.opts.durableTimeoutMs;
    if (this.opts.useWebSocket) {
      const w = this.watcher(endpoint);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const o = await Promise.race([w.wait(id), new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.opts.durableTimeoutMs)))]);
      clearTimeout(timer);
      if (o === 'timeout') {
        w.cancel(id);
        throw new ClientError('DURABILITY_TIMEOUT', `transaction ${id}: no outcome within ${this.opts.durableTimeoutMs} ms`, { retrySafe: false });
      }
      if (o) return o;
    }
    for (;;) {
      const s = await this.transaction(id, { endpoint });
      if (s && s.status !== 'pending') return s as Outcome;
      if (Date.now() > deadline) throw new ClientError('DURABILITY_TIMEOUT', `transaction ${id}: no outcome within ${this.opts.durableTimeoutMs} ms`, { retrySafe: false });
      await sleep(Math.min(this.opts.pollIntervalMs, Math.max(0, deadline - Date.now())));
    }
  }

  async account(publicKey: Uint8Array | string): Promise<Account | undefined> {
    const pk = typeof publicKey === 'string' ? publicKey : hexOf(bytesOf(publicKey, 'publicKey', 32));
    const a = await this.http.request(`/api/v11/accounts/${pk}`, {}, { allow404: true });
    if (a.status === 404) return undefined;
    const b = a.body as { publicKey: string; balance: string; nonce: number };
    return { publicKey: b.publicKey, balance: BigInt(b.balance), nonce: b.nonce };
  }

  /** A block header by height, or the latest; undefined when there is none. */
  async block(height: number | 'latest' = 'latest'): Promise<BlockHeader | undefined> {
    const a = await this.http.request(`/api/v11/blocks/${height}`, {}, { allow404: true });
    return a.status === 404 ? undefined : (a.body as BlockHeader);
  }

  async transaction(id: string, opts: { endpoint?: string } = {}): Promise<TransactionStatus | undefined> {
    const a = await this.http.request(`/api/v11/transactions/${id}`, {}, { allow404: true, ...(opts.endpoint !== undefined && { only: opts.endpoint }) });
    return a.status === 404 ? undefined : (a.body as TransactionStatus);
  }

  /** The node's identity, chain id and configuration. `endpoint` asks that one node only. */
  async info(opts: { endpoint?: string } = {}): Promise<NodeInfo> {
    return (await this.http.request('/api/v11/info', {}, only(opts))).body as NodeInfo;
  }

  async stats(opts: { endpoint?: string } = {}): Promise<NodeStats> {
    return (await this.http.request('/api/v11/stats', {}, only(opts))).body as NodeStats;
  }

  /** GET /api/v11/consensus/status as the node answers it (its shape depends on the role). */
  async consensusStatus(opts: { endpoint?: string } = {}): Promise<Record<string, unknown>> {
    return (await this.http.request('/api/v11/consensus/status', {}, only(opts))).body as Record<string, unknown>;
  }

  /**
   * The health report, UP or DOWN; a DOWN node's 503 is returned at once, not retried. `probe`
   * asks only the liveness or the readiness checks (`/q/health/live`, `/q/health/ready`).
   */
  async health(opts: { endpoint?: string; probe?: 'live' | 'ready' } = {}): Promise<HealthReport> {
    const path = opts.probe ? `/q/health/${opts.probe}` : '/q/health';
    return (await this.http.request(path, {}, { ...only(opts), accept: [503] })).body as HealthReport;
  }

  /**
   * Committed blocks as they come, from one endpoint's WebSocket (`subscribe`). Leaving the
   * `for await` loop closes the socket; a closed socket ends the iteration with an error.
   * `onOpen` runs once the subscription is sent: blocks committed before it are not delivered, so
   * a caller that needs them backfills from there (`block()`).
   */
  async *blocks(opts: { txIds?: boolean; events?: boolean; endpoint?: string; onOpen?: () => void } = {}): AsyncGenerator<BlockHeader, void, undefined> {
    const ws = await openSocket(opts.endpoint ?? this.http.urls[0]!, this.opts.requestTimeoutMs);
    const queue: BlockHeader[] = [];
    let wake: (() => void) | undefined;
    let ended: Error | undefined;
    ws.addEventListener('message', (ev: { data?: unknown }) => {
      const m = JSON.parse(textOf(ev.data)) as { type: string; block?: BlockHeader; txIds?: string[]; events?: BlockHeader['events']; code?: string; message?: string };
      if (m.type === 'block' && m.block) queue.push({ ...m.block, ...(m.txIds && { txIds: m.txIds }), ...(m.events && { events: m.events }) });
      else if (m.type === 'error') ended = new ClientError(m.code ?? 'INTERNAL', `block subscription: ${m.message}`, { retrySafe: true });
      else return;
      wake?.();
    });
    ws.addEventListener('close', () => {
      ended ??= new ClientError('NETWORK', 'block subscription: the WebSocket closed', { retrySafe: true });
      wake?.();
    });
    try {
      ws.send(JSON.stringify({ op: 'subscribe', topic: 'blocks', ...(opts.txIds && { txIds: true }), ...(opts.events && { events: true }) }));
      opts.onOpen?.();
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (ended) throw ended;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      ws.close();
    }
  }

  /** Closes the WebSockets this client opened for watches. */
  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private watcher(endpoint: string): Watcher {
    let w = this.watchers.get(endpoint);
    if (!w) this.watchers.set(endpoint, (w = new Watcher(endpoint, this.opts.requestTimeoutMs)));
    return w;
  }
}

const only = (opts: { endpoint?: string }) => (opts.endpoint !== undefined ? { only: opts.endpoint } : {});

function withTransaction(e: ClientError, tx: SignedTransaction): ClientError {
  return new ClientError(e.code, `${e.message} (transaction ${tx.id} may have been delivered: resend err.transaction, do not sign a new one)`, {
    ...(e.status !== undefined && { status: e.status }),
    ...(e.retryAfterMs !== undefined && { retryAfterMs: e.retryAfterMs }),
    retrySafe: false,
    body: e.body,
    transaction: tx,
    ...(e.cause !== undefined && { cause: e.cause }),
  });
}

interface RawAnswer {
  accepted: number;
  rejected: number;
  results?: { index: number; id?: string; code?: string; message?: string }[];
}

function toAnswer(endpoint: string, raw: RawAnswer, list: Submittable[]): SubmitAnswer {
  const byIndex = new Map((raw.results ?? []).map((r) => [r.index, r]));
  const results: SubmitResult[] = list.map((t, index) => {
    const r = byIndex.get(index);
    if (r?.code) return { index, id: t.id, accepted: false, code: r.code as RejectName, message: r.message ?? '' };
    return { index, id: t.id, accepted: true };
  });
  return { endpoint, accepted: raw.accepted, rejected: raw.rejected, results };
}
