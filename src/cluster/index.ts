export * from './topology.js';
export * from './supervisor.js';
export * from './http.js';
export * from './load.js';
