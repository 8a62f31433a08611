// Cross-check helper for TestInteropNoble (falcon package).
//
// Usage: node noble_interop.mjs <dir containing node_modules/@noble/post-quantum>
// Reads one JSON object on stdin:
//   { "cases": [ { "n": 512|1024, "seed": hex, "pk": hex, "sk": hex,
//                  "msg": hex, "sig": hex } ] }
// and writes one JSON object on stdout with, per case:
//   verifyOurs   noble's verdict on our detached signature
//   keygenPk/Sk  noble's key pair from the same 48-byte seed (hex)
//   nobleSig     a fresh noble signature of msg under our secret key (hex)
//   tamperedOk   noble's verdict on our signature with one byte flipped
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node noble_interop.mjs <noble dir>');
  process.exit(2);
}
const mod = await import(
  pathToFileURL(path.join(dir, 'node_modules/@noble/post-quantum/falcon.js')).href
);

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'));

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { cases } = JSON.parse(input);

const results = [];
for (const c of cases) {
  const falcon = c.n === 512 ? mod.falcon512 : mod.falcon1024;
  const pk = unhex(c.pk), sk = unhex(c.sk), msg = unhex(c.msg), sig = unhex(c.sig);
  const r = {};
  try { r.verifyOurs = falcon.verify(sig, msg, pk); } catch (e) { r.verifyOurs = false; r.verifyErr = String(e); }
  const bad = sig.slice();
  bad[bad.length - 1] ^= 1;
  try { r.tamperedOk = falcon.verify(bad, msg, pk); } catch (e) { r.tamperedOk = false; }
  const kp = falcon.keygen(unhex(c.seed));
  r.keygenPk = hex(kp.publicKey);
  r.keygenSk = hex(kp.secretKey);
  r.nobleSig = hex(falcon.sign(msg, sk));
  results.push(r);
}
process.stdout.write(JSON.stringify({ results }));
