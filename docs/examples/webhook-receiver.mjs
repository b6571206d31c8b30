// A minimal receiver for Herald's `webhook` channel: checks the Standard Webhooks signature of
// every request, ignores repeats of a delivery, and prints each message as one JSON line.
//
//   HERALD_WEBHOOK_SECRET=whsec_… PORT=9100 node docs/examples/webhook-receiver.mjs
//
// The secret is the `signingSecret` of the webhook provider (shown once when Herald generated
// it). Node 18+, no dependencies; in production prefer a Standard Webhooks library.
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

const secret = process.env.HERALD_WEBHOOK_SECRET ?? '';
if (!secret.startsWith('whsec_')) {
  console.error('Set HERALD_WEBHOOK_SECRET to the whsec_… signing secret of the provider.');
  process.exit(1);
}
// The HMAC key is the base64-decoded part after `whsec_`.
const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
const MAX_AGE_SECONDS = 300;

/** The delivery id when the request is signed with our key and recent; null otherwise. */
function verified(headers, rawBody) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!id || !timestamp || !signatures) return null;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > MAX_AGE_SECONDS) return null;
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${rawBody}`).digest();
  // `v1,<base64>` entries separated by spaces (more than one while a secret is rotated).
  for (const entry of signatures.split(' ')) {
    if (!entry.startsWith('v1,')) continue;
    const given = Buffer.from(entry.slice(3), 'base64');
    if (given.length === mac.length && timingSafeEqual(given, mac)) return id;
  }
  return null;
}

// At-least-once: a retry after a lost answer carries the same webhook-id. Keep the ids you
// have handled (in your database, with the effect) and acknowledge repeats without acting.
const handled = new Set();

const server = createServer((req, res) => {
  if (req.method !== 'POST') return res.writeHead(405).end();
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const rawBody = Buffer.concat(chunks).toString('utf8'); // the exact bytes that were signed
    const id = verified(req.headers, rawBody);
    if (id === null) {
      console.error('rejected a request without a valid signature');
      return res.writeHead(401).end();
    }
    if (!handled.has(id)) {
      handled.add(id);
      const { data } = JSON.parse(rawBody);
      console.log(
        JSON.stringify({
          deliveryId: id,
          user: data.recipient.externalId,
          title: data.content.title ?? data.content.subject ?? null,
          body: data.content.body,
        }),
      );
    }
    // 2xx = delivered. An `id` in a JSON answer becomes the delivery's providerMessageId.
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: `demo-${handled.size}` }));
  });
});

server.listen(Number(process.env.PORT ?? 9100), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  console.error(`listening on http://${address}:${port}`);
});
