// Serves the built portal (portal/dist) and its /config.json: where the gateway is and, in development only,
// the demo tokens `hotline up` wrote (a picker on the sign-in screen). No dependencies beyond Node.
//   HOTLINE_PORTAL_HOST / HOTLINE_PORTAL_PORT   where to listen (127.0.0.1:5173)
//   HOTLINE_PORTAL_GATEWAY_URL                   the gateway's origin as the browser reaches it (http://127.0.0.1:4000)
//   HOTLINE_PORTAL_DEV_TOKENS                    a tokens file (`# label` line, then the token) — development only
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), 'dist');
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
};

/** The demo tokens of a tokens file as `hotline up` writes it: `# label`, the token, a blank line. */
export function parseTokens(text) {
  const tokens = [];
  let label = null;
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line.startsWith('#')) label = line.slice(1).trim();
    else if (line) {
      tokens.push({ label: label ?? line.slice(0, 12), token: line });
      label = null;
    }
  }
  return tokens;
}

export function portalConfig(env = process.env) {
  const file = env.HOTLINE_PORTAL_DEV_TOKENS;
  return {
    gatewayUrl: (env.HOTLINE_PORTAL_GATEWAY_URL || 'http://127.0.0.1:4000').replace(/\/$/, ''),
    devTokens: file && existsSync(file) ? parseTokens(readFileSync(file, 'utf8')) : [],
  };
}

export function createPortalServer(env = process.env) {
  if (!existsSync(join(ROOT, 'index.html'))) throw new Error(`${ROOT}/index.html is missing: build the portal first (cd portal && npm run build)`);
  return createServer(async (req, res) => {
    const path = decodeURIComponent((req.url || '/').split('?')[0]);
    res.setHeader('x-content-type-options', 'nosniff');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      return res.end();
    }
    if (path === '/config.json') {
      res.setHeader('content-type', 'application/json');
      res.setHeader('cache-control', 'no-store');
      return res.end(JSON.stringify(portalConfig(env)));
    }
    let file = normalize(join(ROOT, path === '/' ? 'index.html' : path));
    if (!file.startsWith(ROOT)) {
      res.statusCode = 404;
      return res.end();
    }
    try {
      if (!(await stat(file)).isFile()) file = join(ROOT, 'index.html');
    } catch {
      file = join(ROOT, 'index.html'); // a single-page app: every other path is the app
    }
    res.setHeader('content-type', TYPES[extname(file)] || 'application/octet-stream');
    res.setHeader('cache-control', file.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.end(await readFile(file));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const host = process.env.HOTLINE_PORTAL_HOST || '127.0.0.1';
  const port = Number(process.env.HOTLINE_PORTAL_PORT || 5173);
  createPortalServer().listen(port, host, () => console.log(`portal serving on http://${host}:${port}/`));
}
