// Re-derives sm/testdata/tx_vectors.json with Node's built-in crypto and the
// dependency-free encoder in medchain-tx.mjs: proof that another language can
// build and sign medchain transactions from docs/transactions.md alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash, createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { encodeBody, encodeTx, signBytes, hexToBytes, bytesToHex } from "./medchain-tx.mjs";

const vectors = JSON.parse(readFileSync(new URL("../sm/testdata/tx_vectors.json", import.meta.url)));

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
const pkcs8Prefix = hexToBytes("302e020100300506032b657004220420");

test("vectors exist", () => assert.ok(vectors.length >= 3));

for (const v of vectors) {
  test(v.name, () => {
    const priv = createPrivateKey({ key: Buffer.concat([pkcs8Prefix, hexToBytes(v.sign_seed)]), format: "der", type: "pkcs8" });
    const pub = createPublicKey(priv).export({ format: "der", type: "spki" }).subarray(-32);
    assert.equal(bytesToHex(pub), v.pub_key);
    const addr = "mc" + createHash("sha256").update(pub).digest("hex").slice(0, 40);
    assert.equal(addr, v.address);

    const body = encodeBody({ chainId: v.chain_id, signer: pub, sequence: v.sequence, fee: v.fee, type: v.type, msg: hexToBytes(v.msg_hex) });
    assert.equal(bytesToHex(body), v.body_hex);
    const sb = signBytes(body);
    assert.equal(bytesToHex(sb), v.sign_bytes_hex);

    const sig = sign(null, sb, priv);
    assert.equal(bytesToHex(sig), v.signature_hex); // Ed25519 is deterministic
    assert.ok(verify(null, sb, createPublicKey(priv), sig));

    const tx = encodeTx(body, sig);
    assert.equal(bytesToHex(tx), v.tx_hex);
    assert.equal(createHash("sha256").update(tx).digest("hex").toUpperCase(), v.tx_hash);
  });
}

test("a fee payer is appended after the message, and a zero one is left out", () => {
  const base = { chainId: "c", signer: new Uint8Array(32), sequence: 3, fee: 7, type: "bank/send", msg: Uint8Array.of(1, 2) };
  const plain = encodeBody(base);
  const payer = new Uint8Array(20);
  payer[0] = 0xab;
  payer[19] = 0xcd;
  const paid = encodeBody({ ...base, feePayer: payer });
  assert.deepEqual(paid.slice(0, plain.length), plain);
  assert.deepEqual(paid.slice(plain.length), payer);
  assert.deepEqual(encodeBody({ ...base, feePayer: new Uint8Array(20) }), plain);
});
