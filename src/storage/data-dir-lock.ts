import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HotledgerError } from '../errors.js';

/** Name of the lock in the data dir: a hard link to the holder's listening Unix socket. */
export const LOCK_NAME = 'LOCK';
const SOCKET_PREFIX = 'lock-';
const SOCKET_SUFFIX = '.sock';
/** How long a contender waits for a live holder to say who it is. */
const HOLDER_ANSWER_MS = 1_000;
/** sun_path holds 108 bytes; longer paths are reached through the directory's fd in /proc. */
const MAX_SOCKET_PATH = 100;

export interface LockHolder {
  pid: number;
  host: string;
  nodeId: string;
  startedAt: string;
}

/**
 * Exclusive ownership of a node's data directory, across processes and within one process.
 *
 * Node has no flock, and LMDB itself lets any number of processes open one environment, so the
 * lock is a Unix socket: the holder listens on `lock-<random>.sock` in the data dir and publishes
 * it by hard-linking it as `LOCK` (link(2) fails if `LOCK` exists: that is the atomic step).
 * Whether a holder is alive is asked of the kernel, not guessed from a pid: connecting to `LOCK`
 * succeeds while the holder's process lives (even stopped) and is refused once it died, kill -9
 * included, because the kernel closes its socket. So a crashed holder never leaves the directory
 * locked, and the rule holds in containers where every process is pid 1 and across containers
 * sharing a volume (a path socket is found through the file system, not the network namespace).
 * A live holder answers a connection with who it is (pid, host, node id, start time), for the
 * error the contender reports. Not for network file systems (a socket there is local to each
 * host), on which LMDB must not be used anyway.
 */
export class DataDirLock {
  private released = false;

  private constructor(
    readonly dir: string,
    readonly holder: LockHolder,
    private readonly server: Server,
    private readonly dirFd: number,
    private readonly socketIno: number,
  ) {}

  /** Takes the lock or throws DATA_DIR_LOCKED naming the live holder; touches nothing when refused. */
  static async acquire(dir: string, nodeId: string): Promise<DataDirLock> {
    mkdirSync(dir, { recursive: true });
    const dirFd = openSync(dir, 'r');
    try {
      const at = (name: string) => socketPath(dir, dirFd, name);
      const lockPath = join(dir, LOCK_NAME);
      // A live holder is reported before anything is created here.
      await refuseIfHeld(dir, lockPath, at(LOCK_NAME));
      const holder: LockHolder = { pid: process.pid, host: hostname(), nodeId, startedAt: new Date().toISOString() };
      const name = `${SOCKET_PREFIX}${randomBytes(8).toString('hex')}${SOCKET_SUFFIX}`;
      const server = await listen(at(name), JSON.stringify(holder));
      const socketIno = lstatSync(join(dir, name)).ino;
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            linkSync(join(dir, name), lockPath);
            break;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw e;
          }
          // LOCK exists: a live holder wins; a dead one is moved aside and the link retried.
          await refuseIfHeld(dir, lockPath, at(LOCK_NAME));
        }
      } catch (e) {
        await closeServer(server);
        throw e;
      }
      const lock = new DataDirLock(dir, holder, server, dirFd, socketIno);
      lock.removeDeadSockets(at);
      return lock;
    } catch (e) {
      // The fd is owned by the lock once it exists; on every failure path it is closed here.
      try {
        closeSync(dirFd);
      } catch {
        /* already closed */
      }
      throw e;
    }
  }

  /** False once `LOCK` no longer names this holder's socket (removed or replaced by hand). */
  get held(): boolean {
    return !this.released && this.ownsLockLink();
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.ownsLockLink()) {
      try {
        unlinkSync(join(this.dir, LOCK_NAME));
      } catch {
        /* gone already */
      }
    }
    await closeServer(this.server); // unlinks lock-<random>.sock
    closeSync(this.dirFd);
  }

  private ownsLockLink(): boolean {
    try {
      return lstatSync(join(this.dir, LOCK_NAME)).ino === this.socketIno;
    } catch {
      return false;
    }
  }

  /** Sockets left by holders killed with -9; ours and live contenders' are kept. */
  private removeDeadSockets(at: (name: string) => string): void {
    for (const f of readdirSync(this.dir)) {
      if (!f.startsWith(SOCKET_PREFIX) || !f.endsWith(SOCKET_SUFFIX)) continue;
      const p = join(this.dir, f);
      try {
        if (lstatSync(p).ino === this.socketIno) continue;
      } catch {
        continue;
      }
      void probe(at(f)).then((r) => {
        if (r.state === 'dead') {
          try {
            unlinkSync(p);
          } catch {
            /* removed meanwhile */
          }
        }
      });
    }
  }
}

