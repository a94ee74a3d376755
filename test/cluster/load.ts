/** The load client and block watcher of the fault tests live in src/cluster (the fault campaign uses them too). */
export { SteadyLoad, BlockWatcher, type SeenBlock } from '../../src/cluster/load.js';
