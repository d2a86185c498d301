// hotline-eval gateway: Hive Gateway runtime over the composed supergraph, served with node:http.
import { createServer } from 'node:http';
import { createSecretKey, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { createGatewayRuntime, getGraphQLWSOptions } from '@graphql-hive/gateway-runtime';
import { ConsoleLogWriter, JSONLogWriter, Logger } from '@graphql-hive/logger';
import usePrometheus from '@graphql-mesh/plugin-prometheus';
import { collectDefaultMetrics, register } from 'prom-client';
import { GraphQLError } from 'graphql';
import {
  createInlineSigningKeyProvider,
  createRemoteJwksSigningKeyProvider,
  useJWT,
} from '@graphql-mesh/plugin-jwt-auth';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { composeToFile } from './compose.mjs';
import { corsOptions, corsPlugins, parseCorsOrigins, restCors } from './cors.mjs';
import { loadManifest, persistedDocumentsOptions } from './trusted-documents.mjs';
import { responseCachePlugins, responseCacheTtl } from './response-cache.mjs';
import { createTokenVerifier, isRestPath, passThrough, restRoute, serviceUrls } from './rest.mjs';

const env = process.env;

export function settings() {
  const secret = env.HOTLINE_JWT_SECRET;
  const jwksUrl = env.HOTLINE_JWKS_URL;
  if (!secret && !jwksUrl) throw new Error('set HOTLINE_JWT_SECRET (development) or HOTLINE_JWKS_URL (production)');
  return {
    host: env.HOTLINE_GATEWAY_HOST || '127.0.0.1',
    port: Number(env.HOTLINE_GATEWAY_PORT || 4000),
    development: (env.HOTLINE_ENV || 'production') === 'development',
    secret,
    jwksUrl,
    issuer: env.HOTLINE_JWT_ISSUER || undefined,
    audience: env.HOTLINE_JWT_AUDIENCE || undefined,
    maxDepth: Number(env.HOTLINE_GATEWAY_MAX_DEPTH || 12),
    maxTokens: Number(env.HOTLINE_GATEWAY_MAX_TOKENS || 2000),
    maxCost: Number(env.HOTLINE_GATEWAY_MAX_COST || 50000),
    // Aliases let one request ask the same field many times; directives likewise (@include/@skip spam).
    maxAliases: Number(env.HOTLINE_GATEWAY_MAX_ALIASES || 30),
    maxDirectives: Number(env.HOTLINE_GATEWAY_MAX_DIRECTIVES || 50),
    // Request bodies above this are refused with 413 before they are read (GraphQL documents are small).
    maxBodyBytes: Number(env.HOTLINE_GATEWAY_MAX_BODY_BYTES || 1024 * 1024),
    // A multipart body (a file upload: GraphQL multipart request, or appeals' REST evidence upload) may be
    // larger: a 10 MiB evidence file and its operation and form framing.
    maxUploadBytes: Number(env.HOTLINE_GATEWAY_MAX_UPLOAD_BYTES || 11 * 1024 * 1024),
    // Per-client rate limit (token bucket: HOTLINE_GATEWAY_RATE_LIMIT operations a second, bursts of
    // HOTLINE_GATEWAY_RATE_BURST), keyed by the verified token subject, else the client IP. In memory,
    // per replica: N replicas admit N times the rate (a shared store such as Redis is needed for an
    // exact global limit). 0 = off; off by default in development and tests, 20/s (burst 40) in production.
    rateLimit: Number(
      env.HOTLINE_GATEWAY_RATE_LIMIT ?? ((env.HOTLINE_ENV || 'production') === 'production' ? 20 : 0),
    ),
    rateBurst: Number(env.HOTLINE_GATEWAY_RATE_BURST || 0) || undefined,
    // Logs: JSON lines outside development (HOTLINE_LOG_FORMAT=json|console), level HOTLINE_LOG_LEVEL.
    logFormat: env.HOTLINE_LOG_FORMAT || ((env.HOTLINE_ENV || 'production') === 'development' ? 'console' : 'json'),
    logLevel: (env.HOTLINE_LOG_LEVEL || 'info').toLowerCase(),
    metricsPath: env.HOTLINE_GATEWAY_METRICS_PATH || '/metrics',
    // Production: metrics on their own port (reachable by Prometheus only, per NetworkPolicy), not on
    // the public one. Unset: served at metricsPath on the gateway's port (development, tests).
    metricsPort: env.HOTLINE_GATEWAY_METRICS_PORT ? Number(env.HOTLINE_GATEWAY_METRICS_PORT) : undefined,
    // Traces (off by default), as for the services: none | otlp (OTLP/HTTP to HOTLINE_OTEL_ENDPOINT) | console.
    otelExporter: env.HOTLINE_OTEL_EXPORTER || 'none',
    otelEndpoint: env.HOTLINE_OTEL_ENDPOINT || undefined,
    // CORS: the exact origins a browser may call from (comma-separated); none by default (cors.mjs).
    corsOrigins: parseCorsOrigins(env.HOTLINE_GATEWAY_CORS_ORIGINS),
    // Trusted documents: with a manifest, only its operations run, sent by hash (trusted-documents.mjs).
    trustedDocuments: env.HOTLINE_GATEWAY_TRUSTED_DOCUMENTS || undefined,
    // Answers that read results, kept per caller this many ms (response-cache.mjs); 0 = off.
    responseCacheTtlMs: responseCacheTtl(env),
    // Each answer says whether it came from the cache (extensions.responseCache): for tests and diagnosis only.
    responseCacheMetadata: env.HOTLINE_GATEWAY_RESPONSE_CACHE_METADATA === '1',
  };
}

// One logger for the process; every line carries service=gateway, and the runtime's per-request
// child loggers add the request id (its requestId plugin reads the x-request-id header).
export function createLogger(s) {
  const writer = s.logFormat === 'json' ? new JSONLogWriter() : new ConsoleLogWriter();
  return new Logger({ level: s.logLevel, writers: [writer], attrs: { service: 'gateway' } });
}

let defaultMetricsCollected = false;

// OpenTelemetry through Hive's plugin, loaded only when traces are on: its packages are optional
// dependencies (an image built without them is ~110 MB smaller). Spans cover the HTTP request, the
// GraphQL phases and every subgraph call, which carries the W3C traceparent of the gateway's span.
export async function tracingPlugins(s, log) {
  if (s.otelExporter === 'none') return [];
  if (!['otlp', 'console'].includes(s.otelExporter)) {
    throw new Error(`HOTLINE_OTEL_EXPORTER must be none, otlp or console, not ${JSON.stringify(s.otelExporter)}`);
  }
  let setup, plugin, contextHooks, otlp;
  try {
    [setup, plugin, contextHooks, otlp] = await Promise.all([
      import('@graphql-hive/plugin-opentelemetry/setup'),
      import('@graphql-hive/plugin-opentelemetry'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/exporter-trace-otlp-http'),
    ]);
  } catch (error) {
    throw new Error(
      `HOTLINE_OTEL_EXPORTER=${s.otelExporter} needs the optional OpenTelemetry packages (npm ci without --omit=optional): ${error.message}`,
    );
  }
  setup.openTelemetrySetup({
    contextManager: new contextHooks.AsyncLocalStorageContextManager(),
    resource: { serviceName: 'hotline-gateway' },
    traces:
      s.otelExporter === 'otlp'
        ? { exporter: new otlp.OTLPTraceExporter(s.otelEndpoint ? { url: s.otelEndpoint } : {}) }
        : { console: true },
    log,
  });
  return [plugin.useOpenTelemetry({ traces: true, inheritContext: true, propagateContext: true })];
}

// The JWT plugin only verifies (reject: false); this refuses any operation without a valid token,
// with the error code the services use, so a client sees one contract whichever part answered.
function useRequireAuthentication() {
  const check = {
    onExecute({ args, setResultAndStopExecution }) {
      if (!args.contextValue?.jwt?.payload) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError('missing or invalid bearer token (Authorization: Bearer <jwt>)', {
              extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
            }),
          ],
        });
      }
    },
  };
  // A subscription does not execute, it subscribes: refused alike.
  return { ...check, onSubscribe: check.onExecute };
}

