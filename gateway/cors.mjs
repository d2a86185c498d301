// CORS from configuration: HOTLINE_GATEWAY_CORS_ORIGINS, a comma-separated allowlist of exact origins
// (`https://portal.example.gov.cn,http://localhost:5173`). Default, in every environment: none — no
// cross-origin browser may read an answer (GraphiQL is served from the gateway itself and needs none).
//
// The runtime's own CORS (`cors` of Hive Gateway / GraphQL Yoga) is given, per request, either the
// request's origin when it is on the list, or `false`: its defaults would reflect any origin with
// credentials, and with two or more listed origins it answers an unlisted one (even `Origin: null`, a
// sandboxed page) with `Access-Control-Allow-Origin: null` and credentials.

// What a browser may send and read cross-origin (beyond the CORS-safelisted headers).
const ALLOWED_HEADERS = ['authorization', 'content-type', 'accept', 'x-request-id', 'traceparent', 'tracestate'];
const EXPOSED_HEADERS = ['x-request-id', 'retry-after'];

/** The allowlist, each entry an exact `scheme://host[:port]` origin; throws on anything else (`*`, paths). */
export function parseCorsOrigins(value = '') {
  const origins = [];
  for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    let url;
    try {
      url = new URL(entry);
    } catch {
      url = undefined;
    }
    // Only an origin: no path, query, fragment or credentials. Stored as URL.origin, the browser's own
    // serialisation of an Origin header (lower case, no default port).
    const origin = url && ['http:', 'https:'].includes(url.protocol) && url.pathname === '/' && !url.search && !url.hash;
    if (!origin || url.username || url.password) {
      throw new Error(
        `HOTLINE_GATEWAY_CORS_ORIGINS: ${JSON.stringify(entry)} is not an origin; list exact origins such as https://portal.example.gov.cn (no wildcard, path or credentials)`,
      );
    }
    origins.push(url.origin);
  }
  return origins;
}

/** The runtime's `cors` setting for an allowlist: the listed origin with credentials, else no CORS headers at all. */
export function corsOptions(origins) {
  if (!origins.length) return false;
  const allowed = new Set(origins);
  return (request) => {
    const origin = request.headers.get('origin');
    if (!origin || !allowed.has(origin)) return false;
    return {
      origin,
      credentials: true,
      methods: ['GET', 'POST'],
      allowedHeaders: ALLOWED_HEADERS,
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    };
  };
}

/** With an allowlist the answer depends on the Origin header: say so to every cache (`Vary: Origin`). */
export function corsPlugins(origins) {
  if (!origins.length) return [];
  return [
    {
      onResponse({ response }) {
        const vary = response.headers.get('vary');
        if (!vary?.toLowerCase().split(/\s*,\s*/).includes('origin')) response.headers.set('vary', vary ? `${vary}, Origin` : 'Origin');
      },
    },
  ];
}

/**
 * CORS for the REST routes the gateway passes through (evidence files, reports), which the runtime does not
 * serve: the same allowlist and headers as GraphQL. Sets the headers on `res` for a listed origin; answers a
 * preflight (OPTIONS) itself and returns true when it did.
 */
export function restCors(origins, req, res) {
  const allowed = new Set(origins);
  const origin = req.headers.origin;
  res.setHeader('vary', 'Origin');
  if (!origin || !allowed.has(origin)) {
    if (req.method !== 'OPTIONS') return false;
    res.statusCode = 204;
    res.end();
    return true;
  }
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('access-control-allow-credentials', 'true');
  res.setHeader('access-control-expose-headers', [...EXPOSED_HEADERS, 'content-disposition', 'x-content-sha256'].join(', '));
  if (req.method !== 'OPTIONS') return false;
  res.setHeader('access-control-allow-methods', 'GET, POST');
  res.setHeader('access-control-allow-headers', ALLOWED_HEADERS.join(', '));
  res.setHeader('access-control-max-age', '600');
  res.statusCode = 204;
  res.end();
  return true;
}
