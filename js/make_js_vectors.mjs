// medchain's record envelope (crypto/envelope/doc.go) in JavaScript, as a
// browser does it: HPKE with @hpke/core (X25519 through WebCrypto) and
// AES-256-GCM through WebCrypto. Run as a script, it writes
// crypto/envelope/testdata/js_vectors.json, which the Go tests decrypt:
//
//   cd js && npm ci && node make_js_vectors.mjs
//
// The file is checked in; rerun only to refresh it. Every run differs
// (fresh random keys and nonces), and every run's output must pass
// go test ./crypto/envelope.
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();

export const FORMAT_V1 = 0x01;
export const NONCE_SIZE = 12;
export const DATA_KEY_SIZE = 32;
export const RECORD_ID_SIZE = 16;
export const ADDRESS_SIZE = 20;
export const ENC_SIZE = 32;
export const WRAPPED_KEY_SIZE = 80;

export const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});

export function hexToBytes(h) {
  if (h.length % 2 !== 0 || /[^0-9a-f]/i.test(h)) throw new Error("not hex: " + h);
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
  return out;
}

export const bytesToHex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function want(bytes, size, what) {
  if (bytes.length !== size) throw new Error(`${what}: want ${size} bytes, got ${bytes.length}`);
  return bytes;
}

/** The raw 20 bytes of an address "mc" + 40 hex digits. */
export function addressBytes(addr) {
  if (!/^mc[0-9a-f]{40}$/.test(addr)) throw new Error("not an address: " + addr);
  return hexToBytes(addr.slice(2));
}

/** "medchain/record/v1" ‖ 0x00 ‖ record id (16) ‖ patient address (20). */
export function contentAAD(recordId, patient) {
  want(recordId, RECORD_ID_SIZE, "record id");
  want(patient, ADDRESS_SIZE, "patient");
  return concat(utf8.encode("medchain/record/v1"), Uint8Array.of(0), recordId, patient);
}

/** "medchain/datakey/v1" ‖ 0x00 ‖ record id (16) ‖ version (uint32 big-endian). */
export function wrapInfo(recordId, version) {
  want(recordId, RECORD_ID_SIZE, "record id");
  if (!Number.isInteger(version) || version < 0 || version > 0xffffffff) throw new Error("version is a uint32");
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, version, false);
  return concat(utf8.encode("medchain/datakey/v1"), Uint8Array.of(0), recordId, v);
}

const aesKey = (dataKey, usage) =>
  subtle.importKey("raw", want(dataKey, DATA_KEY_SIZE, "data key"), "AES-GCM", false, [usage]);

/** Encrypts a record under a fresh data key: 0x01 ‖ nonce ‖ AES-256-GCM ciphertext and tag. */
export async function sealRecord(plaintext, recordId, patient, { dataKey, nonce } = {}) {
  dataKey ??= crypto.getRandomValues(new Uint8Array(DATA_KEY_SIZE));
  nonce ??= crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
  const ct = await subtle.encrypt(
    { name: "AES-GCM", iv: want(nonce, NONCE_SIZE, "nonce"), additionalData: contentAAD(recordId, patient) },
    await aesKey(dataKey, "encrypt"),
    plaintext,
  );
  return { ct: concat(Uint8Array.of(FORMAT_V1), nonce, new Uint8Array(ct)), dataKey };
}

/** Decrypts what sealRecord (or Go's envelope.Seal) made; throws if it does not authenticate. */
export async function openRecord(ct, dataKey, recordId, patient) {
  if (ct.length < 1 + NONCE_SIZE + 16 || ct[0] !== FORMAT_V1) throw new Error("not a v1 record ciphertext");
  const pt = await subtle.decrypt(
    { name: "AES-GCM", iv: ct.subarray(1, 1 + NONCE_SIZE), additionalData: contentAAD(recordId, patient) },
    await aesKey(dataKey, "decrypt"),
    ct.subarray(1 + NONCE_SIZE),
  );
  return new Uint8Array(pt);
}

/**
 * Wraps a data key for the holder of the X25519 public key recipientPk:
 * enc (32) ‖ HPKE-sealed key and tag (48), with the recipient key as AAD.
 * ikmE fixes the ephemeral key; it exists only to reproduce test vectors.
 */
export async function wrapKey(recipientPk, dataKey, recordId, version, { ikmE } = {}) {
  const recipientPublicKey = await suite.kem.deserializePublicKey(want(recipientPk, ENC_SIZE, "recipient key"));
  const sender = await suite.createSenderContext({
    recipientPublicKey,
    info: wrapInfo(recordId, version),
    ...(ikmE ? { ekm: ikmE } : {}),
  });
  const ct = await sender.seal(want(dataKey, DATA_KEY_SIZE, "data key"), recipientPk);
  return concat(new Uint8Array(sender.enc), new Uint8Array(ct));
}