// A token bucket per key: `take(key)` returns 0 when admitted, else the seconds until a token is back.
export function createRateLimiter({ rate, burst = rate * 2, now = () => Date.now(), maxKeys = 100000 }) {
  const buckets = new Map();
  return function take(key) {
    const t = now();
    let bucket = buckets.get(key);
    if (!bucket) {
      if (buckets.size >= maxKeys) {
        // Forget the buckets that have refilled anyway (they admit as a fresh one would).
        for (const [k, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * rate >= burst) buckets.delete(k);
        if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value);
      }
      bucket = { tokens: burst, at: t };
      buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * rate);
    bucket.at = t;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
  };
}

// Runs after the JWT plugin: a verified subject is the client; without one, the peer address.
function useRateLimit(s) {
  const take = createRateLimiter({ rate: s.rateLimit, burst: s.rateBurst ?? s.rateLimit * 2 });
  const admit = {
    onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue ?? {};
      const subject = ctx.jwt?.payload?.sub;
      const key = subject ? `sub:${subject}` : `ip:${ctx.req?.socket?.remoteAddress ?? 'unknown'}`;
      const wait = take(key);
      if (wait > 0) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError('too many requests: slow down and retry later', {
              extensions: {
                code: 'RATE_LIMITED',
                retryAfterSeconds: wait,
                http: { status: 429, headers: { 'retry-after': String(wait) } },
              },
            }),
          ],
        });
      }
    },
  };
  // A subscribe is an operation too (and holds a subgraph stream for as long as it lasts).
  return { ...admit, onSubscribe: admit.onExecute };
}

