// The breaking-change check of the schema contract: the committed supergraph against the released one,
// and deliberate changes on copies showing what it refuses and what marking lets through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse, parseType, print, visit } from 'graphql';
import { FILES, checkBreakingChanges, report } from '../breaking-changes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const RELEASED = readFileSync(FILES.released, 'utf8');
const NONE = 'accepted: []\n';

// Deliberate changes, made on the released supergraph's AST.
function editField(sdl, typeName, fieldName, edit) {
  let found = false;
  const document = visit(parse(sdl), {
    enter(node) {
      if (![Kind.OBJECT_TYPE_DEFINITION, Kind.ENUM_TYPE_DEFINITION].includes(node.kind) || node.name.value !== typeName) return undefined;
      const key = node.kind === Kind.ENUM_TYPE_DEFINITION ? 'values' : 'fields';
      const members = node[key].flatMap((member) => {
        if (member.name.value !== fieldName) return [member];
        found = true;
        return edit(member);
      });
      return { ...node, [key]: members };
    },
  });
  assert.ok(found, `${typeName}.${fieldName} is not in the supergraph: the test needs another example`);
  return print(document);
}
const remove = () => [];
const retype = (type) => (field) => [{ ...field, type: parseType(type) }];
const deprecate = (member) => [
  { ...member, directives: [...member.directives, parse('type T { f: Int @deprecated(reason: "use nameZh") }').definitions[0].fields[0].directives[0]] },
];
const editArgument = (name, edit) => (field) => [{ ...field, arguments: field.arguments.map((a) => (a.name.value === name ? edit(a) : a)) }];
const addArgument = (definition) => (field) => [
  { ...field, arguments: [...field.arguments, parse(`type T { f(${definition}): Int }`).definitions[0].fields[0].arguments[0]] },
];
const mark = (...entries) => `accepted:\n${entries.map(([change, path]) => `  - change: ${change}\n    path: ${path}\n    reason: a deliberate change in a test\n`).join('')}`;
const check = (current, accepted = NONE, released = RELEASED) => checkBreakingChanges({ released, current, accepted });
const names = (changes) => changes.map((c) => `${c.type} ${c.path}`);

test('the committed supergraph has no breaking change against the release that is not marked as intended', async () => {
  const result = await check(readFileSync(FILES.current, 'utf8'), readFileSync(FILES.accepted, 'utf8'));
  assert.ok(result.ok, report(result));
});

test('a removed field fails the check; marked, it still needs a release that deprecated it first', async () => {
  const removed = editField(RELEASED, 'Unit', 'nameEn', remove);
  const unmarked = await check(removed);
  assert.equal(unmarked.ok, false);
  assert.deepEqual(names(unmarked.unmarked), ['FIELD_REMOVED Unit.nameEn']);
  assert.match(report(unmarked), /FIELD_REMOVED Unit\.nameEn/);
  assert.match(report(unmarked), /schema\/breaking-changes\.yaml/);

  const markedOnly = await check(removed, mark(['FIELD_REMOVED', 'Unit.nameEn']));
  assert.equal(markedOnly.ok, false);
  assert.deepEqual(names(markedOnly.undeprecated), ['FIELD_REMOVED Unit.nameEn']);
  assert.match(report(markedOnly), /deprecated it first/);

  // The release deprecated it: marked, the removal passes; unmarked, it still fails.
  const deprecatedRelease = editField(RELEASED, 'Unit', 'nameEn', deprecate);
  const afterDeprecation = await check(removed, mark(['FIELD_REMOVED', 'Unit.nameEn']), deprecatedRelease);
  assert.ok(afterDeprecation.ok, report(afterDeprecation));
  assert.equal((await check(removed, NONE, deprecatedRelease)).ok, false);
});

test('retyped fields, an output made nullable and a removed enum value are breaking until marked', async () => {
  let changed = editField(RELEASED, 'UnitResult', 'rankChange', retype('String'));
  changed = editField(changed, 'UnitResult', 'unit', retype('Unit'));
  changed = editField(changed, 'AppealStatus', 'WITHDRAWN', remove);
  const result = await check(changed);
  assert.deepEqual(names(result.unmarked).sort(), [
    'ENUM_VALUE_REMOVED AppealStatus.WITHDRAWN',
    'FIELD_TYPE_CHANGED UnitResult.rankChange',
    'FIELD_TYPE_CHANGED UnitResult.unit',
  ]);
  // The enum value was not deprecated in the release: marking the retypes is enough for them, not for it.
  const marked = await check(
    changed,
    mark(['FIELD_TYPE_CHANGED', 'UnitResult.rankChange'], ['FIELD_TYPE_CHANGED', 'UnitResult.unit'], ['ENUM_VALUE_REMOVED', 'AppealStatus.WITHDRAWN']),
  );
  assert.deepEqual(names(marked.unmarked), []);
  assert.deepEqual(names(marked.undeprecated), ['ENUM_VALUE_REMOVED AppealStatus.WITHDRAWN']);
});

