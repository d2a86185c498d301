// Composes the supergraph from the running subgraphs' SDL (Apollo Federation 2).
// Usage: HOTLINE_SUBGRAPHS="ingest=http://127.0.0.1:4101/graphql,..." node compose.mjs
//   --sdl-dir DIR: read each subgraph's SDL from DIR/<name>.graphql instead of asking the running
//                  subgraph (`make schema` composes schema/supergraph.graphql this way, no stack needed);
//   --out FILE:    write the supergraph there (`-`: standard output) instead of HOTLINE_SUPERGRAPH_PATH.
import { readFile, writeFile } from 'node:fs/promises';
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
  return composeSdl(await Promise.all(subgraphs.map(async (s) => ({ ...s, sdl: await fetchSdl(s, deadline) }))));
}

/** Read every subgraph's SDL from `dir/<name>.graphql` and compose, as `composeSupergraph` does. */
export async function composeSupergraphFromFiles(subgraphs, dir) {
  return composeSdl(
    await Promise.all(subgraphs.map(async (s) => ({ ...s, sdl: await readFile(resolve(dir, `${s.name}.graphql`), 'utf8') }))),
  );
}

/** Compose `[{name, url, sdl}]` into the supergraph SDL; throws CompositionError listing every problem. */
export function composeSdl(subgraphs) {
  const services = subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) }));
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

function option(name) {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

async function composeFromFilesCli(sdlDir, out) {
  const sdl = await composeSupergraphFromFiles(parseSubgraphList(process.env.HOTLINE_SUBGRAPHS), sdlDir);
  const path = out === '-' ? undefined : resolve(out ?? supergraphPath());
  if (path) await writeFile(path, sdl);
  else process.stdout.write(sdl);
  return { path };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sdlDir = option('--sdl-dir');
  (sdlDir ? composeFromFilesCli(sdlDir, option('--out')) : composeToFile()).then(
    ({ path }) => path && console.log(`supergraph written to ${path}`),
    (error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}
