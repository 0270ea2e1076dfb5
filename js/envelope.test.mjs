// Checks crypto/envelope/testdata/vectors.json (made by Go with
// cloudflare/circl) with a second HPKE implementation, @hpke/core over
// WebCrypto, and decrypts the records with WebCrypto AES-GCM: what a
// browser does to read a record. Needs `npm ci` in js/ first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  addressBytes,
  bytesToHex,
  contentAAD,
  hexToBytes,
  openRecord,
  publicKeyOf,
  sealRecord,
  suite,
  unwrapKey,
  wrapInfo,
  wrapKey,
} from "./make_js_vectors.mjs";

const testdata = new URL("../crypto/envelope/testdata/", import.meta.url);
const goFile = JSON.parse(readFileSync(new URL("vectors.json", testdata)));
const jsFile = JSON.parse(readFileSync(new URL("js_vectors.json", testdata)));
const utf8 = new TextEncoder();
const text = new TextDecoder("utf-8", { fatal: true });

test("vector file names the suite", () => {
  assert.equal(goFile.mode, 0);
  assert.equal(goFile.kem_id, suite.kem.id); // 0x0020 DHKEM(X25519, HKDF-SHA256)
  assert.equal(goFile.kdf_id, 0x0001); // HKDF-SHA256
  assert.equal(goFile.aead_id, 0x0002); // AES-256-GCM
  assert.ok(goFile.vectors.length >= 3);
});

for (const v of goFile.vectors) {
  const sk = hexToBytes(v.recipient_sk);
  const pk = hexToBytes(v.recipient_pk);
  const recordId = hexToBytes(v.record_id);
  const patient = addressBytes(v.patient);

  test(`${v.name}: layouts match the spec`, async () => {
    assert.equal(bytesToHex(patient), v.patient_raw);
    assert.equal(bytesToHex(await publicKeyOf(sk)), v.recipient_pk);
    assert.equal(bytesToHex(wrapInfo(recordId, v.version)), v.hpke_info);
    assert.equal(v.hpke_aad, v.recipient_pk);
    assert.equal(bytesToHex(contentAAD(recordId, patient)), v.content_aad);
    assert.equal(v.wrapped_key, v.enc + v.wrapped_ct);
    assert.equal(v.content_ct.slice(0, 2 + 24), "01" + v.content_nonce);
    assert.equal(bytesToHex(await publicKeyOf(hexToBytes(v.sk_e))), v.enc);
  });

  test(`${v.name}: @hpke/core unwraps the data key`, async () => {
    const recipient = await suite.createRecipientContext({
      recipientKey: await suite.kem.deserializePrivateKey(sk),
      enc: hexToBytes(v.enc),
      info: hexToBytes(v.hpke_info),
    });
    const dk = await recipient.open(hexToBytes(v.wrapped_ct), hexToBytes(v.hpke_aad));
    assert.equal(bytesToHex(dk), v.data_key);
    assert.equal(bytesToHex(await unwrapKey(sk, hexToBytes(v.wrapped_key), recordId, v.version)), v.data_key);
  });

  test(`${v.name}: @hpke/core reproduces enc and ct from ikm_e`, async () => {
    const wrapped = await wrapKey(pk, hexToBytes(v.data_key), recordId, v.version, { ikmE: hexToBytes(v.ikm_e) });
    assert.equal(bytesToHex(wrapped), v.wrapped_key);
  });

  test(`${v.name}: WebCrypto decrypts and reproduces the content`, async () => {
    const dk = hexToBytes(v.data_key);
    assert.equal(text.decode(await openRecord(hexToBytes(v.content_ct), dk, recordId, patient)), v.plaintext);
    const { ct } = await sealRecord(utf8.encode(v.plaintext), recordId, patient, { dataKey: dk, nonce: hexToBytes(v.content_nonce) });
    assert.equal(bytesToHex(ct), v.content_ct);
  });

  test(`${v.name}: bindings are enforced`, async () => {
    const wrapped = hexToBytes(v.wrapped_key);
    const otherVersion = (v.version + 1) % 2 ** 32;
    await assert.rejects(unwrapKey(sk, wrapped, recordId, otherVersion));
    const otherRecord = recordId.slice();
    otherRecord[0] ^= 1;
    await assert.rejects(unwrapKey(sk, wrapped, otherRecord, v.version));
    // A key wrapped for this recipient does not open as anyone else's.
    const other = goFile.vectors.find((o) => o.recipient_sk !== v.recipient_sk);
    await assert.rejects(unwrapKey(hexToBytes(other.recipient_sk), wrapped, recordId, v.version));
    // The right key with the wrong AAD fails.
    const recipient = await suite.createRecipientContext({
      recipientKey: await suite.kem.deserializePrivateKey(sk),
      enc: hexToBytes(v.enc),
      info: hexToBytes(v.hpke_info),
    });
    await assert.rejects(recipient.open(hexToBytes(v.wrapped_ct), hexToBytes(other.recipient_pk)));

    const ct = hexToBytes(v.content_ct);
    const dk = hexToBytes(v.data_key);
    const otherPatient = patient.slice();
    otherPatient[19] ^= 1;
    await assert.rejects(openRecord(ct, dk, recordId, otherPatient));
    const tampered = ct.slice();
    tampered[tampered.length - 1] ^= 1;
    await assert.rejects(openRecord(tampered, dk, recordId, patient));
  });
}

test("a fresh record round-trips in JavaScript", async () => {
  const v = goFile.vectors[0];
  const recordId = crypto.getRandomValues(new Uint8Array(16));
  const patient = crypto.getRandomValues(new Uint8Array(20));
  const plaintext = utf8.encode(v.plaintext);
  const { ct, dataKey } = await sealRecord(plaintext, recordId, patient);
  const wrapped = await wrapKey(hexToBytes(v.recipient_pk), dataKey, recordId, 9);
  assert.equal(wrapped.length, 80);
  const dk = await unwrapKey(hexToBytes(v.recipient_sk), wrapped, recordId, 9);
  assert.deepEqual(dk, dataKey);
  assert.deepEqual(await openRecord(ct, dk, recordId, patient), plaintext);
  // A second wrap of the same key uses a fresh ephemeral key.
  const again = await wrapKey(hexToBytes(v.recipient_pk), dataKey, recordId, 9);
  assert.notDeepEqual(again.subarray(0, 32), wrapped.subarray(0, 32));
});

// The checked-in JavaScript vectors, which the Go tests decrypt, also open here.
for (const v of jsFile.vectors) {
  test(`${v.name}: JS vector opens`, async () => {
    const recordId = hexToBytes(v.record_id);
    const patient = addressBytes(v.patient);
    const dk = await unwrapKey(hexToBytes(v.recipient_sk), hexToBytes(v.wrapped_key), recordId, v.version);
    assert.equal(bytesToHex(dk), v.data_key);
    assert.equal(text.decode(await openRecord(hexToBytes(v.content_ct), dk, recordId, patient)), v.plaintext);
    assert.equal(hexToBytes(v.wrapped_key).length, 80);
  });
}
