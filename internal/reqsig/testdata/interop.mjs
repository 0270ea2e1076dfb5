// Checks reqsig.mjs against vectors.json: node interop.mjs vectors.json
import { readFileSync } from "node:fs";
import { hex, signedBytes, forwardBytes, signRequest } from "./reqsig.mjs";

const b64url = (h) => Buffer.from(h, "hex").toString("base64url");
const fromHex = (h) => new Uint8Array(Buffer.from(h, "hex"));

async function importKey(seedHex, pubHex) {
  const jwk = { kty: "OKP", crv: "Ed25519", d: b64url(seedHex), x: b64url(pubHex) };
  return crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]);
}

function expectEqual(name, what, got, want) {
  if (got !== want) {
    throw new Error(`${name}: ${what}: got ${got}, want ${want}`);
  }
}

const file = JSON.parse(readFileSync(process.argv[2], "utf8"));
for (const v of file.vectors) {
  const msg = await signedBytes({
    chainId: v.chain_id,
    method: v.method,
    target: new URL(v.url).pathname + new URL(v.url).search,
    expires: v.expires,
    nonce: v.nonce,
    body: v.body === "" ? null : fromHex(v.body),
  });
  expectEqual(v.name, "signed_bytes", hex(msg), v.signed_bytes);
  const key = await importKey(v.signer_seed, v.signer);
  expectEqual(v.name, "signature", hex(await crypto.subtle.sign("Ed25519", key, msg)), v.signature);
  if (v.forwarder) {
    const fmsg = forwardBytes({ chainId: v.chain_id, signature: v.signature, expires: v.expires });
    expectEqual(v.name, "forward_signed_bytes", hex(fmsg), v.forward_signed_bytes);
    const fkey = await importKey(v.forwarder_seed, v.forwarder);
    expectEqual(v.name, "forwarder_signature", hex(await crypto.subtle.sign("Ed25519", fkey, fmsg)), v.forwarder_signature);
  }
}
console.log(`ok ${file.vectors.length} vectors`);

// A fresh request from signRequest, for the Go test to verify.
{
  const v = file.vectors.find((x) => x.method === "PUT");
  const privateKey = await importKey(v.signer_seed, v.signer);
  const body = "fresh ciphertext";
  const url = "https://node1.example/v1/blobs?note=%C3%A9";
  const headers = await signRequest({
    privateKey, publicKeyHex: v.signer, chainId: v.chain_id, method: "PUT", url, body: new TextEncoder().encode(body),
  });
  console.log(JSON.stringify({ method: "PUT", url, body, headers }));
}
