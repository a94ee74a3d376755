/**
 * The contract layer's surface for the ledger to plug in (issue 14): validation and metering of
 * modules, the runtime with its host functions, the state interface it reads and the overlay it
 * writes, and the block gas rule. Transactions are in src/tx/contract-tx.ts.
 */
export { BlockGasMeter } from './block-gas.js';
export { HOST_FUNCTIONS, HOST_MODULE } from './host-abi.js';
export * from './limits.js';
export { type BlockContext, type ContractEvent, type ContractResult, ContractRuntime, WarmCode } from './runtime.js';
export { codeHash, contractAddress, type ContractRecord, type ContractStateReader, MemoryContractState, StateOverlay, type StateWrites } from './state.js';
export { ModuleRejected, type PreparedModule, prepareModule } from './wasm-module.js';
