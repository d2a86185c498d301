// Attacks on the gateway: token forgeries, query-shape limits, batching, body size and rate limits.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { createRateLimiter } from '../server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SECRET = 'gateway-attack-secret-of-sufficient-length';
const children = [];
const servers = [];

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const server of servers) server.close();
});

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra = {}) => ({ sub: 't', unit_id: 'GD', roles: ['viewer'], exp: now() + 300, iat: now(), ...extra });

function hs256(payload, secret = SECRET, header = {}) {
  const head = b64url({ alg: 'HS256', typ: 'JWT', ...header });
  const body = b64url(payload);
  return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`;
}

function rs256(payload, privateKey, kid) {
  const head = b64url({ alg: 'RS256', typ: 'JWT', kid });
  const body = b64url(payload);
  const signature = createSign('RSA-SHA256').update(`${head}.${body}`).sign(privateKey).toString('base64url');
  return `${head}.${body}.${signature}`;
}

const unsigned = (payload) => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;

const SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
  type Query { hello: String, node: Node }
  type Node { id: ID!, child: Node }
`;

async function listen(handler) {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return server.address().port;
}

async function fakeSubgraph() {
  const seen = [];
  const port = await listen(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const { query } = JSON.parse(raw || '{}');
    seen.push({ query });
    res.setHeader('content-type', 'application/json');
    if (query?.includes('_service')) return res.end(JSON.stringify({ data: { _service: { sdl: SDL } } }));
    const aliases = [...(query ?? '').matchAll(/(\w+)\s*:\s*hello/g)].map((m) => m[1]);
    const data = aliases.length ? Object.fromEntries(aliases.map((a) => [a, 'world'])) : { hello: 'world' };
    return res.end(JSON.stringify({ data }));
  });
  return { url: `http://127.0.0.1:${port}/graphql`, seen };
}

async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

async function startGateway(extraEnv = {}) {
  const sub = await fakeSubgraph();
  const port = await freePort();
  const child = spawn(process.execPath, [join(here, '..', 'server.mjs')], {
    env: {
      ...process.env,
      HOTLINE_JWT_SECRET: SECRET,
      HOTLINE_ENV: 'test',
      ...extraEnv,
      HOTLINE_SUBGRAPHS: `fake=${sub.url}`,
      HOTLINE_GATEWAY_PORT: String(port),
      HOTLINE_COMPOSE_WAIT_SECONDS: '5',
      HOTLINE_SUPERGRAPH_PATH: join(mkdtempSync(join(tmpdir(), 'gw-')), 'supergraph.graphql'),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  const deadline = Date.now() + 20000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) break;
    } catch {}
    if (Date.now() > deadline) throw new Error('gateway not healthy in time');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, sub, child };
}

async function stop(child) {
  child.kill('SIGTERM');
  await once(child, 'exit');
}

async function post(port, body, headers = {}) {
  const r = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text };
  }
  return { status: r.status, headers: r.headers, body: json };
}

const bearer = (t) => ({ authorization: `Bearer ${t}` });
const code = (r) => r.body.errors?.[0]?.extensions?.code;

