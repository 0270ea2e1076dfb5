// A dependency-free implementation of medchain's transaction format
// (docs/transactions.md), for browsers and Node. Signing uses WebCrypto
// Ed25519 when given a CryptoKey; Node's built-in crypto in the tests.

const enc = new TextEncoder();

/** Unsigned LEB128, minimal. */
export function uvarint(n) {
  let v = BigInt(n);
  const out = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Uint8Array.from(out);
}

export function concat(...parts) {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export const blob = (b) => concat(uvarint(b.length), b);
export const str = (s) => blob(enc.encode(s));

export function hexToBytes(h) {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
  return out;
}

export const bytesToHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/**
 * Body = chain_id, signer, sequence, fee, type, msg [, fee_payer].
 * feePayer (20 bytes, optional) is the sponsor paying the fee under a fee
 * allowance (x/fees); it is written only when set and not all zero.
 */
export function encodeBody({ chainId, signer, sequence, fee, type, msg, feePayer }) {
  if (signer.length !== 32) throw new Error("signer must be a 32-byte Ed25519 public key");
  const body = concat(str(chainId), signer, uvarint(sequence), uvarint(fee), str(type), blob(msg));
  if (!feePayer) return body;
  if (feePayer.length !== 20) throw new Error("feePayer must be a 20-byte address");
  if (feePayer.every((b) => b === 0)) return body;
  return concat(body, feePayer);
}

/** The bytes an Ed25519 signature covers. */
export const signBytes = (body) => concat(enc.encode("medchain/tx/v1"), Uint8Array.of(0), body);

/** Tx = 0x01, body (length-prefixed), signature. */
export function encodeTx(body, signature) {
  if (signature.length !== 64) throw new Error("signature must be 64 bytes");
  return concat(Uint8Array.of(1), blob(body), signature);
}