type Probe = { state: 'absent' } | { state: 'dead' } | { state: 'live'; holder: LockHolder | undefined };

/**
 * Throws DATA_DIR_LOCKED if `LOCK` names a live holder. If it names a dead one, moves it aside,
 * checking by inode that what was moved is the socket found dead (a contender may have replaced
 * it meanwhile; then it is put back).
 */
async function refuseIfHeld(dir: string, lockPath: string, lockSocket: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const ino = inodeOf(lockPath);
    if (ino === undefined) return;
    const p = await probe(lockSocket);
    if (p.state === 'absent') continue;
    if (p.state === 'live') throw lockedError(dir, p.holder);
    if (inodeOf(lockPath) !== ino) continue; // replaced while we looked: look again
    const aside = join(dir, `${LOCK_NAME}.dead-${randomBytes(6).toString('hex')}`);
    try {
      renameSync(lockPath, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    if (inodeOf(aside) === ino) {
      unlinkSync(aside);
      return;
    }
    // We moved a lock someone took between our probe and the rename: give it back.
    try {
      linkSync(aside, lockPath);
    } finally {
      unlinkSync(aside);
    }
  }
  throw lockedError(dir, undefined);
}

function lockedError(dir: string, h: LockHolder | undefined): HotledgerError {
  const who = h
    ? `pid ${h.pid} on host ${h.host} (node ${h.nodeId}, holding it since ${h.startedAt})`
    : 'a live process that did not say who it is (stopped, or starting at the same moment)';
  return new HotledgerError('DATA_DIR_LOCKED', `data dir ${dir} is in use by ${who}; stop that node or give this one another node.dataDir`, { dataDir: dir, holder: h ?? null });
}

function inodeOf(path: string): number | undefined {
  try {
    return lstatSync(path).ino;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Connects to a lock socket: refused means its process is gone; accepted means it lives. */
function probe(path: string): Promise<Probe> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    let data = '';
    let connected = false;
    const done = (p: Probe) => {
      clearTimeout(timer);
      c.destroy();
      resolve(p);
    };
    const timer = setTimeout(() => done({ state: 'live', holder: undefined }), HOLDER_ANSWER_MS);
    c.on('connect', () => (connected = true));
    c.on('data', (d) => (data += String(d)));
    c.on('end', () => done({ state: 'live', holder: parseHolder(data) }));
    c.on('error', (e: NodeJS.ErrnoException) => {
      if (connected) return done({ state: 'live', holder: parseHolder(data) });
      if (e.code === 'ECONNREFUSED') return done({ state: 'dead' });
      if (e.code === 'ENOENT') return done({ state: 'absent' });
      // EAGAIN: a live holder whose backlog is full; anything else: do not guess "dead".
      done({ state: 'live', holder: undefined });
    });
  });
}

function parseHolder(s: string): LockHolder | undefined {
  try {
    const h = JSON.parse(s) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string') return { pid: h.pid, host: h.host, nodeId: String(h.nodeId), startedAt: String(h.startedAt) };
  } catch {
    /* not a holder's answer */
  }
  return undefined;
}

function listen(path: string, answer: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((c) => {
      c.on('error', () => undefined);
      c.end(answer);
    });
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      server.unref(); // the lock must not keep a process alive
      resolve(server);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function socketPath(dir: string, dirFd: number, name: string): string {
  const direct = join(dir, name);
  return Buffer.byteLength(direct) <= MAX_SOCKET_PATH ? direct : `/proc/self/fd/${dirFd}/${name}`;
}
