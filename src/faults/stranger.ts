import { connect, type Socket } from 'node:net';
import type { Endpoint } from './proxy.js';

/**
 * A stranger on the network (no validator key): it holds `perTarget` raw TCP sockets open to every
 * validator's peer port and sends nothing, re-opening each one the validator closes, until stopped
 * or until `maxConnects` sockets were opened in all. What it tests: a validator's connection slots
 * cannot be used up by someone who never completes a handshake (issue 8, item 7).
 */
export class SocketFlood {
  private readonly sockets = new Set<Socket>();
  private running = false;
  opened = 0;
  closedByPeer = 0;

  constructor(
    private readonly targets: Endpoint[],
    private readonly perTarget: number,
    private readonly maxConnects: number,
  ) {}

  start(): void {
    this.running = true;
    for (const t of this.targets) for (let k = 0; k < this.perTarget; k++) this.open(t);
  }

  get holding(): number {
    return this.sockets.size;
  }

  stop(): void {
    this.running = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private open(t: Endpoint): void {
    if (!this.running || this.opened >= this.maxConnects) return;
    this.opened++;
    const s = connect({ host: t.host, port: t.port });
    this.sockets.add(s);
    s.on('data', () => undefined); // read the HELLO and never answer
    s.on('error', () => undefined);
    s.on('close', () => {
      if (!this.sockets.delete(s)) return;
      this.closedByPeer++;
      // Back at once, like an attacker would; a short pause so a refusing peer does not spin us.
      setTimeout(() => this.open(t), 20).unref();
    });
  }
}
