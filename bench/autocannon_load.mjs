// One load of bench/load_bench.py with `--generator autocannon`: `clients` connections sending one GraphQL request
// back to back for `seconds`, every answer checked (HTTP 200, JSON with `data` and no `errors`). A far cheaper client
// than the Python one (autocannon keeps its connections and parsers in one Node process), so that on a shared
// machine the generator takes less of the cores the system under test runs on.
//
//   node bench/autocannon_load.mjs '<json: {url, headers, body, clients, seconds}>'
//
// Prints one JSON line: requests, rps, p50_ms, p99_ms (from every answer's own duration), failures (the first
// few, described), cpu_ms (this process's own CPU time, user and system).
import { createRequire } from 'node:module';

// autocannon is a dev dependency of the gateway's package (installed by `make install`).
const require = createRequire(new URL('../gateway/package.json', import.meta.url));
const autocannon = require('autocannon');

const options = JSON.parse(process.argv[2]);
const durations = [];
const failures = [];
let failed = 0;

function fail(message) {
  failed += 1;
  if (failures.length < 5) failures.push(message);
}

const cpuBefore = process.cpuUsage();
const instance = autocannon({
  url: options.url,
  method: 'POST',
  connections: options.clients,
  duration: options.seconds,
  body: options.body,
  headers: { 'content-type': 'application/json', ...options.headers },
  // A 200 whose body carries GraphQL errors (or no data) is a failure too.
  verifyBody: (body) => {
    try {
      const answer = JSON.parse(body);
      return answer.data != null && !answer.errors;
    } catch {
      return false;
    }
  },
});
instance.on('response', (_client, statusCode, _bytes, duration) => {
  if (statusCode === 200) durations.push(duration);
  else fail(`HTTP ${statusCode}`);
});
// autocannon checks the body right after it reports the response, in the same turn: the duration just kept is that
// answer's, and a failed answer is no answer.
instance.on('reqMismatch', (body) => {
  durations.pop();
  fail(`answer with errors or without data: ${String(body).slice(0, 200)}`);
});
instance.on('reqError', (error) => fail(`request error: ${error.message}`));

const result = await instance;
const cpu = process.cpuUsage(cpuBefore);
durations.sort((a, b) => a - b);
const at = (q) => (durations.length ? durations[Math.min(durations.length - 1, Math.floor(durations.length * q))] : 0);
const answered = durations.length;
process.stdout.write(
  `${JSON.stringify({
    requests: answered,
    rps: answered / (result.duration || options.seconds),
    p50_ms: at(0.5),
    p99_ms: at(0.99),
    failures: failed ? [`${failed} failed`, ...failures] : [],
    cpu_ms: (cpu.user + cpu.system) / 1000,
  })}\n`,
);
