// The few REST routes the gateway passes through to a service: the appeals service's evidence files — a
// download (GET /appeals/<appeal>/evidence/<file>, the `downloadPath` of an evidence file) and a multipart
// upload (POST /appeals/<appeal>/evidence). The caller's token is verified here, like for GraphQL, and again
// by the service, which applies the caller's scope. Bodies stream through; their size is limited before any of
// them is read (server.mjs). Everything else is GraphQL.
import { Readable } from 'node:stream';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const ROUTES = [
  { service: 'appeals', method: 'GET', pattern: new RegExp(`^/appeals/${UUID}/evidence/${UUID}$`) },
  { service: 'appeals', method: 'POST', pattern: new RegExp(`^/appeals/${UUID}/evidence$`) },
  // A run's reports (organizer side): the workbook and the printable PDF (not the HTML page: no service-made page is served from the gateway origin).
  { service: 'scoring', method: 'GET', pattern: new RegExp(`^/runs/${UUID}/report\\.(xlsx|pdf)$`) },
];

/** Whether a path is one of the REST routes' (any method): a browser's CORS preflight asks with OPTIONS. */
export function isRestPath(req) {
  const path = (req.url || '').split('?')[0];
  return ROUTES.some((r) => r.pattern.test(path));
}
// Request headers a service needs; nothing else of the client's goes through.
const REQUEST_HEADERS = ['authorization', 'content-type', 'content-length', 'accept', 'x-request-id', 'traceparent', 'tracestate'];
// Answer headers the client needs: the type, the attachment's name, its digest and the no-sniff guard.
// (A browser on a listed origin may read them: server.mjs adds the CORS headers of cors.mjs.)
const ANSWER_HEADERS = ['content-type', 'content-length', 'content-disposition', 'x-content-type-options', 'x-content-sha256'];

/** The REST route a request is for, or undefined (then it is GraphQL's, or nothing's). */
export function restRoute(req) {
  const path = (req.url || '').split('?')[0];
  return ROUTES.find((r) => r.method === req.method && r.pattern.test(path));
}

/** Where the REST routes' services listen: HOTLINE_<NAME>_URL, else the subgraph URL without /graphql. */
export function serviceUrls(env, subgraphs) {
  const urls = {};
  for (const { name, url } of subgraphs) urls[name] = url.replace(/\/graphql\/?$/, '');
  for (const name of new Set(ROUTES.map((r) => r.service))) {
    const given = env[`HOTLINE_${name.toUpperCase()}_URL`];
    if (given) urls[name] = given.replace(/\/$/, '');
  }
  return urls;
}

/** Verifies `Authorization: Bearer <jwt>` as the GraphQL path does (HS256 secret, or a JWKS for RS256/ES256). */
export function createTokenVerifier(s) {
  const key = s.jwksUrl ? createRemoteJWKSet(new URL(s.jwksUrl)) : new TextEncoder().encode(s.secret);
  const options = {
    algorithms: s.jwksUrl ? ['RS256', 'ES256'] : ['HS256'],
    ...(s.issuer ? { issuer: s.issuer } : {}),
    ...(s.audience ? { audience: s.audience } : {}),
  };
  return async (header) => {
    const [scheme, token] = (header || '').split(' ');
    if (scheme !== 'Bearer' || !token) throw new Error('missing bearer token');
    return (await jwtVerify(token, key, options)).payload;
  };
}

// The platform's REST error body ({"error": {code, message}}), as the services answer.
function answerError(req, res, status, code, message, headers = {}) {
  req.resume(); // an unread body is discarded, so the client sees the answer rather than a reset
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(JSON.stringify({ error: { code, message } }));
}

/** Pass a REST request through to its service, the body and the answer streamed. */
export async function passThrough(req, res, route, { urls, verify, take, log }) {
  const base = urls[route.service];
  if (!base) return answerError(req, res, 404, 'NOT_FOUND', `no ${route.service} service is configured`);
  let payload;
  try {
    payload = await verify(req.headers.authorization);
  } catch {
    return answerError(req, res, 401, 'UNAUTHENTICATED', 'missing or invalid bearer token (Authorization: Bearer <jwt>)');
  }
  const wait = take ? take(`sub:${payload.sub}`) : 0;
  if (wait > 0) {
    return answerError(req, res, 429, 'RATE_LIMITED', 'too many requests: slow down and retry later', {
      'retry-after': String(wait),
    });
  }
  const headers = {};
  for (const name of REQUEST_HEADERS) if (req.headers[name] !== undefined) headers[name] = req.headers[name];
  let upstream;
  try {
    upstream = await fetch(base + req.url, {
      method: req.method,
      headers,
      body: req.method === 'GET' ? undefined : Readable.toWeb(req),
      duplex: 'half',
      redirect: 'manual',
    });
  } catch (error) {
    log.warn({ error: String(error), service: route.service }, 'REST pass-through failed');
    return answerError(req, res, 502, 'SERVICE_UNAVAILABLE', `the ${route.service} service did not answer`);
  }
  res.statusCode = upstream.status;
  for (const name of ANSWER_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) res.setHeader(name, value);
  }
  if (!upstream.body) return res.end();
  Readable.fromWeb(upstream.body)
    .on('error', () => res.destroy())
    .pipe(res);
}
