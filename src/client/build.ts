import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import ts from 'typescript';
import { projectRoot } from '../runtime/module-path.js';

/**
 * Build-time only (`npm run build`, after tsc; never imported by the node or the client):
 * - the client's .d.ts files, the `types` of the package's `hotledger/client` export;
 * - the browser bundle of the client the dashboard serves (dist/src/dashboard/static/vendor/).
 * esbuild and typescript are devDependencies.
 */

/**
 * The browser build of `hotledger/client`: one ES module, platform `browser` and no polyfills, so
 * a node built-in anywhere in the client's import graph fails the build. The package's `browser`
 * field swaps the node-only key-file module and drops `ws` (a page has its own WebSocket).
 */
export async function bundleClient(opts: { entry: string; resolveDir: string; outfile?: string; minify?: boolean }): Promise<{ code: string; metafile: Metafile }> {
  const r = await build({
    stdin: { contents: opts.entry, resolveDir: opts.resolveDir, loader: 'js', sourcefile: 'entry.js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: opts.minify ?? true,
    metafile: true,
    write: false,
    logLevel: 'silent',
    legalComments: 'eof',
  });
  const code = r.outputFiles[0]!.text;
  if (opts.outfile) {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { dirname } = await import('node:path');
    mkdirSync(dirname(opts.outfile), { recursive: true });
    writeFileSync(opts.outfile, code);
  }
  return { code, metafile: r.metafile };
}

/** Declarations for the client's import graph only (the rest of the package ships no types). */
export function emitClientDeclarations(root: string): void {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    { noEmit: false, declaration: true, emitDeclarationOnly: true, declarationMap: false, sourceMap: false },
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error('tsconfig.json could not be read');
  const program = ts.createProgram({ rootNames: ['src/client/index.ts', 'src/client/keyfile.browser.ts'].map((f) => join(root, f)), options: parsed.options });
  const r = program.emit();
  if (r.diagnostics.length > 0) throw new Error(ts.formatDiagnostics(r.diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = projectRoot();
  emitClientDeclarations(root);
  await bundleClient({
    entry: "export * from './dist/src/client/index.js';",
    resolveDir: root,
    outfile: join(root, 'dist/src/dashboard/static/vendor/hotledger-client.js'),
  });
}
