// Composes the supergraph from the running subgraphs' SDL (Apollo Federation 2).
// Usage: HOTLINE_SUBGRAPHS="ingest=http://127.0.0.1:4101/graphql,..." node compose.mjs
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';

const here = dirname(fileURLToPath(import.meta.url));

export function parseSubgraphList(value) {
  if (!value) throw new Error('HOTLINE_SUBGRAPHS is empty: expected name=url[,name=url...]');
  return value.split(',').map((entry) => {
    const at = entry.indexOf('=');
    if (at < 1) throw new Error(`bad HOTLINE_SUBGRAPHS entry ${JSON.stringify(entry)}: expected name=url`);
    return { name: entry.slice(0, at).trim(), url: entry.slice(at + 1).trim() };
  });
}

async function fetchSdl({ name, url }, deadline) {
  let lastError;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ _service { sdl } }' }),
        signal: AbortSignal.timeout(5000),
      });
      const body = await response.json();
      const sdl = body?.data?._service?.sdl;
      if (sdl) return sdl;
      lastError = new Error(`no SDL in the answer: ${JSON.stringify(body).slice(0, 300)}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`subgraph ${name} at ${url} did not return its SDL: ${lastError?.message}`);
}

export class CompositionError extends Error {}

/** Fetch every subgraph's SDL and compose; throws CompositionError listing every problem. */
export async function composeSupergraph(subgraphs, { waitSeconds = 30 } = {}) {
  const deadline = Date.now() + waitSeconds * 1000;
  const services = await Promise.all(
    subgraphs.map(async (s) => ({ name: s.name, url: s.url, typeDefs: parse(await fetchSdl(s, deadline)) })),
  );
  const result = composeServices(services);
  if (result.errors?.length) {
    const lines = result.errors.map((e) => `  - ${e.message}${e.extensions?.code ? ` [${e.extensions.code}]` : ''}`);
    throw new CompositionError(
      `supergraph composition failed (${subgraphs.map((s) => s.name).join(', ')}):\n${lines.join('\n')}`,
    );
  }
  return result.supergraphSdl;
}

export function supergraphPath() {
  return resolve(process.env.HOTLINE_SUPERGRAPH_PATH || resolve(here, 'supergraph.graphql'));
}

export async function composeToFile() {
  const subgraphs = parseSubgraphList(process.env.HOTLINE_SUBGRAPHS);
  const sdl = await composeSupergraph(subgraphs, { waitSeconds: Number(process.env.HOTLINE_COMPOSE_WAIT_SECONDS || 30) });
  const path = supergraphPath();
  await writeFile(path, sdl);
  return { path, sdl, subgraphs };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  composeToFile().then(
    ({ path }) => console.log(`supergraph written to ${path}`),
    (error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}
