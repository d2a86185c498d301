// Subscriptions through the gateway against a throwaway subgraph that streams server-sent events (node:http).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { untilExpiry } from '../server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SECRET = 'gateway-test-secret-of-sufficient-length';
const children = [];
const servers = [];

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const server of servers) server.close();
});

function jwt(claims) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ sub: 't', unit_id: 'GD', roles: ['viewer'], exp: Math.floor(Date.now() / 1000) + 300, ...claims });
  return `${head}.${body}.${createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url')}`;
}

const SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
  type Query { hello: String }
  type Subscription { ticks: Int! }
`;

// A subgraph whose subscription sends a tick every 100 ms and never ends by itself; it records each subscription's
// request (method, headers) and whether the gateway closed it.
async function tickingSubgraph() {
  const subscriptions = [];
  const server = createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const { query } = JSON.parse(raw || '{}');
    if (query?.includes('_service')) {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ data: { _service: { sdl: SDL } } }));
    }
    const seen = { method: req.method, headers: req.headers, closed: false };
    subscriptions.push(seen);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let tick = 0;
    const timer = setInterval(() => res.write(`event: next\ndata: ${JSON.stringify({ data: { ticks: ++tick } })}\n\n`), 100);
    res.on('close', () => {
      clearInterval(timer);
      seen.closed = true;
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { url: `http://127.0.0.1:${server.address().port}/graphql`, subscriptions };
}

async function startGateway(subgraphUrl) {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  await new Promise((r) => probe.close(r));
  const child = spawn(process.execPath, [join(here, '..', 'server.mjs')], {
    env: {
      ...process.env,
      HOTLINE_SUBGRAPHS: `live=${subgraphUrl}`,
      HOTLINE_GATEWAY_PORT: String(port),
      HOTLINE_JWT_SECRET: SECRET,
      HOTLINE_ENV: 'test',
      HOTLINE_COMPOSE_WAIT_SECONDS: '5',
      HOTLINE_SUPERGRAPH_PATH: join(mkdtempSync(join(tmpdir(), 'gw-')), 'supergraph.graphql'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) return port;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway not healthy in time');
}

// The events of an SSE subscription (POST, Accept: text/event-stream) until `count` results or the stream's end.
async function sse(port, headers, count = Infinity) {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query: 'subscription { ticks }' }),
  });
  const results = [];
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let at;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const data = buffer
        .slice(0, at)
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trim())
        .join('');
      buffer = buffer.slice(at + 2);
      if (data) results.push(JSON.parse(data));
      // Leaving the loop cancels the body: the gateway sees the client go.
      if (results.length >= count) return { status: response.status, results, ended: false };
    }
  }
  return { status: response.status, results, ended: true };
}

// The results of a graphql-ws subscription until `count` results or its end (complete or error).
async function ws(port, connectionParams, count = Infinity) {
  const client = createClient({ url: `ws://127.0.0.1:${port}/graphql`, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0 });
  const results = [];
  let ended = false;
  try {
    const iterator = client.iterate({ query: 'subscription { ticks }' });
    for await (const result of iterator) {
      results.push(result);
      if (results.length >= count) break;
    }
    ended = results.length < count;
  } catch (errors) {
    results.push({ errors: Array.isArray(errors) ? errors : [errors] });
    ended = true;
  } finally {
    await client.dispose();
  }
  return { results, ended };
}

// One subgraph and one gateway for the tests below (a gateway takes seconds to start on a shared machine).
let shared;
function gatewayOverTickingSubgraph() {
  shared ??= tickingSubgraph().then(async (sub) => ({ sub, port: await startGateway(sub.url) }));
  return shared;
}

