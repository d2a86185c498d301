// A second engine for the same supergraph (issue 15, point 6), for tests only: Apollo Gateway over the committed
// schema/supergraph.graphql (static SDL, no composition here), each subgraph at HOTLINE_<NAME>_URL, the client's
// Authorization and request id forwarded to every subgraph. tests/e2e/test_two_engines.py compares its answers
// with Hive Gateway's, so that the schema never depends on one engine's quirks. Not a production entry point:
// it has none of server.mjs's limits, token checks or metrics (each subgraph still verifies the token).
import { readFileSync } from 'node:fs';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

const env = process.env;
const supergraphPath = env.HOTLINE_SUPERGRAPH_PATH || new URL('../schema/supergraph.graphql', import.meta.url);
const supergraphSdl = readFileSync(supergraphPath, 'utf8');

/** The subgraph's URL from the environment (the supergraph's own URLs are the default ports). */
function subgraphUrl(name, url) {
  return env[`HOTLINE_${name.toUpperCase()}_URL`] ? `${env[`HOTLINE_${name.toUpperCase()}_URL`]}/graphql` : url;
}

const gateway = new ApolloGateway({
  supergraphSdl,
  buildService({ name, url }) {
    return new RemoteGraphQLDataSource({
      url: subgraphUrl(name, url),
      willSendRequest({ request, context }) {
        for (const header of ['authorization', 'x-request-id']) {
          if (context.headers?.[header]) request.http.headers.set(header, context.headers[header]);
        }
      },
    });
  },
});

// Subgraph errors pass unchanged (codes and messages), as Hive Gateway passes them in development.
const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: Number(env.HOTLINE_APOLLO_PORT || 4100) },
  context: async ({ req }) => ({ headers: req.headers }),
});
console.log(`apollo gateway ready at ${url}`);
