// Key files need node:fs. Browser bundles get keyfile.browser.ts instead (package.json `browser`).
export { readKeyFile, writeKeyFile } from '../crypto/keys.js';
