/**
 * `hotledger/client`: what applications import. Pure JavaScript (noble for keys, signatures and
 * ids); nothing here loads the node's native modules (lmdb, sodium-native, uWS), and nothing in its
 * import graph uses Buffer or a node: module, so it also runs in browsers (docs/client.md): keep it
 * so, test/client/browser.test.ts bundles it for the browser and fails on any node built-in. The one
 * exception, key files, is swapped out by package.json `browser` (keyfile.ts -> keyfile.browser.ts).
 */
export {
  HotledgerClient,
  type ClientOptions,
  type SubmitAnswer,
  type Submittable,
  type SubmitResult,
  type Durable,
  type Account,
  type BlockHeader,
  type TransactionStatus,
  type NodeInfo,
  type NodeStats,
  type HealthReport,
  type ContractReceipt,
  type ContractEvent,
  type ContractOutcome,
  type DeployOutcome,
  type ContractInfo,
} from './client.js';
export { Keypair } from './keypair.js';
export { ClientError, TransactionRejectedError, type ClientErrorCode } from './errors.js';
export { NonceTracker } from './nonces.js';
export { signTransferTx, transactionId, type SignedTransaction, type TransferFields } from './transfer.js';
export { signDeployTx, signCallTx, contractAddressOf, u64Arg, type DeployFields, type CallFields, type SignedDeploy } from './contract.js';
export type { KeyFile } from '../crypto/keys.js';
export type { RejectName } from '../errors.js';
