/**
 * `hotledger/client`: what applications import. Pure JavaScript (noble for keys, signatures and
 * ids); nothing here loads the node's native modules (lmdb, sodium-native, uWS).
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
} from './client.js';
export { Keypair } from './keypair.js';
export { ClientError, TransactionRejectedError, type ClientErrorCode } from './errors.js';
export { NonceTracker } from './nonces.js';
export { signTransferTx, transactionId, type SignedTransaction, type TransferFields } from './transfer.js';
export type { KeyFile } from '../crypto/keys.js';
export type { RejectName } from '../errors.js';
