// Minimal reproduction (upstream-style) of Hive Gateway losing a subgraph's error on a non-null root field under
// aliases — see docs/gateway-errors.md. One subgraph, one non-null root field asked twice with aliases; the
// subgraph answers as graphql-js (and Strawberry) do: `data: null` (a non-null root errored) and the error on the
// alias that failed. Run: `cd gateway && node repro-nonnull-root-error.mjs`.
import { createServer } from 'node:http';
import { parse } from 'graphql';
import { composeServices } from '@theguild/federation-composition';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
  type Query { page(after: String): Page! }
  type Page { cursor: String! }
`);

// The subgraph: what any spec-compliant server answers for `{ good: page { cursor } bad: page(after: "x") { cursor } }`
// (and for the gateway's merged form of it, whatever the aliases): a resolver error on the bad one nulls the root.
const subgraph = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const { query } = JSON.parse(body);
    res.setHeader('content-type', 'application/json');
    if (query.includes('_service')) return res.end(JSON.stringify({ data: { _service: { sdl: '' } } }));
    const aliases = [...query.matchAll(/(\w+):\s*page\s*(\([^)]*\))?/g)];
    const bad = aliases.find(([, , args]) => args && args.includes('after'));
    const result = bad
      ? { data: null, errors: [{ message: 'invalid cursor', path: [bad[1]], extensions: { code: 'BAD_REQUEST' } }] }
      : { data: Object.fromEntries(aliases.map(([, alias]) => [alias, { cursor: 'c1' }])) };
    res.end(JSON.stringify(result));
  });
});
await new Promise((resolve) => subgraph.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${subgraph.address().port}/graphql`;

const composed = composeServices([{ name: 'pages', typeDefs, url }]);
if (composed.errors?.length) throw composed.errors[0];
// Default settings, then with the subgraph requests of one operation not merged into one (an experimental option).
for (const batch of [undefined, false]) {
  const gateway = createGatewayRuntime({
    supergraph: composed.supergraphSdl,
    maskedErrors: false,
    logging: false,
    ...(batch === false && { __experimental__batchExecution: false }),
  });
  console.log(batch === false ? '__experimental__batchExecution: false' : 'default settings');
  for (const query of [
    '{ good: page { cursor } bad: page(after: "x") { cursor } }',
    '{ bad: page(after: "x") { cursor } good: page { cursor } }',
  ]) {
    const response = await gateway.fetch('http://gateway/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    console.log(query);
    console.log('  ->', JSON.stringify(await response.json()));
  }
  await gateway.dispose();
}
subgraph.close();
