// Trusted documents through the real gateway (server.mjs) over a fake subgraph: with a manifest only its
// operations run, by hash; without one (development) any operation does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { documentHash, loadManifest } from '../trusted-documents.mjs';
import { fakeSubgraph, freePort, gatewayOverFake, jwt, startGateway } from './support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const HELLO = 'query Hello {\n  hello\n}';
const HASH = documentHash(HELLO);
const AUTH = { authorization: `Bearer ${jwt()}`, 'content-type': 'application/json' };

function manifestFile(entries) {
  const path = join(mkdtempSync(join(tmpdir(), 'trusted-')), 'persisted-documents.json');
  writeFileSync(path, JSON.stringify(entries));
  return path;
}

async function post(url, body, headers = AUTH) {
  const r = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

const code = (answer) => answer.body.errors?.[0]?.extensions?.code;

test('in trusted-documents mode the gateway runs registered operations by hash and refuses everything else', async () => {
  const gateway = await gatewayOverFake({ HOTLINE_GATEWAY_TRUSTED_DOCUMENTS: manifestFile({ [HASH]: HELLO }) });
  const reached = () => gateway.subgraph.seen.length;

  // Registered, by hash: Hive's documentId, Apollo's persistedQuery extension, and a GET (cacheable).
  assert.deepEqual((await post(gateway.url, { documentId: HASH })).body, { data: { hello: 'world' } });
  const apollo = await post(gateway.url, { extensions: { persistedQuery: { version: 1, sha256Hash: HASH } } });
  assert.deepEqual(apollo.body, { data: { hello: 'world' } });
  const get = await fetch(`${gateway.url}/graphql?documentId=${HASH}`, { headers: { authorization: AUTH.authorization } });
  assert.deepEqual(await get.json(), { data: { hello: 'world' } });
  assert.equal(reached(), 3);

  // Refused before any subgraph is asked: an unknown hash, operation text (even a registered one's), nothing.
  const unknown = await post(gateway.url, { documentId: documentHash('query Other {\n  hello\n}') });
  assert.equal(unknown.status, 400);
  assert.equal(code(unknown), 'PERSISTED_QUERY_NOT_FOUND');
  assert.match(unknown.body.errors[0].message, /registered operations/);
  const text = await post(gateway.url, { query: HELLO });
  assert.equal(text.status, 400);
  assert.equal(code(text), 'PERSISTED_QUERY_ONLY');
  assert.equal(code(await post(gateway.url, {})), 'PERSISTED_QUERY_ID_REQUIRED');
  assert.equal(unknown.body.data ?? null, null);
  assert.equal(reached(), 3);

  // A registered operation still needs a valid token.
  const anonymous = await post(gateway.url, { documentId: HASH }, { 'content-type': 'application/json' });
  assert.equal(code(anonymous), 'UNAUTHENTICATED');
  assert.equal(reached(), 3);
  await gateway.stop();
});

test('without a manifest (development) the gateway accepts any operation text', async () => {
  const gateway = await gatewayOverFake({ HOTLINE_ENV: 'development' });
  assert.deepEqual((await post(gateway.url, { query: '{ hello }' })).body, { data: { hello: 'world' } });
  assert.deepEqual((await post(gateway.url, { query: HELLO, operationName: 'Hello' })).body, { data: { hello: 'world' } });
  await gateway.stop();
});

test('a manifest whose entry is not the hash of its document stops start-up', { timeout: 30000 }, async () => {
  const subgraph = await fakeSubgraph();
  const port = await freePort();
  const forged = manifestFile({ [HASH]: 'query Hello {\n  hello\n  node { id }\n}' });
  const { child, stderr } = startGateway([['fake', subgraph.url]], port, { HOTLINE_GATEWAY_TRUSTED_DOCUMENTS: forged });
  const [exitCode] = await once(child, 'exit');
  assert.notEqual(exitCode, 0);
  assert.match(stderr(), /not the SHA-256 of its document/);
});

test('the committed manifest loads: every entry the SHA-256 of its document', () => {
  const documents = loadManifest(join(here, '..', 'persisted-documents.json'));
  const names = [...documents.values()].map((d) => d.match(/^(?:query|mutation) (\w+)/)?.[1]);
  assert.ok(names.includes('Ranking') && names.includes('ReviewerInbox'), names.join(', '));
  assert.throws(() => loadManifest(manifestFile({ [HASH]: `${HELLO} ` })), /not the SHA-256/);
  assert.throws(() => loadManifest(manifestFile({})), /empty/);
});
