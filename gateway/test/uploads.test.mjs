// Evidence files through the gateway (issue 17): multipart bodies up to the upload limit, the appeals REST
// routes passed through with the caller's token verified here first, everything else as before.
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
import { restRoute, serviceUrls } from '../rest.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SECRET = 'gateway-upload-secret-of-sufficient-length';
const APPEAL = '2f7b370c-582b-4daf-84f7-4d7ce4b8d3fa';
const FILE = '93748704-7735-4d26-936b-2c9188db1c0d';
const children = [];
const servers = [];

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const server of servers) server.close();
});

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function jwt(claims = {}, secret = SECRET) {
  const head = b64url({ alg: 'HS256', typ: 'JWT' });
  const body = b64url({ sub: 'clerk', unit_id: 'GZ-HOUSING', roles: ['unit'], exp: Math.floor(Date.now() / 1000) + 300, ...claims });
  return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`;
}

const SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
  type Query { hello: String }
`;

// A fake appeals service: GraphQL (its SDL, canned data) and the evidence REST routes, recording what it saw.
async function fakeAppeals() {
  const seen = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method, url: req.url, headers: req.headers, bytes: body.length });
    if (req.url === '/graphql') {
      const { query } = JSON.parse(body.toString() || '{}');
      res.setHeader('content-type', 'application/json');
      if (query?.includes('_service')) return res.end(JSON.stringify({ data: { _service: { sdl: SDL } } }));
      return res.end(JSON.stringify({ data: { hello: 'world' } }));
    }
    if (req.method === 'GET') {
      res.setHeader('content-type', 'application/pdf');
      res.setHeader('content-disposition', 'attachment; filename="log.pdf"');
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('x-content-sha256', 'abc');
      res.setHeader('set-cookie', 'never=forwarded');
      return res.end(Buffer.from('%PDF-1.4 the evidence'));
    }
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({ ok: true, received: body.length }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { base: `http://127.0.0.1:${server.address().port}`, seen };
}

async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

async function startGateway(appeals, extraEnv = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(here, '..', 'server.mjs')], {
    env: {
      ...process.env,
      HOTLINE_SUBGRAPHS: `appeals=${appeals.base}/graphql`,
      HOTLINE_GATEWAY_PORT: String(port),
      HOTLINE_JWT_SECRET: SECRET,
      HOTLINE_ENV: 'test',
      HOTLINE_COMPOSE_WAIT_SECONDS: '5',
      HOTLINE_SUPERGRAPH_PATH: join(mkdtempSync(join(tmpdir(), 'gw-')), 'supergraph.graphql'),
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) return { port, child };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway not healthy in time');
}

test('only the evidence paths of well-formed ids are REST routes', () => {
  const route = (method, url) => restRoute({ method, url })?.service;
  assert.equal(route('GET', `/appeals/${APPEAL}/evidence/${FILE}`), 'appeals');
  assert.equal(route('POST', `/appeals/${APPEAL}/evidence`), 'appeals');
  assert.equal(route('GET', `/appeals/${APPEAL}/evidence/${FILE}?x=1`), 'appeals');
  assert.equal(route('DELETE', `/appeals/${APPEAL}/evidence/${FILE}`), undefined);
  assert.equal(route('GET', `/appeals/${APPEAL}/evidence/../../units/snapshot`), undefined);
  assert.equal(route('GET', '/appeals/not-a-uuid/evidence/also-not'), undefined);
  assert.equal(route('POST', '/graphql'), undefined);
  // A run's reports: the workbook and the PDF, read only; not its HTML page, not other files.
  assert.equal(route('GET', `/runs/${APPEAL}/report.xlsx`), 'scoring');
  assert.equal(route('GET', `/runs/${APPEAL}/report.pdf`), 'scoring');
  assert.equal(route('GET', `/runs/${APPEAL}/report.html`), undefined);
  assert.equal(route('POST', `/runs/${APPEAL}/report.pdf`), undefined);
  assert.equal(route('GET', `/runs/${APPEAL}/revisions`), undefined);
  const urls = serviceUrls({ HOTLINE_APPEALS_URL: 'http://appeals:4104/' }, [{ name: 'appeals', url: 'http://x/graphql' }]);
  assert.equal(urls.appeals, 'http://appeals:4104');
  assert.equal(serviceUrls({}, [{ name: 'appeals', url: 'http://x:1/graphql' }]).appeals, 'http://x:1');
});

test('evidence downloads and uploads pass through with a verified token; others are refused at the gateway', async () => {
  const appeals = await fakeAppeals();
  const { port, child } = await startGateway(appeals, { HOTLINE_APPEALS_URL: appeals.base });
  const url = `http://127.0.0.1:${port}/appeals/${APPEAL}/evidence/${FILE}`;
  const token = jwt();
  const ok = await fetch(url, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'req-dl', cookie: 'a=b' } });
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), '%PDF-1.4 the evidence');
  assert.equal(ok.headers.get('content-type'), 'application/pdf');
  assert.equal(ok.headers.get('content-disposition'), 'attachment; filename="log.pdf"');
  assert.equal(ok.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(ok.headers.get('set-cookie'), null);
  const forwarded = appeals.seen.find((s) => s.url.startsWith('/appeals/'));
  assert.equal(forwarded.headers.authorization, `Bearer ${token}`);
  assert.equal(forwarded.headers['x-request-id'], 'req-dl');
  assert.equal(forwarded.headers.cookie, undefined);

  const before = appeals.seen.length;
  for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${jwt({}, 'another-secret-another-secret-another')}` }]) {
    const refused = await fetch(url, { headers });
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).error.code, 'UNAUTHENTICATED');
  }
  assert.equal(appeals.seen.length, before, 'nothing unauthenticated reached the service');

  // A multipart upload of 5 MiB (above the 1 MiB JSON limit, under the upload limit) streams through.
  const form = new FormData();
  form.append('expected_version', '1');
  form.append('file', new Blob([Buffer.alloc(5 * 1024 * 1024, 'a')]), 'big.txt');
  const uploaded = await fetch(`http://127.0.0.1:${port}/appeals/${APPEAL}/evidence`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  assert.equal(uploaded.status, 200);
  assert.ok((await uploaded.json()).received > 5 * 1024 * 1024);
  child.kill('SIGTERM');
  await once(child, 'exit');
});

test('a multipart body may reach the upload limit; above it, and a JSON body above 1 MiB, answer 413', async () => {
  const appeals = await fakeAppeals();
  const { port, child } = await startGateway(appeals, { HOTLINE_GATEWAY_MAX_UPLOAD_BYTES: String(3 * 1024 * 1024) });
  const auth = { authorization: `Bearer ${jwt()}` };
  const multipart = (size) => {
    const form = new FormData();
    form.append('operations', JSON.stringify({ query: '{ hello }' }));
    form.append('map', '{}');
    form.append('pad', new Blob([Buffer.alloc(size, 'b')]), 'pad.bin');
    return form;
  };
  const within = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: auth, body: multipart(2 * 1024 * 1024) });
  assert.equal(within.status, 200);
  assert.deepEqual(await within.json(), { data: { hello: 'world' } });
  const over = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: auth, body: multipart(4 * 1024 * 1024) });
  assert.equal(over.status, 413);
  assert.equal((await over.json()).errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
  const json = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ hello }', variables: { pad: 'x'.repeat(2 * 1024 * 1024) } }),
  });
  assert.equal(json.status, 413);
  child.kill('SIGTERM');
  await once(child, 'exit');
});
