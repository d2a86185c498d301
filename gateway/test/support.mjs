// Helpers for the gateway's self-tests: a throwaway subgraph, the real server.mjs as a child process, tokens.
import { after } from 'node:test';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';

const here = dirname(fileURLToPath(import.meta.url));
export const SECRET = 'gateway-support-secret-of-sufficient-length';
const children = [];
const servers = [];

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const server of servers) server.close();
});

export function jwt(claims = {}, secret = SECRET) {
  const b64url = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = b64url({ alg: 'HS256', typ: 'JWT' });
  const body = b64url({ sub: 't', unit_id: 'GD', roles: ['viewer'], exp: Math.floor(Date.now() / 1000) + 300, ...claims });
  return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`;
}

export const SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
  type Query { hello: String, node: Node }
  type Node { id: ID!, child: Node }
`;

/** A fake subgraph: serves its SDL and answers every other operation with `{ hello: "world" }`. */
export async function fakeSubgraph(sdl = SDL) {
  const seen = [];
  const server = createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const { query } = JSON.parse(raw || '{}');
    res.setHeader('content-type', 'application/json');
    if (query?.includes('_service')) return res.end(JSON.stringify({ data: { _service: { sdl } } }));
    seen.push({ headers: req.headers, query });
    return res.end(JSON.stringify({ data: { hello: 'world' } }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { url: `http://127.0.0.1:${server.address().port}/graphql`, seen };
}

export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** The real gateway (server.mjs) over `subgraphs` ([[name, url], …]) on `port`, with `extraEnv`. */
export function startGateway(subgraphs, port, extraEnv = {}) {
  const child = spawn(process.execPath, [join(here, '..', 'server.mjs')], {
    env: {
      ...process.env,
      HOTLINE_ENV: 'test',
      ...extraEnv,
      HOTLINE_SUBGRAPHS: subgraphs.map(([n, u]) => `${n}=${u}`).join(','),
      HOTLINE_GATEWAY_PORT: String(port),
      HOTLINE_JWT_SECRET: SECRET,
      HOTLINE_COMPOSE_WAIT_SECONDS: '5',
      HOTLINE_SUPERGRAPH_PATH: join(mkdtempSync(join(tmpdir(), 'gw-')), 'supergraph.graphql'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.resume();
  return { child, stderr: () => stderr };
}

/** A gateway over one fake subgraph, healthy; `stop()` ends it. */
export async function gatewayOverFake(extraEnv = {}) {
  const subgraph = await fakeSubgraph();
  const port = await freePort();
  const { child } = startGateway([['fake', subgraph.url]], port, extraEnv);
  await waitHealthy(port, child);
  const stop = async () => {
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  return { subgraph, url: `http://127.0.0.1:${port}`, stop };
}

export async function waitHealthy(port, child) {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway not healthy in time');
}
