// medchain's encrypted key file (internal/keystore/doc.go, format version 1)
// in the browser: Argon2id derives a 32-byte key from the passphrase and
// salt, XChaCha20-Poly1305 seals signSeed||encSeed, and the associated data
// binds the version, name, address and public keys. A file written here opens
// with `medchain keys` and the reverse (web/test/keyfile.test.mjs).
import { argon2idAsync } from "@noble/hashes/argon2.js";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { bytesToHex, concat, hexToBytes, str, uvarint } from "../../../js/medchain-tx.mjs";

export const FILE_VERSION = 1;
const SALT_SIZE = 16;
const NONCE_SIZE = 24;
const SEEDS_SIZE = 64;
const MAX_TIME = 100;
const MAX_MEMORY_KIB = 4 << 20;
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The CLI's DefaultParams: 3 passes over 64 MiB with 2 lanes. */
export const DEFAULT_PARAMS = Object.freeze({ time: 3, memory_kib: 64 << 10, threads: 2 });

export class KeyFileError extends Error {}

/** Checks a key name as keystore.CheckName does. */
export function checkName(name) {
  if (!NAME_RE.test(name)) throw new KeyFileError("a key name is 1-64 characters of a-z 0-9 . _ - and starts with a letter or digit");
  return name;
}

const isHex = (s, n) => typeof s === "string" && s.length === 2 * n && /^[0-9a-f]*$/.test(s);

/** Parses and validates a key file's JSON text without running the KDF. */
export function parseKeyFile(text) {
  if (typeof text !== "string" || text.length > 16 << 10) throw new KeyFileError("not a medchain key file: too large");
  let f;
  try {
    f = JSON.parse(text);
  } catch {
    throw new KeyFileError("not a medchain key file: not JSON");
  }
  const fields = ["version", "name", "address", "pub_key", "enc_key", "kdf", "kdf_params", "cipher", "nonce", "ciphertext"];
  if (!f || typeof f !== "object" || Array.isArray(f)) throw new KeyFileError("not a medchain key file");
  for (const k of Object.keys(f)) if (!fields.includes(k)) throw new KeyFileError(`not a medchain key file: unknown field ${k}`);
  if (f.version !== FILE_VERSION) throw new KeyFileError(`unsupported key file version ${f.version}`);
  checkName(f.name);
  if (!/^mc[0-9a-f]{40}$/.test(f.address)) throw new KeyFileError("key file: bad address");
  if (!isHex(f.pub_key, 32) || !isHex(f.enc_key, 32)) throw new KeyFileError("key file: bad public keys");
  if (f.kdf !== "argon2id") throw new KeyFileError(`key file: unsupported kdf ${f.kdf}`);
  if (f.cipher !== "xchacha20poly1305") throw new KeyFileError(`key file: unsupported cipher ${f.cipher}`);
  const p = f.kdf_params ?? {};
  const { time, memory_kib: mem, threads } = p;
  if (!Number.isInteger(time) || time < 1 || time > MAX_TIME) throw new KeyFileError("key file: KDF time out of range");
  if (!Number.isInteger(threads) || threads < 1 || threads > 255) throw new KeyFileError("key file: KDF threads out of range");
  if (!Number.isInteger(mem) || mem < 8 * threads || mem > MAX_MEMORY_KIB) throw new KeyFileError("key file: KDF memory out of range");
  if (!isHex(p.salt, SALT_SIZE)) throw new KeyFileError("key file: bad salt");
  if (!isHex(f.nonce, NONCE_SIZE)) throw new KeyFileError("key file: bad nonce");
  if (!isHex(f.ciphertext, SEEDS_SIZE + 16)) throw new KeyFileError("key file: bad ciphertext");
  return f;
}

/** "medchain/keystore" ‖ version ‖ name ‖ address(20) ‖ pub_key(32) ‖ enc_key(32), as keyFile.associatedData. */
export function associatedData(f) {
  return concat(str("medchain/keystore"), uvarint(f.version), str(f.name), hexToBytes(f.address.slice(2)), hexToBytes(f.pub_key), hexToBytes(f.enc_key));
}

async function cipherKey(f, passphrase, onProgress) {
  const p = f.kdf_params;
  return argon2idAsync(new TextEncoder().encode(passphrase), hexToBytes(p.salt), {
    t: p.time,
    m: p.memory_kib,
    p: p.threads,
    dkLen: 32,
    ...(onProgress ? { onProgress } : {}),
  });
}

/** Opens a parsed key file: resolves to the 64 bytes signSeed||encSeed, or throws "wrong passphrase". */
export async function openKeyFile(f, passphrase, { onProgress } = {}) {
  const k = await cipherKey(f, passphrase, onProgress);
  try {
    return xchacha20poly1305(k, hexToBytes(f.nonce), associatedData(f)).decrypt(hexToBytes(f.ciphertext));
  } catch {
    throw new KeyFileError("wrong passphrase (or the file was altered)");
  } finally {
    k.fill(0);
  }
}

/**
 * Seals seeds (signSeed||encSeed) into a new key file named name. pub and enc
 * are the public keys (hex) the seeds give; address the account address.
 */
export async function sealKeyFile({ name, address, pubKey, encKey }, seeds, passphrase, params = DEFAULT_PARAMS, { onProgress, rand } = {}) {
  checkName(name);
  if (seeds.length !== SEEDS_SIZE) throw new KeyFileError("seeds must be 64 bytes");
  const random = rand ?? ((n) => crypto.getRandomValues(new Uint8Array(n)));
  const f = {
    version: FILE_VERSION,
    name,
    address,
    pub_key: pubKey,
    enc_key: encKey,
    kdf: "argon2id",
    kdf_params: { time: params.time, memory_kib: params.memory_kib, threads: params.threads, salt: bytesToHex(random(SALT_SIZE)) },
    cipher: "xchacha20poly1305",
    nonce: bytesToHex(random(NONCE_SIZE)),
    ciphertext: "",
  };
  parseKeyFile(JSON.stringify({ ...f, ciphertext: "00".repeat(SEEDS_SIZE + 16) })); // the same limits as a file read
  const k = await cipherKey(f, passphrase, onProgress);
  try {
    f.ciphertext = bytesToHex(xchacha20poly1305(k, hexToBytes(f.nonce), associatedData(f)).encrypt(seeds));
  } finally {
    k.fill(0);
  }
  return f;
}

/** The text of a key file as the CLI writes it (two-space indent, final newline). */
export const keyFileText = (f) => JSON.stringify(f, null, 2) + "\n";
