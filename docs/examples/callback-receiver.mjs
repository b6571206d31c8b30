// A minimal receiver of Herald status callbacks: verifies each request the Standard Webhooks
// way, drops duplicates, and prints every event as one JSON line.
//
//   HERALD_CALLBACK_SECRET=whsec_… PORT=9000 node docs/examples/callback-receiver.mjs
//
// Then register it:  PUT /v1/sources/{key}/callback  {"url": "https://<this host>/herald/events"}
// (the secret is in the response to the first PUT). Node 18+, no dependencies.
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

const secret = process.env.HERALD_CALLBACK_SECRET ?? '';
if (!secret.startsWith('whsec_')) {
  console.error('Set HERALD_CALLBACK_SECRET to the whsec_… secret Herald gave you.');
  process.exit(1);
}
const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
const TOLERANCE_SECONDS = 5 * 60;

/** Throws unless the request is signed with our secret, recently; returns the event id. */
function verify(headers, rawBody) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!id || !timestamp || !signatures) throw new Error('missing webhook headers');
  const age = Math.floor(Date.now() / 1000) - Number(timestamp);
  if (!Number.isInteger(age) || Math.abs(age) > TOLERANCE_SECONDS) {
    throw new Error('timestamp outside the tolerance (replay?)');
  }
  const expected = Buffer.from(
    createHmac('sha256', key).update(`${id}.${timestamp}.${rawBody}`).digest('base64'),
  );
  // The header holds space-separated "v1,<base64>" signatures (several during a key rotation).
  const ok = signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    const given = Buffer.from(signature ?? '');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!ok) throw new Error('no valid signature');
  return id;
}

// Delivery is at-least-once: remember recent ids and acknowledge repeats without acting twice.
// (A real receiver keeps them in its database, next to what the event changed.)
const seen = new Set();

const server = createServer((req, res) => {
  if (req.method !== 'POST') return res.writeHead(405).end();
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const rawBody = Buffer.concat(chunks).toString('utf8'); // verify the exact bytes received
    let id;
    try {
      id = verify(req.headers, rawBody);
    } catch (err) {
      console.error(`rejected: ${err.message}`);
      return res.writeHead(400).end();
    }
    if (!seen.has(id)) {
      seen.add(id);
      const { type, timestamp, data } = JSON.parse(rawBody);
      console.log(JSON.stringify({ id, type, timestamp, data }));
    }
    res.writeHead(204).end(); // answer fast; do slow work after answering
  });
});

server.listen(Number(process.env.PORT ?? 9000), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  console.error(`listening on http://${address}:${port}`);
});
