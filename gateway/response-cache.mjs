// The gateway's response cache: answers that read evaluation results, kept per caller for a short time.
//
// A published revision's results never change (a recomputation or an appeal's decision makes a new revision), and a
// portal asks for the same ranking, result and unit list over and over. The gateway keeps such answers in memory
// (@envelop/response-cache), keyed by the operation, its variables and the caller: the token's subject, unit and
// roles (the caller's scope decides what each subgraph answers, so an answer is never served to another caller).
//
// What is cached: only answers that contain a result (`UnitResult`), for `ttlMs` (HOTLINE_GATEWAY_RESPONSE_CACHE_TTL_MS,
// default 5000; 0 = off); an answer that also asks for a run's moving parts (status, progress, revision, publication)
// is not cached at all, nor are errors, mutations or subscriptions, nor requests without a verified token.
// What invalidates: any mutation through this gateway empties the cache at once (a publication, a recomputation, an
// appeal's decision go through mutations); a revision the worker finishes later, or a change made behind the gateway,
// shows within the TTL. Each replica keeps its own cache.
import { createInMemoryCache, useResponseCache } from '@envelop/response-cache';
import { TypeInfo, getNamedType, visit, visitWithTypeInfo } from 'graphql';

const CACHED_TYPE = 'UnitResult';
const candidates = new WeakMap(); // document → whether it selects a result anywhere (documents are reused)

/** Whether an operation can give a cacheable answer: it selects a field of type `UnitResult` somewhere. The others
 * skip the cache altogether (no key to hash, no answer to walk), so they pay nothing for it. */
export function selectsResults(schema, document) {
  if (!schema || !document) return false;
  let known = candidates.get(document);
  if (known === undefined) {
    known = false;
    const typeInfo = new TypeInfo(schema);
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Field() {
          if (getNamedType(typeInfo.getType())?.name === CACHED_TYPE) known = true;
        },
      }),
    );
    candidates.set(document, known);
  }
  return known;
}

export function responseCacheTtl(env) {
  const raw = env.HOTLINE_GATEWAY_RESPONSE_CACHE_TTL_MS;
  const ttl = raw === undefined || raw === '' ? 5000 : Number(raw);
  if (!Number.isFinite(ttl) || ttl < 0) {
    throw new Error(`HOTLINE_GATEWAY_RESPONSE_CACHE_TTL_MS must be a number of milliseconds ≥ 0, not ${JSON.stringify(raw)}`);
  }
  return ttl;
}

// The parts of a run that move while results stay (a run being computed, published, settled): never cached.
export const MOVING_FIELDS = [
  'status', 'progress', 'error', 'currentRevision', 'finishedAt', 'publishedAt', 'appealWindowClosesAt', 'final',
  'revisions', 'awaitingExpertScores', 'expertScoresNotInRevision',
].map((field) => `EvaluationRun.${field}`);

/** The caller's cache partition: subject, unit and roles of the verified token; null without one (not cached). */
export function callerKey(context) {
  const payload = context?.jwt?.payload;
  if (!payload || typeof payload.sub !== 'string' || typeof payload.unit_id !== 'string') return null;
  const roles = Array.isArray(payload.roles) ? [...payload.roles].map(String).sort() : [];
  return JSON.stringify([payload.sub, payload.unit_id, roles]);
}

/** Plugins: the response cache and the mutation watcher that empties it. `[]` when `ttlMs` is 0. */
export function responseCachePlugins({ ttlMs, metadata = false }) {
  if (!(ttlMs > 0)) return [];
  let store = createInMemoryCache({ max: 5000 });
  // A cache whose contents can be dropped at once (the plugin holds this object, we swap what is behind it).
  const cache = {
    get: (key) => store.get(key),
    set: (key, value, entities, ttl) => store.set(key, value, entities, ttl),
    invalidate: (entities) => store.invalidate(entities),
  };
  const ttlPerSchemaCoordinate = { UnitResult: ttlMs };
  for (const coordinate of MOVING_FIELDS) ttlPerSchemaCoordinate[coordinate] = 0;
  const CANDIDATE = Symbol('responseCacheCandidate');
  const emptyOnMutation = {
    onExecute({ args }) {
      const operation = args.document?.definitions?.find(
        (d) => d.kind === 'OperationDefinition' && (!args.operationName || d.name?.value === args.operationName),
      );
      if (operation?.operation === 'query' && args.contextValue) {
        args.contextValue[CANDIDATE] = selectsResults(args.schema, args.document);
      }
      if (operation?.operation !== 'mutation') return undefined;
      // Before and after: nothing cached while the mutation runs survives it.
      store = createInMemoryCache({ max: 5000 });
      return {
        onExecuteDone() {
          store = createInMemoryCache({ max: 5000 });
        },
      };
    },
  };
  return [
    emptyOnMutation,
    useResponseCache({
      cache,
      ttl: 0, // only what ttlPerSchemaCoordinate allows
      ttlPerSchemaCoordinate,
      session: callerKey,
      enabled: (context) => context?.[CANDIDATE] === true && callerKey(context) !== null,
      invalidateViaMutation: false, // every mutation empties the cache (above)
      includeExtensionMetadata: metadata,
    }),
  ];
}
