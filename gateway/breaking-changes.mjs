// The breaking-change check of the schema contract: the API of schema/supergraph.graphql against the
// API of the last release (schema/supergraph.released.graphql), diffed by GraphQL Inspector.
//
//   node breaking-changes.mjs            check; exit 1 on a breaking change not marked as intended
//   node breaking-changes.mjs --release  at a release: the current supergraph becomes the released one
//                                        and the list of accepted changes starts empty again
//
// A breaking change passes only when schema/breaking-changes.yaml lists it (change type, path, reason),
// and a removed field, argument, input field or enum value only if the release already deprecated it
// (docs/portal.md, "Changing the schema"). `make test` runs the check (test/schema-contract.test.mjs).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CriticalityLevel, diff } from '@graphql-inspector/core';
import { isNonNullType } from 'graphql';
import yaml from 'js-yaml';
import { apiSchema } from './trusted-documents.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const FILES = {
  released: resolve(root, 'schema/supergraph.released.graphql'),
  current: resolve(root, 'schema/supergraph.graphql'),
  accepted: resolve(root, 'schema/breaking-changes.yaml'),
};

export const ACCEPTED_HEADER = `# Breaking changes of the API since the released supergraph (schema/supergraph.released.graphql),
# each accepted on purpose. \`make test\` fails on a breaking change not listed here, on an entry that
# no longer matches a change, and on a removal the release did not deprecate first.
# Policy: docs/portal.md, "Changing the schema". At a release, \`make schema-release\` moves the
# baseline to the current supergraph and empties this list.
#
# accepted:
#   - change: FIELD_REMOVED       # GraphQL Inspector's change type, as the check prints it
#     path: Unit.nameEn           # the schema coordinate, as the check prints it
#     reason: deprecated in release 2026-12 (use nameZh); no registered portal operation selects it
`;

const REMOVALS = new Set(['FIELD_REMOVED', 'FIELD_ARGUMENT_REMOVED', 'INPUT_FIELD_REMOVED', 'ENUM_VALUE_REMOVED']);

// GraphQL Inspector rates a removed default only "dangerous"; on a non-null argument or input field it
// makes the value required, and every client that left it out is refused: breaking. (A nullable one made
// non-null is already a breaking type change.)
function defaultRemovedFromRequired({ changes, oldSchema, newSchema }) {
  return changes.map((change) => {
    if (change.type !== 'FIELD_ARGUMENT_DEFAULT_CHANGED' && change.type !== 'INPUT_FIELD_DEFAULT_VALUE_CHANGED') return change;
    const [before, after] = [lookUp(oldSchema, change.path), lookUp(newSchema, change.path)];
    const required = (input) => input && isNonNullType(input.type) && input.defaultValue === undefined;
    if (!before || !isNonNullType(before.type) || required(before) || !required(after)) return change;
    return {
      ...change,
      message: `'${change.path}' is now required: its default value was removed`,
      criticality: { level: CriticalityLevel.Breaking, reason: 'Clients that left the value out are refused.' },
    };
  });
}

/** The field, argument, input field or enum value a change's path names (`Type.field[.argument]`). */
function lookUp(schema, path = '') {
  const [typeName, member, argument] = path.split('.');
  const type = schema?.getType(typeName);
  if (!type || !member) return undefined;
  if (typeof type.getValues === 'function') return type.getValue(member);
  const field = typeof type.getFields === 'function' ? type.getFields()[member] : undefined;
  if (!argument) return field;
  return field?.args?.find((a) => a.name === argument);
}

/** Every change from the released API to the current one (the supergraphs' public schemas). */
export async function schemaChanges(releasedSdl, currentSdl) {
  const [released, current] = [apiSchema(releasedSdl), apiSchema(currentSdl)];
  const changes = await diff(released, current, [defaultRemovedFromRequired]);
  return { released, changes };
}