test('forged, expired, future-dated, wrong-audience and wrong-issuer tokens are refused', async () => {
  const { port, sub, child } = await startGateway({ HOTLINE_JWT_ISSUER: 'https://idp.example', HOTLINE_JWT_AUDIENCE: 'hotline' });
  const good = claims({ iss: 'https://idp.example', aud: 'hotline' });
  const ok = await post(port, { query: '{ hello }' }, bearer(hs256(good)));
  assert.deepEqual(ok.body, { data: { hello: 'world' } }); // the control: a correct token passes
  const forged = {
    expired: hs256({ ...good, exp: now() - 120 }),
    'nbf in the future': hs256({ ...good, nbf: now() + 3600 }),
    'wrong audience': hs256({ ...good, aud: 'someone-else' }),
    'service audience': hs256({ ...good, aud: 'hotline-internal', roles: ['service'] }),
    'no audience': hs256({ ...good, aud: undefined }),
    'wrong issuer': hs256({ ...good, iss: 'https://evil.example' }),
    'alg none': unsigned(good),
    'alg none, signature kept': unsigned(good) + hs256(good).split('.')[2],
    'other secret': hs256(good, 'another-secret-another-secret-another'),
    'HS512 header': hs256(good, SECRET, { alg: 'HS512' }),
  };
  const before = sub.seen.length;
  for (const [name, token] of Object.entries(forged)) {
    const r = await post(port, { query: '{ hello }' }, bearer(token));
    assert.equal(code(r), 'UNAUTHENTICATED', `${name}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.data, undefined, name);
  }
  assert.equal(sub.seen.length, before, 'no refused request reached the subgraph');
  await stop(child);
});

test('with a JWKS, HS256 tokens signed with the RSA public key (algorithm confusion) are refused', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
  const jwksPort = await listen((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  const { port, child } = await startGateway({
    HOTLINE_JWT_SECRET: '',
    HOTLINE_JWKS_URL: `http://127.0.0.1:${jwksPort}/jwks.json`,
  });
  const ok = await post(port, { query: '{ hello }' }, bearer(rs256(claims(), privateKey, 'k1')));
  assert.deepEqual(ok.body, { data: { hello: 'world' } });
  const pem = publicKey.export({ format: 'pem', type: 'spki' });
  for (const [name, token] of Object.entries({
    'HS256 with the PEM public key': hs256(claims(), pem, { kid: 'k1' }),
    'HS256 with the JWK modulus': hs256(claims(), jwk.n, { kid: 'k1' }),
    'alg none with kid': `${b64url({ alg: 'none', kid: 'k1' })}.${b64url(claims())}.`,
    'RS256 expired': rs256(claims({ exp: now() - 60 }), privateKey, 'k1'),
    'RS256 with a key not in the JWKS': rs256(claims(), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'k1'),
  })) {
    const r = await post(port, { query: '{ hello }' }, bearer(token));
    assert.equal(code(r), 'UNAUTHENTICATED', `${name}: ${JSON.stringify(r.body)}`);
  }
  await stop(child);
});

test('alias, directive, depth and token limits hold; batches are not accepted', async () => {
  const { port, sub, child } = await startGateway({ HOTLINE_GATEWAY_MAX_ALIASES: '10', HOTLINE_GATEWAY_MAX_DIRECTIVES: '10' });
  const auth = bearer(hs256(claims()));
  const aliases = (n) => '{ ' + Array.from({ length: n }, (_, i) => `a${i}: hello`).join(' ') + ' }';
  const atLimit = await post(port, { query: aliases(10) }, auth);
  assert.equal(atLimit.body.errors, undefined, JSON.stringify(atLimit.body).slice(0, 600)); // the control: 10 aliases pass
  const tooMany = await post(port, { query: aliases(11) }, auth);
  assert.match(tooMany.body.errors[0].message, /aliases/i, JSON.stringify(tooMany.body));
  // Aliases hidden in fragments count as well.
  const inFragments =
    'query { ...F ... on Query { ' + Array.from({ length: 6 }, (_, i) => `b${i}: hello`).join(' ') + ' } } fragment F on Query { ' +
    Array.from({ length: 6 }, (_, i) => `c${i}: hello`).join(' ') + ' }';
  assert.match((await post(port, { query: inFragments }, auth)).body.errors[0].message, /aliases/i);
  const directives = (n) => '{ ' + '... on Query @include(if: true) { hello } '.repeat(n) + '}';
  assert.equal((await post(port, { query: directives(10) }, auth)).body.errors, undefined);
  assert.match((await post(port, { query: directives(11) }, auth)).body.errors[0].message, /directives/i);
  const deepByFragment =
    'query { node { ...A } } fragment A on Node { child { child { child { ...B } } } } fragment B on Node { child { child { child { child { child { child { child { child { id } } } } } } } } }';
  assert.match((await post(port, { query: deepByFragment }, auth)).body.errors[0].message, /depth/i);
  const manyTokens = '{ ' + 'hello '.repeat(2100) + '}';
  assert.ok((await post(port, { query: manyTokens }, auth)).body.errors);
  // A JSON array of operations is not executed at all, so batching cannot multiply any limit.
  const seenBefore = sub.seen.length;
  const batch = await post(port, Array.from({ length: 20 }, () => ({ query: aliases(10) })), auth);
  assert.ok(batch.status >= 400 || batch.body.errors, JSON.stringify(batch.body));
  assert.ok(!Array.isArray(batch.body), 'no batched result');
  assert.equal(sub.seen.length, seenBefore, 'nothing of the batch reached the subgraph');
  await stop(child);
});

