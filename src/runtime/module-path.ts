import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

/**
 * Worker threads and child processes need compiled JavaScript. When this code runs from the
 * TypeScript sources (under vitest), point at the same module in `dist/` (`npm test` builds first).
 */
export function compiledPath(relative: string, fromUrl: string): string {
  const url = new URL(relative.replace(/\.ts$/, '.js'), fromUrl);
  let path = fileURLToPath(url);
  if (fromUrl.endsWith('.ts')) {
    path = path.replace(/([\\/])(src|bench|test)([\\/])/, '$1dist$1$2$3');
    if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` first`);
  }
  return path;
}

/** The project root (the folder holding package.json), from either sources or dist. */
export function projectRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.replace(/[\\/](dist[\\/])?src[\\/]runtime[\\/]?$/, '');
}
