// Self-test of the gateway against throwaway subgraphs (node:http), all on 127.0.0.1.
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

const here = dirname(fileURLToPath(import.meta.url));
const SECRET = 'gateway-test-secret-of-sufficient-length';
const children = [];
const servers = [];

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const server of servers) server.close();
});

function b64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function jwt(claims, secret = SECRET) {
  const head = b64url({ alg: 'HS256', typ: 'JWT' });
  const body = b64url({ sub: 't', unit_id: 'GD', roles: ['viewer'], exp: Math.floor(Date.now() / 1000) + 300, ...claims });
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

const SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
  type Query { hello: String, node: Node }
  type Node { id: ID!, child: Node }
`;

// A fake subgraph: serves its SDL and answers every other operation with canned data.
async function fakeSubgraph(sdl = SDL) {
  const seen = [];
  const server = createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const { query } = JSON.parse(raw || '{}');
    seen.push({ headers: req.headers, query });
    res.setHeader('content-type', 'application/json');
    if (query?.includes('_service')) return res.end(JSON.stringify({ data: { _service: { sdl } } }));
    return res.end(JSON.stringify({ data: { hello: 'world' } }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { url: `http://127.0.0.1:${server.address().port}/graphql`, seen };
}

async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

function startGateway(subgraphs, port, extraEnv = {}) {
  const child = spawn(process.execPath, [join(here, '..', 'server.mjs')], {
    env: {
      ...process.env,
      ...extraEnv,
      HOTLINE_SUBGRAPHS: subgraphs.map(([n, u]) => `${n}=${u}`).join(','),
      HOTLINE_GATEWAY_PORT: String(port),
      HOTLINE_JWT_SECRET: SECRET,
      HOTLINE_ENV: 'test',
      HOTLINE_COMPOSE_WAIT_SECONDS: '5',
      HOTLINE_SUPERGRAPH_PATH: join(mkdtempSync(join(tmpdir(), 'gw-')), 'supergraph.graphql'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => (stdout += d));
  return { child, stderr: () => stderr, stdout: () => stdout };
}

async function waitHealthy(port, child) {
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

async function post(port, query, headers = {}) {
  const r = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return { status: r.status, headers: r.headers, body: await r.json() };
}

test('gateway verifies tokens, forwards them, limits depth and reports health', async () => {
  const sub = await fakeSubgraph();
  const port = await freePort();
  const { child } = startGateway([['fake', sub.url]], port);
  await waitHealthy(port, child);

  const token = jwt({});
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const ok = await post(port, '{ hello }', { authorization: `Bearer ${token}`, 'x-request-id': 'req-42', traceparent });
  assert.deepEqual(ok.body, { data: { hello: 'world' } });
  assert.equal(ok.headers.get('x-request-id'), 'req-42');
  const forwarded = sub.seen.find((s) => s.query.includes('hello'));
  assert.equal(forwarded.headers.authorization, `Bearer ${token}`);
  assert.equal(forwarded.headers['x-request-id'], 'req-42');
  assert.equal(forwarded.headers.traceparent, traceparent);

  for (const headers of [
    {},
    { authorization: 'Bearer not.a.jwt' },
    { authorization: `Bearer ${jwt({}, 'another-secret-another-secret-another')}` },
    { authorization: `Bearer ${jwt({ exp: Math.floor(Date.now() / 1000) - 60 })}` },
  ]) {
    const refused = await post(port, '{ hello }', headers);
    assert.equal(refused.body.errors[0].extensions.code, 'UNAUTHENTICATED', JSON.stringify(headers));
    assert.equal(refused.body.data, undefined);
  }

  const deep = '{ node ' + '{ child '.repeat(14) + '{ id }' + ' }'.repeat(14) + ' }';
  const tooDeep = await post(port, deep, { authorization: `Bearer ${token}` });
  assert.match(tooDeep.body.errors[0].message, /depth limit/i);

  assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  child.kill('SIGTERM');
  await once(child, 'exit');
});

test('a composition error stops start-up and shows the error', async () => {
  const a = await fakeSubgraph(SDL);
  const b = await fakeSubgraph(`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
    type Query { hello: Int }
  `);
  const port = await freePort();
  const { child, stderr } = startGateway([['a', a.url], ['b', b.url]], port);
  const [code] = await once(child, 'exit');
  assert.notEqual(code, 0);
  assert.match(stderr(), /composition failed/);
  assert.match(stderr(), /hello/);
});

function metricValue(text, name, labels = {}) {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
  }
  return total;
}

test('gateway serves Prometheus metrics and writes JSON log lines with the request id', async () => {
  const sub = await fakeSubgraph();
  const port = await freePort();
  const { child, stdout } = startGateway([['fake', sub.url]], port, { HOTLINE_LOG_FORMAT: 'json' });
  await waitHealthy(port, child);

  const scrape = async () => {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/plain/);
    return r.text();
  };
  const before = metricValue(await scrape(), 'graphql_envelop_request_duration_count', { operationName: 'Hello' });
  const token = jwt({});
  for (const id of ['req-m-1', 'req-m-2']) {
    const ok = await post(port, 'query Hello { hello }', { authorization: `Bearer ${token}`, 'x-request-id': id });
    assert.deepEqual(ok.body, { data: { hello: 'world' } });
  }
  const after = await scrape();
  assert.equal(metricValue(after, 'graphql_envelop_request_duration_count', { operationName: 'Hello' }), before + 2);
  assert.ok(metricValue(after, 'graphql_gateway_subgraph_execute_duration_count', { subgraphName: 'fake' }) >= 2);
  assert.match(after, /process_cpu_user_seconds_total/);
  // Only the families docs/operations.md lists: the plugin's other defaults (a request-time Summary above all,
  // whose quantiles cost more per request than the histograms) stay off.
  const families = new Set(after.split('\n').filter((l) => l.startsWith('# TYPE graphql_')).map((l) => l.split(' ')[2]));
  assert.deepEqual([...families].sort(), [
    'graphql_envelop_deprecated_field',
    'graphql_envelop_error_result',
    'graphql_envelop_phase_execute',
    'graphql_envelop_phase_parse',
    'graphql_envelop_phase_validate',
    'graphql_envelop_request',
    'graphql_envelop_request_duration',
    'graphql_gateway_fetch_duration',
    'graphql_gateway_subgraph_execute_duration',
    'graphql_gateway_subgraph_execute_errors',
    'graphql_yoga_http_duration',
  ]);

  // Access lines are written when the response finishes; give the pipe a moment.
  let lines = [];
  for (let i = 0; i < 50; i++) {
    lines = stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    if (lines.some((l) => l.request_id === 'req-m-2')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const access = lines.find((l) => l.msg === 'request' && l.request_id === 'req-m-1');
  assert.ok(access, stdout());
  assert.equal(access.service, 'gateway');
  assert.equal(access.level, 'info');
  assert.equal(access.status, 200);
  assert.equal(access.path, '/graphql');
  assert.ok(access.timestamp);
  child.kill('SIGTERM');
  await once(child, 'exit');
});

test('with HOTLINE_GATEWAY_METRICS_PORT the metrics leave the public port for their own', async () => {
  const sub = await fakeSubgraph();
  const port = await freePort();
  const metricsPort = await freePort();
  const { child } = startGateway([['fake', sub.url]], port, { HOTLINE_GATEWAY_METRICS_PORT: String(metricsPort) });
  await waitHealthy(port, child);
  const token = jwt({});
  const ok = await post(port, 'query Hello { hello }', { authorization: `Bearer ${token}` });
  assert.deepEqual(ok.body, { data: { hello: 'world' } });

  let metrics;
  for (let i = 0; i < 50 && !metrics; i++) {
    try {
      metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.equal(metrics.status, 200);
  const text = await metrics.text();
  assert.ok(metricValue(text, 'graphql_envelop_request_duration_count', { operationName: 'Hello' }) >= 1);
  const onPublicPort = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.doesNotMatch(await onPublicPort.text(), /graphql_envelop_request_duration/);
  child.kill('SIGTERM');
  await once(child, 'exit');
});

test('with tracing on, the gateway continues the client trace and sends its own span to the subgraphs', async () => {
  const sub = await fakeSubgraph();
  const port = await freePort();
  const { child, stdout } = startGateway([['fake', sub.url]], port, { HOTLINE_OTEL_EXPORTER: 'console' });
  await waitHealthy(port, child);
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const clientSpan = '00f067aa0ba902b7';
  const ok = await post(port, 'query Traced { hello }', {
    authorization: `Bearer ${jwt({})}`,
    traceparent: `00-${traceId}-${clientSpan}-01`,
  });
  assert.deepEqual(ok.body, { data: { hello: 'world' } });
  const forwarded = sub.seen.find((s) => s.query.includes('hello'));
  const [, forwardedTrace, parentSpan] = forwarded.headers.traceparent.split('-');
  assert.equal(forwardedTrace, traceId);
  assert.notEqual(parentSpan, clientSpan); // the gateway's own span sits between client and subgraph
  // The console exporter prints the finished spans.
  for (let i = 0; i < 50 && !stdout().includes(traceId); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(stdout(), new RegExp(traceId));
  child.kill('SIGTERM');
  await once(child, 'exit');
});
