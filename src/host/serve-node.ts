import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { startApiServer, type ApiServer } from '../api/server.js';
import { startNode, type RunningNode, type StartOptions } from '../node/node.js';

/** A node and its HTTP/WebSocket API, as `hotledger start` runs one and `hotledger host` runs K. */
export interface ServedNode {
  node: RunningNode;
  server: ApiServer;
  /** API first (no new requests), then the node. */
  close(): Promise<void>;
}

export async function serveNode(config: Config, logger: Logger, opts: Omit<StartOptions, 'logger'> = {}): Promise<ServedNode> {
  const node = await startNode(config, { ...opts, logger });
  let server: ApiServer;
  try {
    server = await startApiServer(node, config.api, logger);
  } catch (e) {
    await node.close().catch(() => undefined);
    throw e;
  }
  return { node, server, close: () => server.close().then(() => node.close()) };
}

/** What an operator needs to reach a started node: identity, API, data dir, devnet key files. */
export function describeServedNode({ node, server }: ServedNode): string[] {
  const info = node.info();
  const lines = [
    `hotledger ${info.version}: ${info.role} node ${info.nodeId}, chain ${info.chainId}`,
    `API       ${server.url}/api/v11  (health ${server.url}/q/health, metrics ${server.url}/q/metrics, ws ${server.url.replace(/^http/, 'ws')}/api/v11/ws)`,
    `data dir  ${node.config.node.dataDir}`,
  ];
  if (node.devnetKeyFiles.length > 0) {
    lines.push(`devnet    ${node.devnetKeyFiles.length} funded accounts; key files (PUBLIC, insecure) in ${dirname(node.devnetKeyFiles[0]!)}, e.g. ${node.devnetKeyFiles[0]}`);
  }
  return lines;
}
