// Verifies webhook messages with the npm package standardwebhooks (1.1.1),
// the Standard Webhooks reference implementation nobody at crieur wrote,
// for the webhook tests.
//
// stdin: a JSON array of {"secret", "headers": {name: value}, "body"}.
// stdout: a JSON array, one {"payload"} (the verified, parsed body) or
// {"error"} per message, in order.
'use strict';
const { Webhook } = require('standardwebhooks');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((m) => {
    try {
      return { payload: new Webhook(m.secret).verify(m.body, m.headers) };
    } catch (e) {
      return { error: String(e && e.message ? e.message : e) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
