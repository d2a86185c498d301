import { readFileSync } from 'node:fs';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The trusted-documents manifest (hash → document) as operation name → hash: the portal sends each operation by
// its hash only, so the gateway may run in trusted-documents mode. Built in, never fetched.
function operationHashes(): Record<string, string> {
  const manifest = JSON.parse(readFileSync(new URL('../gateway/persisted-documents.json', import.meta.url), 'utf8'));
  const byName: Record<string, string> = {};
  for (const [hash, text] of Object.entries<string>(manifest)) {
    const name = /^\s*(?:query|mutation|subscription)\s+(\w+)/m.exec(text)?.[1];
    if (name) byName[name] = hash;
  }
  return byName;
}

export default defineConfig({
  plugins: [preact()],
  define: { __OPERATION_HASHES__: JSON.stringify(operationHashes()) },
  build: { target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 600 },
});