// Whether each subgraph stream is closed, waiting up to 5 s for the gateway to close them.
async function closedSoon(subscriptions) {
  const deadline = Date.now() + 5000;
  while (!subscriptions.every((s) => s.closed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return subscriptions.map((s) => s.closed);
}

const codes = (result) => (result.errors ?? []).map((e) => e.extensions?.code);

test('subscriptions over SSE and graphql-ws reach the subgraph with the caller token; without one they are refused', async () => {
  const { sub, port } = await gatewayOverTickingSubgraph();
  const before = sub.subscriptions.length;
  const token = jwt({});

  const overSse = await sse(port, { authorization: `Bearer ${token}` }, 2);
  assert.deepEqual(overSse.results, [{ data: { ticks: 1 } }, { data: { ticks: 2 } }]);
  const overWs = await ws(port, { authorization: `Bearer ${token}` }, 2);
  assert.deepEqual(overWs.results, [{ data: { ticks: 1 } }, { data: { ticks: 2 } }]);
  // Both reached the subgraph as a POST of server-sent events, with the caller's token (from connectionParams for ws).
  const reached = sub.subscriptions.slice(before);
  assert.equal(reached.length, 2);
  for (const seen of reached) {
    assert.equal(seen.method, 'POST');
    assert.match(seen.headers.accept, /text\/event-stream/);
    assert.equal(seen.headers.authorization, `Bearer ${token}`);
    assert.ok(seen.headers['x-request-id']);
  }
  // The clients left after two ticks: the gateway closed both subgraph streams.
  assert.deepEqual(await closedSoon(reached), [true, true]);

  const expired = jwt({ exp: Math.floor(Date.now() / 1000) - 60 });
  for (const headers of [{}, { authorization: 'Bearer not.a.jwt' }, { authorization: `Bearer ${expired}` }]) {
    const refused = await sse(port, headers);
    assert.equal(refused.ended, true);
    assert.deepEqual(refused.results.map(codes), [['UNAUTHENTICATED']], JSON.stringify(headers));
    const refusedWs = await ws(port, headers);
    assert.equal(refusedWs.ended, true);
    assert.deepEqual(refusedWs.results.map(codes), [['UNAUTHENTICATED']], JSON.stringify(headers));
  }
  assert.equal(sub.subscriptions.length, before + 2, 'a refused subscription never reaches the subgraph');
});

test('a subscription ends with UNAUTHENTICATED when its token expires, and the subgraph stream is closed', async () => {
  const { sub, port } = await gatewayOverTickingSubgraph();
  const before = sub.subscriptions.length;
  const exp = Math.floor(Date.now() / 1000) + 2;
  const token = jwt({ exp });
  const [overSse, overWs] = await Promise.all([
    sse(port, { authorization: `Bearer ${token}` }),
    ws(port, { authorization: `Bearer ${token}` }),
  ]);
  for (const { results, ended } of [overSse, overWs]) {
    assert.equal(ended, true);
    assert.ok(results.length > 2 && results.slice(0, -1).every((r) => Number.isInteger(r.data?.ticks)));
    const last = results.at(-1);
    assert.deepEqual(codes(last), ['UNAUTHENTICATED']);
    assert.match(last.errors[0].message, /token expired at .*: the subscription ended/);
  }
  assert.ok(Date.now() >= exp * 1000);
  // The gateway closed both subgraph streams.
  assert.deepEqual(await closedSoon(sub.subscriptions.slice(before)), [true, true]);
});

test('untilExpiry passes results through until the deadline, then ends with the expiry result and closes the source', async () => {
  const returned = [];
  const source = (values) => ({
    [Symbol.asyncIterator]() {
      return {
        next: () => (values.length ? Promise.resolve({ done: false, value: values.shift() }) : new Promise(() => {})),
        return: () => {
          returned.push(true);
          return Promise.resolve({ done: true, value: undefined });
        },
      };
    },
  });
  const limited = untilExpiry(source([1, 2]), Date.now() + 100, () => 'expired');
  assert.deepEqual(await limited.next(), { done: false, value: 1 });
  assert.deepEqual(await limited.next(), { done: false, value: 2 });
  assert.deepEqual(await limited.next(), { done: false, value: 'expired' }); // the source had nothing more
  assert.deepEqual(await limited.next(), { done: true, value: undefined });
  assert.equal(returned.length, 1);
  const past = untilExpiry(source([1]), Date.now() - 1, () => 'expired');
  assert.deepEqual(await past.next(), { done: false, value: 'expired' });
  assert.equal(returned.length, 2);
  // Ended by its reader first: the source is closed and no expiry result follows.
  const closedEarly = untilExpiry(source([1]), Date.now() + 60000, () => 'expired');
  assert.deepEqual(await closedEarly.return(), { done: true, value: undefined });
  assert.deepEqual(await closedEarly.next(), { done: true, value: undefined });
  assert.equal(returned.length, 3);
});
