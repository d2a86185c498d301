// A bare Hive Gateway for bench/stack_floor.py: the decided gateway runtime over one subgraph (the bare app of
// bench/floor_app.py), composed the way the stack's gateway composes, with no plugin of ours (no JWT, metrics,
// limits, cache, CORS, logging, no merging of identical requests). What it costs per request is the least a gateway of this stack adds.
//
//   node bench/floor_gateway.mjs <port> <subgraph url>
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { composeSupergraph } from '../gateway/compose.mjs';

const require = createRequire(new URL('../gateway/package.json', import.meta.url));
const { createGatewayRuntime } = require('@graphql-hive/gateway-runtime');

const [port, url] = process.argv.slice(2);
const supergraph = await composeSupergraph([{ name: 'floor', url }]);
const gateway = createGatewayRuntime({
  supergraph,
  graphqlEndpoint: '/graphql',
  landingPage: false,
  logging: false,
  // Each request goes to the subgraph, as the stack's gateway sends each (its requests carry their own request id,
  // so none are merged there): merging identical in-flight requests would measure fewer subgraph calls, not the
  // gateway's cost.
  transportEntries: { '*': { options: { deduplicateInflightRequests: false } } },
});
createServer(gateway).listen(Number(port), '127.0.0.1', () => console.log('ready'));