/** The accepted changes of breaking-changes.yaml, checked: `accepted` lists {change, path, reason}. */
export function parseAccepted(text) {
  const document = yaml.load(text) ?? {};
  const problems = [];
  if (typeof document !== 'object' || Array.isArray(document) || Object.keys(document).some((k) => k !== 'accepted')) {
    problems.push('expected a mapping with one key, `accepted`');
  }
  const accepted = document.accepted ?? [];
  if (!Array.isArray(accepted)) problems.push('`accepted` must be a list');
  const entries = Array.isArray(accepted) ? accepted : [];
  entries.forEach((entry, i) => {
    const keys = entry && typeof entry === 'object' ? Object.keys(entry).sort().join(',') : '';
    if (keys !== 'change,path,reason' || !['change', 'path', 'reason'].every((k) => typeof entry[k] === 'string' && entry[k].trim())) {
      problems.push(`accepted[${i}]: expected change, path and reason, each a non-empty string`);
    }
  });
  if (problems.length) throw new Error(`schema/breaking-changes.yaml: ${problems.join('; ')}`);
  return entries;
}

/**
 * The check: `released`, `current` (supergraph SDL) and `accepted` (the YAML text). Returns the breaking
 * changes, those not marked, marked removals the release had not deprecated, marked entries no change
 * matches any more (`stale`), and the dangerous changes (reported, not refused); `ok` when nothing is refused.
 */
export async function checkBreakingChanges({ released, current, accepted }) {
  const entries = parseAccepted(accepted);
  const { released: releasedApi, changes } = await schemaChanges(released, current);
  const key = (type, path) => `${type} ${path ?? ''}`;
  const marked = new Set(entries.map((e) => key(e.change, e.path)));
  const breaking = changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking);
  const unmarked = breaking.filter((c) => !marked.has(key(c.type, c.path)));
  const undeprecated = breaking.filter(
    (c) => marked.has(key(c.type, c.path)) && REMOVALS.has(c.type) && !lookUp(releasedApi, c.path)?.deprecationReason,
  );
  const found = new Set(breaking.map((c) => key(c.type, c.path)));
  const stale = entries.filter((e) => !found.has(key(e.change, e.path)));
  const dangerous = changes.filter((c) => c.criticality.level === CriticalityLevel.Dangerous);
  return { ok: !unmarked.length && !undeprecated.length && !stale.length, breaking, unmarked, undeprecated, stale, dangerous };
}

export function report(result) {
  const line = (c) => `    - ${c.type} ${c.path ?? ''}: ${c.message}`;
  const out = [];
  if (result.unmarked.length) out.push('  breaking, not marked as intended:', ...result.unmarked.map(line));
  if (result.undeprecated.length) {
    out.push('  removed without a release that deprecated it first (@deprecated, then remove):', ...result.undeprecated.map(line));
  }
  if (result.stale.length) {
    out.push('  marked, but no such change any more (remove the entry):', ...result.stale.map((e) => `    - ${e.change} ${e.path}`));
  }
  if (result.dangerous.length) out.push('  dangerous (allowed; check the clients):', ...result.dangerous.map(line));
  const head = result.ok
    ? `schema contract: ${result.breaking.length} breaking change(s) since the release, each marked as intended`
    : 'schema contract: breaking changes since the released supergraph (schema/supergraph.released.graphql)';
  const tail = result.ok
    ? []
    : [
        'Mark an intended breaking change in schema/breaking-changes.yaml (change, path, reason, as printed above);',
        'remove a field, argument or enum value only after a release that deprecated it (docs/portal.md, "Changing the schema").',
      ];
  return [head, ...out, ...tail].join('\n');
}

function option(name) {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

async function cli() {
  const files = {
    released: resolve(option('--released') ?? FILES.released),
    current: resolve(option('--current') ?? FILES.current),
    accepted: resolve(option('--accepted') ?? FILES.accepted),
  };
  if (process.argv.includes('--release')) {
    writeFileSync(files.released, readFileSync(files.current, 'utf8'));
    writeFileSync(files.accepted, `${ACCEPTED_HEADER}accepted: []\n`);
    console.log(`released: ${files.current} → ${files.released}; ${files.accepted} emptied`);
    return 0;
  }
  const result = await checkBreakingChanges({
    released: readFileSync(files.released, 'utf8'),
    current: readFileSync(files.current, 'utf8'),
    accepted: readFileSync(files.accepted, 'utf8'),
  });
  (result.ok ? console.log : console.error)(report(result));
  return result.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli().then(
    (code) => process.exit(code),
    (error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}
