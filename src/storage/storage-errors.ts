import { statfsSync } from 'node:fs';
import type { RootDatabase } from 'lmdb';
import { HotledgerError } from '../errors.js';

/**
 * Full-storage detection for LMDB environments.
 *
 * lmdb-js 3 grows the memory map by itself when a transaction needs more pages (its change to
 * mdb_page_alloc), so MDB_MAP_FULL practically never reaches JS and the `mapSize` given to
 * open() bounds nothing. `storage.mapSizeMb` is therefore enforced here, before a write is
 * issued: the environment's used pages plus a bound on the write must fit. A full disk shows up
 * only when LMDB commits: the write promise rejects with "Commit failed" and the errno sits in a
 * separate promise (`commitError`) that must be handled, or it ends the process as an unhandled
 * rejection; on tmpfs the errno is EIO rather than ENOSPC, so free space is checked too.
 */

/** Free space below which an I/O error at commit is taken for a full disk. */
const DISK_FULL_MARGIN = 64 * 1024 * 1024;

/** Bytes the environment's file holds up to its last used page (the high-water mark). */
export function usedBytes(root: RootDatabase): number {
  const s = root.getStats() as { lastPageNumber: number; pageSize: number };
  return (s.lastPageNumber + 1) * s.pageSize;
}

/** Throws STORAGE_FULL if a write of up to `writeBytes` could take the environment past `limitBytes`. */
export function checkQuota(root: RootDatabase, path: string, limitBytes: number, writeBytes: number): void {
  const used = usedBytes(root);
  if (used + writeBytes > limitBytes) {
    throw new HotledgerError(
      'STORAGE_FULL',
      `LMDB environment ${path} is full: ${mb(used)} used of storage.mapSizeMb ${mb(limitBytes)}, the next write needs up to ${mb(writeBytes)}; raise storage.mapSizeMb and restart`,
      { path, usedBytes: used, limitBytes, writeBytes },
    );
  }
}

/**
 * The typed error for a failed LMDB write. Waits for lmdb-js's `commitError` (and so handles it).
 * ENOSPC, MDB_MAP_FULL, or an I/O error on a nearly full file system give STORAGE_FULL.
 */
export async function writeError(e: unknown, path: string): Promise<HotledgerError> {
  if (e instanceof HotledgerError) return e;
  const outer = e as { message?: string; commitError?: Promise<unknown> };
  let cause: { message?: string; code?: unknown } = outer;
  if (outer?.commitError && typeof outer.commitError.then === 'function') {
    cause = ((await outer.commitError.then(
      () => outer,
      (x: unknown) => x,
    )) ?? outer) as typeof cause;
  }
  const text = `${cause?.message ?? String(e)}`;
  const code = cause?.code;
  const free = freeBytes(path);
  const full =
    code === 28 ||
    code === 'ENOSPC' ||
    code === -30792 ||
    /ENOSPC|No space left|MDB_MAP_FULL/i.test(text) ||
    ((code === 5 || code === 'EIO' || /Input\/output error/.test(text)) && free !== undefined && free < DISK_FULL_MARGIN);
  if (full) {
    return new HotledgerError(
      'STORAGE_FULL',
      `disk full under ${path} (${text}${free !== undefined ? `, ${mb(free)} free` : ''}): the write was not committed; free space and restart`,
      { path, freeBytes: free ?? null, cause: text },
    );
  }
  return new HotledgerError('INTERNAL', `storage write under ${path} failed: ${text}`, { path, cause: text });
}

function freeBytes(path: string): number | undefined {
  try {
    const s = statfsSync(path);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