// ---- Live updates (GraphQL subscriptions) -------------------------------------------------------------------------
// Clients subscribe over server-sent events (POST /graphql with `Accept: text/event-stream`) or graphql-ws (a
// WebSocket on /graphql, the token in `connectionParams.authorization`). The gateway subscribes to the subgraph that
// owns the field over server-sent events, as a POST like any other request with the client's token forwarded in
// Authorization (each subgraph verifies it and scopes every event), and ends the subscription with UNAUTHENTICATED
// when the token that opened it expires.

// Every subgraph: subscriptions over the HTTP transport as server-sent events, POSTed (the document in the body).
export const SUBSCRIPTION_TRANSPORT = {
  '*': { options: { subscriptions: { kind: 'http', options: { method: 'POST' } } } },
};

const EXPIRED = Symbol('expired');
const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout's limit (~24.8 days): longer waits are re-armed

/** `source`'s results until the time `expiresAtMs` (ms since the epoch); then `expired()` as the last result, and the
 * source is closed (which closes the subgraph's stream). */
export function untilExpiry(source, expiresAtMs, expired, now = Date.now) {
  const iterator = source[Symbol.asyncIterator]();
  let timer;
  let ended = false;
  let hasExpired = false;
  let wake; // resolves the pending next() at expiry (a promise per call: racing one long-lived promise would leak)
  const arm = () => {
    const left = expiresAtMs - now();
    if (left > 0) timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    else {
      hasExpired = true;
      wake?.(EXPIRED);
    }
  };
  arm();
  const end = () => {
    ended = true;
    clearTimeout(timer);
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (ended) return { done: true, value: undefined };
      const step = hasExpired
        ? EXPIRED
        : await Promise.race([iterator.next(), new Promise((resolve) => (wake = resolve))]);
      wake = undefined;
      if (step === EXPIRED) {
        end();
        Promise.resolve(iterator.return?.()).catch(() => {});
        return { done: false, value: expired() };
      }
      if (step.done) end();
      return step;
    },
    async return(value) {
      end();
      await iterator.return?.();
      return { done: true, value };
    },
    async throw(error) {
      end();
      if (iterator.throw) return iterator.throw(error);
      throw error;
    },
  };
}

