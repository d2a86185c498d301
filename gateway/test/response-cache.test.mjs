// The response cache's settings and its key (the caller's partition); the cache itself is tested through the real
// gateway by tests/e2e/test_response_cache.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callerKey, responseCachePlugins, responseCacheTtl } from '../response-cache.mjs';

test('the TTL defaults to 5 s, 0 turns the cache off, anything else is refused by name', () => {
  assert.equal(responseCacheTtl({}), 5000);
  assert.equal(responseCacheTtl({ HOTLINE_GATEWAY_RESPONSE_CACHE_TTL_MS: '250' }), 250);
  assert.equal(responseCacheTtl({ HOTLINE_GATEWAY_RESPONSE_CACHE_TTL_MS: '0' }), 0);
  assert.deepEqual(responseCachePlugins({ ttlMs: 0 }), []);
  assert.equal(responseCachePlugins({ ttlMs: 1000 }).length, 2);
  for (const bad of ['-1', 'soon', 'Infinity']) {
    assert.throws(() => responseCacheTtl({ HOTLINE_GATEWAY_RESPONSE_CACHE_TTL_MS: bad }), /RESPONSE_CACHE_TTL_MS/);
  }
});

test("the key is the caller's subject, unit and roles; no verified token, no key", () => {
  const of = (payload) => callerKey({ jwt: { payload } });
  const city = of({ sub: 'u1', unit_id: 'GD-GZ', roles: ['viewer', 'organizer'] });
  assert.equal(city, of({ sub: 'u1', unit_id: 'GD-GZ', roles: ['organizer', 'viewer'] })); // role order does not matter
  assert.notEqual(city, of({ sub: 'u1', unit_id: 'GD-SZ', roles: ['viewer', 'organizer'] })); // another unit
  assert.notEqual(city, of({ sub: 'u1', unit_id: 'GD-GZ', roles: ['viewer'] })); // other roles
  assert.notEqual(city, of({ sub: 'u2', unit_id: 'GD-GZ', roles: ['viewer', 'organizer'] })); // another person
  // Parts cannot run into each other (a unit id that looks like a role list).
  assert.notEqual(of({ sub: 'a', unit_id: 'b,c', roles: [] }), of({ sub: 'a,b', unit_id: 'c', roles: [] }));
  assert.equal(callerKey({}), null);
  assert.equal(callerKey({ jwt: { payload: { unit_id: 'GD' } } }), null);
});

test('only an operation that selects a result anywhere is a candidate for the cache', async () => {
  const { buildSchema, parse } = await import('graphql');
  const schema = buildSchema(`
    type Query { run(id: ID!): Run, appeals: [Appeal!]!, me: String }
    type Run { id: ID!, status: String, results: ResultConnection }
    type ResultConnection { edges: [ResultEdge!]! }
    type ResultEdge { node: UnitResult! }
    type UnitResult { id: ID!, total: Float }
    type Appeal { id: ID!, status: String }
  `);
  const { selectsResults } = await import('../response-cache.mjs');
  assert.equal(selectsResults(schema, parse('{ run(id: "r") { results { edges { node { total } } } } }')), true);
  assert.equal(selectsResults(schema, parse('{ run(id: "r") { status } }')), false);
  assert.equal(selectsResults(schema, parse('{ appeals { id status } me }')), false);
  assert.equal(selectsResults(schema, parse('query { ...F } fragment F on Query { run(id: "r") { results { edges { node { id } } } } }')), true);
});
