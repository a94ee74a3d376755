// Compiles the AssemblyScript contracts to dist/contracts/*.wasm; `npm run build` runs it as
// postbuild. Skips a contract whose .wasm is newer than every source it may include, so a
// rebuild that changed no contract costs no compiler start (~6 s of CPU).
// The stub runtime (bump allocator, no GC) keeps modules small and free of GC work; a contract
// instance lives for one call, so nothing needs freeing.
import { mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import asc from 'assemblyscript/asc';

const out = 'dist/contracts';
const names = ['token', 'escrow', 'testkit'];
mkdirSync(out, { recursive: true });
const newestSource = Math.max(
  ...['contracts', 'contracts/lib'].flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.ts')).map((f) => statSync(`${d}/${f}`).mtimeMs)),
  statSync('contracts/build.mjs').mtimeMs,
);
const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
};
for (const name of names) {
  const target = `${out}/${name}.wasm`;
  if (mtime(target) > newestSource) continue;
  // Written aside and renamed: test files run this in parallel, and a reader never sees half a module.
  const tmp = `${target}.${process.pid}.tmp`;
  const { error, stderr } = await asc.main([`contracts/${name}.ts`, '-o', tmp, '--runtime', 'stub', '-O3', '--noColors'], {});
  if (error) {
    console.error(stderr.toString());
    throw error;
  }
  renameSync(tmp, target);
}