function tokenExpired(exp) {
  const at = new Date(exp * 1000).toISOString().replace('.000Z', 'Z');
  return new GraphQLError(`the token expired at ${at}: the subscription ended; subscribe again with a new token`, {
    extensions: { code: 'UNAUTHENTICATED' },
  });
}

// After useRequireAuthentication: a subscription lives as long as the verified token that opened it.
function useSubscriptionExpiry() {
  return {
    onSubscribe({ args }) {
      const exp = args.contextValue?.jwt?.payload?.exp;
      if (typeof exp !== 'number') return undefined;
      return {
        onSubscribeResult({ result, setResult }) {
          if (typeof result?.[Symbol.asyncIterator] === 'function') {
            setResult(untilExpiry(result, exp * 1000, () => ({ errors: [tokenExpired(exp)] })));
          }
        },
      };
    },
  };
}

// The WebSocket's upgrade request stands for each operation sent over it, with the connection's token.
function operationRequest(gateway, ctx) {
  const upgrade = ctx.extra.request;
  const headers = new gateway.fetchAPI.Headers();
  const params = ctx.connectionParams ?? {};
  const authorization = params.authorization ?? params.Authorization ?? upgrade.headers.authorization;
  if (typeof authorization === 'string') headers.set('authorization', authorization);
  for (const name of ['x-request-id', 'traceparent', 'tracestate', 'user-agent']) {
    if (typeof upgrade.headers[name] === 'string') headers.set(name, upgrade.headers[name]);
  }
  if (!headers.has('x-request-id')) headers.set('x-request-id', randomUUID().replaceAll('-', ''));
  return new gateway.fetchAPI.Request('http://gateway/graphql', { headers });
}

/** graphql-ws (`graphql-transport-ws`) on the gateway's server at /graphql: every operation sent over a socket runs
 * through the gateway's plugins as an HTTP request would (token verified, limits, subscription expiry). */
export function serveGraphQLWS(server, gateway, s, log) {
  const wsServer = new WebSocketServer({ server, path: '/graphql', maxPayload: s.maxBodyBytes });
  useServer(
    getGraphQLWSOptions(gateway, (ctx) => ({
      req: ctx.extra.request,
      socket: ctx.extra.socket,
      request: operationRequest(gateway, ctx),
    })),
    wsServer,
  );
  wsServer.on('connection', (socket) => {
    const started = process.hrtime.bigint();
    socket.on('close', (code) => {
      const duration_ms = Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
      log.info({ path: '/graphql', protocol: 'graphql-ws', close_code: code, duration_ms }, 'websocket');
    });
  });
  return wsServer;
}
// ---- end of live updates -------------------------------------------------------------------------------------------