test('request bodies over the limit are refused with 413 before they are read', async () => {
  const { port, sub, child } = await startGateway({ HOTLINE_GATEWAY_MAX_BODY_BYTES: '65536' });
  const auth = bearer(hs256(claims()));
  const seenBefore = sub.seen.length;
  const big = JSON.stringify({ query: '{ hello }', variables: { pad: 'x'.repeat(3 * 1024 * 1024) } });
  const r = await post(port, big, auth);
  assert.equal(r.status, 413);
  assert.equal(code(r), 'PAYLOAD_TOO_LARGE');
  // Chunked without a length: refused too (411), instead of read without bound.
  const chunked = await new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json', ...auth } },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.on('error', reject);
    req.write('{"query": "{ hello }", "pad": "');
    req.end('x"}');
  });
  assert.equal(chunked, 411);
  assert.equal(sub.seen.length, seenBefore);
  assert.deepEqual((await post(port, { query: '{ hello }' }, auth)).body, { data: { hello: 'world' } });
  await stop(child);
});

test('rate limit per client: 429 with Retry-After, per token subject and per IP', async () => {
  const { port, child } = await startGateway({ HOTLINE_GATEWAY_RATE_LIMIT: '1', HOTLINE_GATEWAY_RATE_BURST: '3' });
  const alice = bearer(hs256(claims({ sub: 'alice' })));
  const bob = bearer(hs256(claims({ sub: 'bob' })));
  const results = [];
  for (let i = 0; i < 5; i++) results.push(await post(port, { query: '{ hello }' }, alice));
  assert.deepEqual(results.slice(0, 3).map((r) => r.status), [200, 200, 200]);
  const limited = results[4];
  assert.equal(limited.status, 429, JSON.stringify(limited.body));
  assert.equal(code(limited), 'RATE_LIMITED');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  // Another subject has a bucket of its own.
  assert.equal((await post(port, { query: '{ hello }' }, bob)).status, 200);
  // Unauthenticated callers share their IP's bucket; they are refused either way, but also limited.
  const anon = [];
  for (let i = 0; i < 5; i++) anon.push(await post(port, { query: '{ hello }' }));
  assert.equal(anon[0].body.errors[0].extensions.code, 'UNAUTHENTICATED');
  assert.equal(anon[4].status, 429);
  await stop(child);
});

test('the token bucket refills at its rate', () => {
  let t = 0;
  const take = createRateLimiter({ rate: 2, burst: 2, now: () => t });
  assert.equal(take('a'), 0);
  assert.equal(take('a'), 0);
  assert.equal(take('a'), 1);
  t = 500; // half a second: one token back
  assert.equal(take('a'), 0);
  assert.equal(take('a'), 1);
  assert.equal(take('b'), 0);
});

test('a subgraph that is down yields an error that names no token, header or internal address (production)', async () => {
  const { port, sub, child } = await startGateway({ HOTLINE_ENV: 'production' });
  const token = hs256(claims());
  servers.at(-1).closeAllConnections?.();
  await new Promise((r) => servers.at(-1).close(r));
  const r = await post(port, { query: '{ hello }' }, bearer(token));
  const text = JSON.stringify(r.body);
  assert.ok(r.body.errors?.length, text);
  assert.ok(!text.includes(token.split('.')[1]), `token echoed: ${text}`);
  assert.ok(!/authorization/i.test(text), `headers echoed: ${text}`);
  assert.ok(!new URL(sub.url).port || !text.includes(new URL(sub.url).port), `internal address echoed: ${text}`);
  await stop(child);
});