test('arguments made required are breaking: a new required argument, optional to required, a default removed', async () => {
  let changed = editField(RELEASED, 'Query', 'me', addArgument('x: Int!'));
  changed = editField(changed, 'Query', 'appeals', editArgument('runId', (a) => ({ ...a, type: parseType('ID!'), defaultValue: undefined })));
  // GraphQL Inspector rates this one only "dangerous"; the check's own rule makes it breaking.
  changed = editField(changed, 'Query', 'appealInbox', editArgument('unreadOnly', (a) => ({ ...a, defaultValue: undefined })));
  const result = await check(changed);
  assert.deepEqual(names(result.unmarked).sort(), [
    'FIELD_ARGUMENT_ADDED Query.me.x',
    'FIELD_ARGUMENT_DEFAULT_CHANGED Query.appealInbox.unreadOnly',
    'FIELD_ARGUMENT_TYPE_CHANGED Query.appeals.runId',
  ]);
  const marked = await check(
    changed,
    mark(
      ['FIELD_ARGUMENT_ADDED', 'Query.me.x'],
      ['FIELD_ARGUMENT_DEFAULT_CHANGED', 'Query.appealInbox.unreadOnly'],
      ['FIELD_ARGUMENT_TYPE_CHANGED', 'Query.appeals.runId'],
    ),
  );
  assert.ok(marked.ok, report(marked));
});

test('additions and deprecations are not breaking; a changed default of an optional argument is only dangerous', async () => {
  let changed = editField(RELEASED, 'Unit', 'nameEn', (field) => [field, { ...field, name: { kind: Kind.NAME, value: 'shortName' }, type: parseType('String') }]);
  changed = editField(changed, 'Unit', 'nameEn', deprecate);
  changed = editField(changed, 'Query', 'appealInbox', editArgument('first', (a) => ({ ...a, defaultValue: { kind: Kind.INT, value: '20' } })));
  const result = await check(changed);
  assert.ok(result.ok, report(result));
  assert.deepEqual(result.breaking, []);
  assert.deepEqual(names(result.dangerous), ['FIELD_ARGUMENT_DEFAULT_CHANGED Query.appealInbox.first']);
});

test('a marked change that no longer happens is refused, and so is a malformed list', async () => {
  const stale = await check(RELEASED, mark(['FIELD_REMOVED', 'Unit.nameEn']));
  assert.equal(stale.ok, false);
  assert.deepEqual(stale.stale.map((e) => e.path), ['Unit.nameEn']);
  assert.match(report(stale), /remove the entry/);
  await assert.rejects(check(RELEASED, 'accepted:\n  - change: FIELD_REMOVED\n    path: Unit.nameEn\n'), /change, path and reason/);
  await assert.rejects(check(RELEASED, 'accepted: {}\n'), /must be a list/);
  await assert.rejects(check(RELEASED, 'acepted: []\n'), /one key, `accepted`/);
});

test('the command exits 1 naming the change, and a release makes the current supergraph the baseline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schema-contract-'));
  const files = { released: join(dir, 'released.graphql'), current: join(dir, 'current.graphql'), accepted: join(dir, 'accepted.yaml') };
  writeFileSync(files.released, RELEASED);
  writeFileSync(files.current, editField(RELEASED, 'Unit', 'nameEn', remove));
  writeFileSync(files.accepted, NONE);
  const run = (...extra) =>
    spawnSync(process.execPath, [join(here, '..', 'breaking-changes.mjs'), '--released', files.released, '--current', files.current, '--accepted', files.accepted, ...extra], { encoding: 'utf8' });
  const refused = run();
  assert.equal(refused.status, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /FIELD_REMOVED Unit\.nameEn/);

  const released = run('--release');
  assert.equal(released.status, 0, released.stderr);
  assert.equal(readFileSync(files.released, 'utf8'), readFileSync(files.current, 'utf8'));
  assert.match(readFileSync(files.accepted, 'utf8'), /^accepted: \[\]$/m);
  const passes = run();
  assert.equal(passes.status, 0, passes.stderr);
});