export function createGateway(supergraph, s = settings(), log = createLogger(s), extraPlugins = []) {
  if (!defaultMetricsCollected) {
    // Node process metrics (CPU, memory, event-loop lag) beside the GraphQL ones.
    collectDefaultMetrics({ register });
    defaultMetricsCollected = true;
  }
  const signingKeyProviders = s.jwksUrl
    ? [createRemoteJwksSigningKeyProvider({ jwksUri: s.jwksUrl, cache: true, rateLimit: true })]
    : // A KeyObject made once: given the secret as a string, jsonwebtoken first tries it as a public key (which
      // throws) and then makes a secret key of it, on every request.
      [createInlineSigningKeyProvider(createSecretKey(Buffer.from(s.secret)))];
  return createGatewayRuntime({
    supergraph,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    readinessCheckEndpoint: '/readyz',
    landingPage: false,
    cors: corsOptions(s.corsOrigins),
    ...(s.trustedDocuments && { persistedDocuments: persistedDocumentsOptions(loadManifest(s.trustedDocuments)) }),
    logging: log,
    graphiql: s.development ? { title: 'hotline-eval' } : false,
    // GraphiQL's scripts, styles and editor workers inlined in its page (no CDN): it works on an isolated network.
    // Loaded on first use, and only where GraphiQL is served (development).
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    maskedErrors: !s.development,
    // The client's token, request id and trace context go on to every subgraph; each verifies the token again.
    propagateHeaders: {
      fromClientToSubgraphs({ request }) {
        const headers = { 'x-request-id': request.headers.get('x-request-id') ?? '' };
        const authorization = request.headers.get('authorization');
        if (authorization) headers.authorization = authorization;
        // W3C trace context: a trace begun by the client (or a tracing ingress) continues in the subgraphs.
        // With the gateway's own tracing on, its plugin sends the gateway's span instead.
        if (s.otelExporter === 'none') {
          for (const name of ['traceparent', 'tracestate']) {
            const value = request.headers.get(name);
            if (value) headers[name] = value;
          }
        }
        return headers;
      },
    },
    // Subscriptions reach the subgraphs as server-sent events (see "Live updates" above).
    transportEntries: SUBSCRIPTION_TRANSPORT,
    // Identical in-flight subgraph requests are merged by default, but only with identical headers: each request's
    // own x-request-id (above) keeps them apart unless clients send the same id (gateway/README.md).
    demandControl: { maxCost: s.maxCost, listSize: 50 },
    // The GraphQL multipart request spec: files as `Upload` variables, passed on to the subgraph as multipart.
    // Tokens travel in the Authorization header, never in cookies, so a cross-site form carries no credentials.
    multipart: true,
    plugins: () => [
      ...extraPlugins,
      ...corsPlugins(s.corsOrigins),
      useJWT({
        signingKeyProviders,
        tokenVerification: {
          algorithms: s.jwksUrl ? ['RS256', 'ES256'] : ['HS256'],
          issuer: s.issuer,
          audience: s.audience,
        },
        reject: { missingToken: false, invalidToken: false },
      }),
      ...(s.rateLimit > 0 ? [useRateLimit(s)] : []),
      maxDepthPlugin({ n: s.maxDepth, flattenFragments: true }),
      maxTokensPlugin({ n: s.maxTokens }),
      maxAliasesPlugin({ n: s.maxAliases }),
      maxDirectivesPlugin({ n: s.maxDirectives }),
      ...(s.development ? [] : [blockFieldSuggestionsPlugin()]),
      useRequireAuthentication(),
      useSubscriptionExpiry(),
      // Answers with results, per caller (subject, unit, roles), for a short time (response-cache.mjs).
      ...responseCachePlugins({ ttlMs: s.responseCacheTtlMs, metadata: s.responseCacheMetadata }),
      // Prometheus at /metrics: requests, durations and errors by operation; subgraph calls by subgraph.
      usePrometheus({
        endpoint: s.metricsPort ? false : s.metricsPath,
        registry: register,
        // The plugin lays this list over its own defaults, so what is not wanted is switched off by name: a
        // request-time Summary (t-digest quantiles updated on every request, repeating what
        // graphql_envelop_request_duration's histogram gives), the context and subscribe phases, the schema-change
        // counter.
        metrics: {
          graphql_envelop_request_time_summary: false,
          graphql_envelop_phase_context: false,
          graphql_envelop_phase_subscribe: false,
          graphql_envelop_schema_change: false,
          graphql_envelop_execute_resolver: false,
          // Which deprecated fields clients still select (docs/portal.md: a field is removed only when unused).
          graphql_envelop_deprecated_field: true,
          graphql_envelop_request: true,
          graphql_envelop_request_duration: true,
          graphql_envelop_error_result: true,
          graphql_envelop_phase_parse: true,
          graphql_envelop_phase_validate: true,
          graphql_envelop_phase_execute: true,
          graphql_yoga_http_duration: true,
          graphql_gateway_fetch_duration: true,
          graphql_gateway_subgraph_execute_duration: true,
          graphql_gateway_subgraph_execute_errors: true,
        },
      }),
    ],
  });
}

