// Decrypts Web Push messages with the npm package http_ece (1.2.1), an
// RFC 8188/8291 implementation nobody at crieur wrote, for push's tests.
//
// stdin: a JSON array of {"body", "key", "auth"}, all unpadded base64url:
// the aes128gcm body, the subscriber's raw 32-byte P-256 private key and its
// 16-byte auth secret. stdout: a JSON array, one {"payload"} (base64url) or
// {"error"} per message, in order.
'use strict';
const crypto = require('crypto');
const ece = require('http_ece');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((m) => {
    try {
      const ecdh = crypto.createECDH('prime256v1');
      ecdh.setPrivateKey(Buffer.from(m.key, 'base64url'));
      const payload = ece.decrypt(Buffer.from(m.body, 'base64url'), {
        version: 'aes128gcm',
        privateKey: ecdh,
        authSecret: Buffer.from(m.auth, 'base64url'),
      });
      return { payload: payload.toString('base64url') };
    } catch (e) {
      return { error: String(e && e.message ? e.message : e) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