/** The X25519 public key of a raw 32-byte private key. */
export async function publicKeyOf(sk) {
  const key = await suite.kem.deserializePrivateKey(want(sk, 32, "private key"));
  const jwk = await subtle.exportKey("jwk", key);
  return Uint8Array.from(atob(jwk.x.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
}

/** Opens a wrapped key with the reader's raw X25519 private key; throws if it does not open. */
export async function unwrapKey(sk, wrapped, recordId, version) {
  want(wrapped, WRAPPED_KEY_SIZE, "wrapped key");
  const recipient = await suite.createRecipientContext({
    recipientKey: await suite.kem.deserializePrivateKey(want(sk, 32, "private key")),
    enc: wrapped.subarray(0, ENC_SIZE),
    info: wrapInfo(recordId, version),
  });
  return new Uint8Array(await recipient.open(wrapped.subarray(ENC_SIZE), await publicKeyOf(sk)));
}

// Synthetic FHIR resources with made-up values; no real person's data.
const records = [
  {
    name: "js-observation-glucose",
    version: 1,
    plaintext: JSON.stringify({
      resourceType: "Observation",
      id: "synthetic-glucose-1",
      status: "final",
      code: { coding: [{ system: "http://loinc.org", code: "2339-0", display: "Glucose" }] },
      subject: { reference: "Patient/synthetic-js-1" },
      valueQuantity: { value: 5.4, unit: "mmol/L", system: "http://unitsofmeasure.org", code: "mmol/L" },
    }),
  },
  {
    name: "js-empty-plaintext",
    version: 0,
    plaintext: "",
  },
  {
    name: "js-generated-recipient-key",
    version: 0xffffffff,
    plaintext: JSON.stringify({
      resourceType: "AllergyIntolerance",
      id: "synthetic-allergy-1",
      code: { text: "synthetic allergen — test vector" },
      patient: { reference: "Patient/synthetic-js-2" },
    }),
  },
];

async function main() {
  const { readFileSync, writeFileSync } = await import("node:fs");
  const testdata = new URL("../crypto/envelope/testdata/", import.meta.url);
  const goVectors = JSON.parse(readFileSync(new URL("vectors.json", testdata))).vectors;
  const hpkeVersion = JSON.parse(readFileSync(new URL("./node_modules/@hpke/core/package.json", import.meta.url))).version;

  const out = [];
  for (const [i, r] of records.entries()) {
    let sk, pk;
    if (i < records.length - 1) {
      // A recipient key made in Go.
      sk = hexToBytes(goVectors[i % goVectors.length].recipient_sk);
      pk = hexToBytes(goVectors[i % goVectors.length].recipient_pk);
    } else {
      // A recipient key made by WebCrypto.
      const kp = await suite.kem.generateKeyPair();
      sk = new Uint8Array(await suite.kem.serializePrivateKey(kp.privateKey));
      pk = new Uint8Array(await suite.kem.serializePublicKey(kp.publicKey));
    }
    const recordId = crypto.getRandomValues(new Uint8Array(RECORD_ID_SIZE));
    const patient = crypto.getRandomValues(new Uint8Array(ADDRESS_SIZE));
    const { ct, dataKey } = await sealRecord(utf8.encode(r.plaintext), recordId, patient);
    const wrapped = await wrapKey(pk, dataKey, recordId, r.version);
    out.push({
      name: r.name,
      recipient_sk: bytesToHex(sk),
      recipient_pk: bytesToHex(pk),
      record_id: bytesToHex(recordId),
      patient: "mc" + bytesToHex(patient),
      version: r.version,
      plaintext: r.plaintext,
      data_key: bytesToHex(dataKey),
      wrapped_key: bytesToHex(wrapped),
      content_ct: bytesToHex(ct),
    });
  }
  const file = {
    description:
      "Records sealed in JavaScript by js/make_js_vectors.mjs (WebCrypto AES-256-GCM, @hpke/core HPKE with a random ephemeral key); " +
      "crypto/envelope's Go tests unwrap and decrypt them. Formats as in crypto/envelope/doc.go and testdata/vectors.json.",
    producer: `@hpke/core ${hpkeVersion}, Node ${process.version}`,
    vectors: out,
  };
  const path = new URL("js_vectors.json", testdata);
  writeFileSync(path, JSON.stringify(file, null, 2) + "\n");
  console.log(`wrote ${out.length} vectors to ${path.pathname}`);
}

if (typeof process !== "undefined" && process.argv[1] && import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1]).href) {
  await main();
}
