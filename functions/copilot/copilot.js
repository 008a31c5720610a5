// Clustered Video Streams copilot: a CloudFront Function (runtime cloudfront-js-2.0) on the
// viewer-request event of every regional distribution of a clustered stream.
//
// Closed distributions: the KeyValueStore key is the distribution's domain
// (event.context.distributionDomainName, e.g. d111111abcdef8.cloudfront.net) and its value is
// JSON such as {"open":false,"reason":"playlists stale"}, written by the edgesync function
// from the state table. When "open" is false, every request (master, media playlists,
// segments) gets 404 with Cache-Control: no-store, so players switch to a redundant stream at
// once and no cache keeps the answer. Fail open: a missing key, an unreadable value, a value
// without "open": false, or any KeyValueStore error lets the request pass unchanged, because
// the origin's own behaviour is a safer default than taking a region off the air.
//
// Content steering: GET /steering/<cluster>.json answers the HLS content steering manifest
// stored under the key "steering_<cluster>" (edgesync keeps it: open and healthy regions
// first). It is answered even on a closed distribution; with no manifest stored the request
// goes on to the origin.
//
// This file is deployed as is (template.yaml holds a byte-identical copy; a test compares
// them). Keep it under 10 KB and within the runtime's JavaScript subset (no optional
// chaining, no destructuring, no classes).
import cf from 'cloudfront';

// Without an associated store cf.kvs() throws; kvs stays null, every lookup below then throws
// inside its try, and so every request passes.
let kvs = null;
try {
  kvs = cf.kvs();
} catch (e) {
  kvs = null;
}
const STEERING = /^\/steering\/([A-Za-z0-9][A-Za-z0-9._-]*)\.json$/;

async function handler(event) {
  const request = event.request;
  const steering = STEERING.exec(request.uri);
  if (steering) {
    let manifest;
    try {
      manifest = await kvs.get('steering_' + steering[1]);
    } catch (e) {
      return request;
    }
    return {
      statusCode: 200,
      statusDescription: 'OK',
      headers: {
        'content-type': { value: 'application/json' },
        'cache-control': { value: 'no-store' },
        'access-control-allow-origin': { value: '*' }
      },
      body: { encoding: 'text', data: manifest }
    };
  }

  let state;
  try {
    state = await kvs.get(event.context.distributionDomainName, { format: 'json' });
  } catch (e) {
    return request;
  }
  if (state === null || typeof state !== 'object' || state.open !== false) {
    return request;
  }
  return {
    statusCode: 404,
    statusDescription: 'Not Found',
    headers: {
      'cache-control': { value: 'no-store' },
      'access-control-allow-origin': { value: '*' },
      'content-type': { value: 'text/plain' },
      'x-cvs-state': { value: 'closed' },
      'x-cvs-reason': { value: headerValue(state.reason) }
    },
    body: { encoding: 'text', data: 'This region of the stream is closed; use another one.\n' }
  };
}

// headerValue keeps a reason within what an HTTP header value may carry.
function headerValue(reason) {
  const s = typeof reason === 'string' ? reason.replace(/[^\x20-\x7e]/g, '?').trim() : '';
  return s === '' ? 'closed' : s.slice(0, 200);
}
