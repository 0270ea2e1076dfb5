// An account's key pair in the browser: an Ed25519 signing key (WebCrypto)
// and an X25519 encryption key (HPKE recipient key, @hpke/core), both from
// the 32-byte seeds the key file holds, as crypto.KeyFromSeeds does in Go.
import { bytesToHex, concat, hexToBytes } from "../../../js/medchain-tx.mjs";
import { publicKeyOf } from "../../../js/make_js_vectors.mjs";

const subtle = globalThis.crypto.subtle;
// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
const PKCS8_ED25519 = hexToBytes("302e020100300506032b657004220420");

function b64urlToBytes(s) {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

/** The account address of an Ed25519 public key: "mc" + hex of SHA-256(pub)[:20]. */
export async function addressOf(pub) {
  const h = new Uint8Array(await subtle.digest("SHA-256", pub));
  return "mc" + bytesToHex(h.subarray(0, 20));
}

export class Key {
  /** seeds: signSeed(32)||encSeed(32). The seeds stay inside this object. */
  static async fromSeeds(seeds) {
    if (seeds.length !== 64) throw new Error("key seeds must be 64 bytes");
    const signSeed = seeds.slice(0, 32);
    const encSeed = seeds.slice(32);
    const extractable = await subtle.importKey("pkcs8", concat(PKCS8_ED25519, signSeed), { name: "Ed25519" }, true, ["sign"]);
    const jwk = await subtle.exportKey("jwk", extractable);
    const k = new Key();
    k.signKey = await subtle.importKey("pkcs8", concat(PKCS8_ED25519, signSeed), { name: "Ed25519" }, false, ["sign"]);
    k.pub = b64urlToBytes(jwk.x);
    k.encSeed = encSeed;
    k.enc = await publicKeyOf(encSeed);
    k.address = await addressOf(k.pub);
    k.pubHex = bytesToHex(k.pub);
    k.encHex = bytesToHex(k.enc);
    signSeed.fill(0);
    return k;
  }

  /** A fresh key pair; returns { key, seeds } (seeds to seal into a key file, then clear). */
  static async generate() {
    const seeds = crypto.getRandomValues(new Uint8Array(64));
    return { key: await Key.fromSeeds(seeds), seeds };
  }

  /** Ed25519 signature (64 bytes) over msg. */
  async sign(msg) {
    return new Uint8Array(await subtle.sign("Ed25519", this.signKey, msg));
  }
}