// The Prometheus registry (the plugin's and the Node process metrics) on a port of its own.
function serveMetrics(s, log) {
  const metricsServer = createServer(async (req, res) => {
    if ((req.url || '').split('?')[0] !== s.metricsPath) {
      res.statusCode = 404;
      return res.end();
    }
    try {
      const body = await register.metrics();
      res.setHeader('content-type', register.contentType);
      res.end(body);
    } catch (error) {
      log.error({ error: String(error) }, 'metrics collection failed');
      res.statusCode = 500;
      res.end();
    }
  });
  metricsServer.listen(s.metricsPort, s.host, () => {
    log.info({ url: `http://${s.host}:${s.metricsPort}${s.metricsPath}` }, 'metrics serving');
  });
  return metricsServer;
}

function isMultipart(req) {
  return /^multipart\/form-data\b/i.test(req.headers['content-type'] || '');
}

function refuse(req, res, status, message) {
  // The body is discarded unread (not parsed, not buffered) so the client sees the answer rather than
  // a reset connection; a client still sending after 5 s is cut off.
  req.resume();
  const cutOff = setTimeout(() => req.socket.destroy(), 5000);
  cutOff.unref();
  req.on('end', () => clearTimeout(cutOff));
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: status === 413 ? 'PAYLOAD_TOO_LARGE' : 'LENGTH_REQUIRED' } }] }));
}

export async function main() {
  const s = settings();
  let supergraph;
  let subgraphs;
  try {
    ({ sdl: supergraph, subgraphs } = await composeToFile());
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
  const log = createLogger(s);
  let tracing;
  try {
    tracing = await tracingPlugins(s, log);
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
  const gateway = createGateway(supergraph, s, log, tracing);
  // Load the supergraph now: an HTTP request would load it on its way in, an operation over graphql-ws would not.
  await gateway.getSchema();
  const rest = {
    urls: serviceUrls(env, subgraphs),
    verify: createTokenVerifier(s),
    take: s.rateLimit > 0 ? createRateLimiter({ rate: s.rateLimit, burst: s.rateBurst ?? s.rateLimit * 2 }) : null,
    log,
  };
  const quiet = new Set(['/healthz', '/readyz', s.metricsPath]);
  const server = createServer((req, res) => {
    // A request id follows the request through every service; adopt the client's or make one.
    const requestId = req.headers['x-request-id'] || randomUUID().replaceAll('-', '');
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const path = (req.url || '').split('?')[0];
      const line = {
        request_id: requestId,
        method: req.method,
        path,
        status: res.statusCode,
        duration_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10,
      };
      if (quiet.has(path)) log.debug(line, 'request');
      else log.info(line, 'request');
    });
    // Oversized bodies are refused before a byte is read; a body must declare its length.
    const limit = isMultipart(req) ? s.maxUploadBytes : s.maxBodyBytes;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      return refuse(req, res, 413, `request body larger than ${limit} bytes`);
    }
    if (declared === undefined && req.headers['transfer-encoding'] && req.method !== 'GET') {
      return refuse(req, res, 411, 'a request body must carry Content-Length');
    }
    if (isRestPath(req) && restCors(s.corsOrigins, req, res)) return undefined; // a preflight, answered
    const route = restRoute(req);
    if (route) return passThrough(req, res, route, rest);
    return gateway(req, res);
  });
  server.listen(s.port, s.host, () => {
    log.info({ url: `http://${s.host}:${s.port}/graphql` }, 'hotline-eval gateway serving');
  });
  const metricsServer = s.metricsPort ? serveMetrics(s, log) : undefined;
  const wsServer = serveGraphQLWS(server, gateway, s, log);
  const stop = () => {
    metricsServer?.close();
    for (const socket of wsServer.clients) socket.close(1001, 'gateway stopping');
    wsServer.close();
    server.close(() => gateway.dispose().finally(() => process.exit(0)));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
