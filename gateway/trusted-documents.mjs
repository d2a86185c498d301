// Trusted documents (persisted operations): the gateway can run only the operations a portal
// registered, each known by the SHA-256 of its text.
//
// The manifest (gateway/persisted-documents.json) maps hash → document, the format of GraphQL Code
// Generator's client preset (`persistedDocuments: { hashAlgorithm: 'sha256' }`). It is built from
// the portal's operation files (schema/operations/*.graphql, one named operation per file), each
// validated against the API the supergraph serves:
//   node trusted-documents.mjs --operations ../schema/operations --supergraph ../schema/supergraph.graphql --out FILE|-
// (`make schema` runs it). With HOTLINE_GATEWAY_TRUSTED_DOCUMENTS=<manifest> the gateway serves those
// operations by hash and refuses everything else (Hive Gateway's persisted-documents support).
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transformSupergraphToPublicSchema } from '@theguild/federation-composition';
import { Kind, buildASTSchema, parse, print, validate } from 'graphql';

export function documentHash(text) {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The API clients see: the supergraph without the federation's own types and directives. */
export function apiSchema(supergraphSdl) {
  return buildASTSchema(transformSupergraphToPublicSchema(parse(supergraphSdl)));
}

/**
 * Every `*.graphql` file of `dir` as one registered document, checked: it parses, holds exactly one
 * operation, named as the file, and validates against the supergraph's API. Throws listing every problem.
 * Returns `{ manifest: {hash: document}, operations: [{name, file, hash}] }`, ordered by file name.
 */
export function buildManifest(dir, supergraphSdl) {
  const schema = apiSchema(supergraphSdl);
  const problems = [];
  const manifest = {};
  const operations = [];
  const files = readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort();
  if (!files.length) problems.push(`${dir}: no *.graphql operation files`);
  for (const file of files) {
    const where = join(dir, file);
    let document;
    try {
      document = parse(readFileSync(where, 'utf8'));
    } catch (error) {
      problems.push(`${where}: ${error.message}`);
      continue;
    }
    const named = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const name = basename(file, '.graphql');
    if (named.length !== 1 || named[0].name?.value !== name) {
      problems.push(`${where}: must hold exactly one operation, named ${name} (found ${named.map((o) => o.name?.value ?? '(anonymous)').join(', ') || 'none'})`);
      continue;
    }
    for (const error of validate(schema, document)) problems.push(`${where}: ${error.message}`);
    const text = print(document);
    const hash = documentHash(text);
    manifest[hash] = text;
    operations.push({ name, file, hash });
  }
  if (problems.length) throw new Error(`the portal operations do not hold against the supergraph:\n  - ${problems.join('\n  - ')}`);
  return { manifest, operations };
}

/** Read and check a manifest: a JSON object of sha256 → document, every key the hash of its document. */
export function loadManifest(path) {
  let entries;
  try {
    entries = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`HOTLINE_GATEWAY_TRUSTED_DOCUMENTS=${path}: cannot read the manifest: ${error.message}`);
  }
  if (entries === null || typeof entries !== 'object' || Array.isArray(entries)) {
    throw new Error(`HOTLINE_GATEWAY_TRUSTED_DOCUMENTS=${path}: expected a JSON object of sha256 → document`);
  }
  const documents = new Map();
  for (const [hash, text] of Object.entries(entries)) {
    if (typeof text !== 'string' || documentHash(text) !== hash) {
      throw new Error(`HOTLINE_GATEWAY_TRUSTED_DOCUMENTS=${path}: the entry ${hash} is not the SHA-256 of its document`);
    }
    documents.set(hash, text);
  }
  if (!documents.size) throw new Error(`HOTLINE_GATEWAY_TRUSTED_DOCUMENTS=${path}: the manifest is empty`);
  return documents;
}

const HOW = 'send {"documentId": "<sha256>"} or extensions.persistedQuery.sha256Hash with a registered operation (docs/portal.md, "Trusted documents")';

/** Hive Gateway's `persistedDocuments` settings: only the manifest's documents, by hash. */
export function persistedDocumentsOptions(documents) {
  const refusal = (message, code) => ({ message, extensions: { code, http: { status: 400 } } });
  return {
    getPersistedOperation: (hash) => documents.get(hash) ?? null,
    allowArbitraryDocuments: false,
    customErrors: {
      notFound: refusal(`unknown operation: this gateway runs only registered operations; ${HOW}`, 'PERSISTED_QUERY_NOT_FOUND'),
      persistedQueryOnly: refusal(`operation text refused: this gateway runs only registered operations; ${HOW}`, 'PERSISTED_QUERY_ONLY'),
      keyNotFound: refusal(`no operation given; ${HOW}`, 'PERSISTED_QUERY_ID_REQUIRED'),
    },
  };
}

function option(name) {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const operations = option('--operations');
    const supergraph = option('--supergraph');
    const out = option('--out');
    if (!operations || !supergraph || !out) throw new Error('usage: node trusted-documents.mjs --operations DIR --supergraph FILE --out FILE|-');
    const { manifest } = buildManifest(resolve(operations), readFileSync(resolve(supergraph), 'utf8'));
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    if (out === '-') process.stdout.write(text);
    else writeFileSync(resolve(out), text);
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
