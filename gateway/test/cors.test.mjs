// CORS through the real gateway (server.mjs): an exact allowlist from HOTLINE_GATEWAY_CORS_ORIGINS, no
// reflection of other origins, none by default; preflight and simple requests, allowed, unlisted and missing Origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { fakeSubgraph, freePort, gatewayOverFake, jwt, startGateway } from './support.mjs';

const PORTAL = 'https://portal.example.gov.cn';
const DEV_PORTAL = 'http://localhost:5173';
const HOSTILE = ['https://evil.example', 'null', `${PORTAL}.evil.example`, 'https://portal.example.gov.cn:8443', 'http://portal.example.gov.cn'];

function preflight(url, origin) {
  const headers = { 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' };
  if (origin !== undefined) headers.origin = origin;
  return fetch(`${url}/graphql`, { method: 'OPTIONS', headers });
}

function simple(url, origin) {
  const headers = { authorization: `Bearer ${jwt()}`, 'content-type': 'application/json' };
  if (origin !== undefined) headers.origin = origin;
  return fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query: '{ hello }' }) });
}

function assertNoCors(response, what) {
  for (const name of ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-headers', 'access-control-allow-methods']) {
    assert.equal(response.headers.get(name), null, `${what}: ${name}`);
  }
}

test('by default no origin may read an answer, in production and in development', async () => {
  for (const env of ['production', 'development']) {
    const gateway = await gatewayOverFake({ HOTLINE_ENV: env, HOTLINE_GATEWAY_RATE_LIMIT: '0' });
    for (const origin of [PORTAL, DEV_PORTAL, ...HOSTILE, undefined]) {
      assertNoCors(await preflight(gateway.url, origin), `${env} preflight from ${origin}`);
      const answer = await simple(gateway.url, origin);
      assertNoCors(answer, `${env} POST from ${origin}`);
      assert.deepEqual(await answer.json(), { data: { hello: 'world' } }); // same-origin and non-browser clients are unaffected
    }
    await gateway.stop();
  }
});

test('with an allowlist, a listed origin gets exactly itself with credentials; any other origin gets nothing', async () => {
  const gateway = await gatewayOverFake({ HOTLINE_GATEWAY_CORS_ORIGINS: `${PORTAL}, ${DEV_PORTAL}` });
  for (const origin of [PORTAL, DEV_PORTAL]) {
    const allowed = await preflight(gateway.url, origin);
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), origin);
    assert.equal(allowed.headers.get('access-control-allow-credentials'), 'true');
    assert.deepEqual(allowed.headers.get('access-control-allow-methods').split(', '), ['GET', 'POST']);
    assert.match(allowed.headers.get('access-control-allow-headers'), /\bauthorization\b.*\bcontent-type\b/);
    assert.equal(allowed.headers.get('access-control-max-age'), '600');
    assert.match(allowed.headers.get('vary'), /\bOrigin\b/);

    const answer = await simple(gateway.url, origin);
    assert.equal(answer.headers.get('access-control-allow-origin'), origin);
    assert.equal(answer.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(answer.headers.get('access-control-expose-headers'), 'x-request-id, retry-after');
    assert.deepEqual(await answer.json(), { data: { hello: 'world' } });
  }
  for (const origin of [...HOSTILE, undefined]) {
    const refused = await preflight(gateway.url, origin);
    assertNoCors(refused, `preflight from ${origin}`);
    assert.match(refused.headers.get('vary') ?? '', /\bOrigin\b/, `preflight from ${origin}: a cache must not serve it to the portal`);
    assertNoCors(await simple(gateway.url, origin), `POST from ${origin}`);
  }
  await gateway.stop();
});

test('an allowlist of one origin answers only that origin', async () => {
  const gateway = await gatewayOverFake({ HOTLINE_GATEWAY_CORS_ORIGINS: PORTAL });
  assert.equal((await preflight(gateway.url, PORTAL)).headers.get('access-control-allow-origin'), PORTAL);
  // The runtime alone would send the one listed origin to every caller; here an unlisted caller gets nothing.
  assertNoCors(await preflight(gateway.url, 'https://evil.example'), 'unlisted origin');
  await gateway.stop();
});

test('an entry that is not an exact origin stops start-up', { timeout: 60000 }, async () => {
  for (const value of ['*', `${PORTAL}/portal`, 'null', 'portal.example.gov.cn']) {
    const subgraph = await fakeSubgraph();
    const { child, stderr } = startGateway([['fake', subgraph.url]], await freePort(), { HOTLINE_GATEWAY_CORS_ORIGINS: value });
    const [exitCode] = await once(child, 'exit');
    assert.notEqual(exitCode, 0, value);
    assert.match(stderr(), /HOTLINE_GATEWAY_CORS_ORIGINS: .* is not an origin/, value);
  }
});

test('the REST routes (evidence files, reports) answer a listed origin as GraphQL does, and nothing to others', async () => {
  const { restCors } = await import('../cors.mjs');
  const answer = (method, origin) => {
    const headers = {};
    const res = {
      statusCode: 200,
      ended: false,
      setHeader: (name, value) => (headers[name.toLowerCase()] = value),
      end() {
        this.ended = true;
      },
    };
    const handled = restCors(['https://portal.example.gov.cn'], { method, headers: origin ? { origin } : {} }, res);
    return { handled, headers, status: res.statusCode };
  };
  const preflight = answer('OPTIONS', 'https://portal.example.gov.cn');
  assert.equal(preflight.handled, true);
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], 'https://portal.example.gov.cn');
  assert.match(preflight.headers['access-control-allow-headers'], /authorization/);
  const get = answer('GET', 'https://portal.example.gov.cn');
  assert.equal(get.handled, false); // passed on to the service, with the CORS headers set
  assert.equal(get.headers['access-control-allow-credentials'], 'true');
  assert.match(get.headers['access-control-expose-headers'], /content-disposition/);
  for (const origin of ['https://evil.example', 'null', undefined]) {
    const other = answer('OPTIONS', origin);
    assert.equal(other.handled, true);
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    assert.equal(answer('GET', origin).headers['access-control-allow-origin'], undefined);
  }
});
