// Reference JavaScript for medchain signed requests (internal/reqsig/doc.go),
// using only WebCrypto and TextEncoder, so it runs in browsers and in node.
// TestBrowserInterop runs interop.mjs, which checks it against vectors.json.

const enc = new TextEncoder();

export const hex = (b) =>
  Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");

// signedBytes builds the version 1 signed bytes. target is
// url.pathname + url.search; body is a Uint8Array or null.
export async function signedBytes({ chainId, method, target, expires, nonce, body }) {
  const bodyHash = hex(await crypto.subtle.digest("SHA-256", body ?? new Uint8Array()));
  return enc.encode(
    ["medchain/request/v1", chainId, method, target, String(expires), nonce, bodyHash].join("\0"),
  );
}

// forwardBytes builds the bytes a forwarding node signs.
export function forwardBytes({ chainId, signature, expires }) {
  return enc.encode(["medchain/forward/v1", chainId, signature, String(expires)].join("\0"));
}

// signRequest returns the four headers for a request. privateKey is a
// WebCrypto Ed25519 CryptoKey, publicKeyHex its public key in hex.
export async function signRequest({ privateKey, publicKeyHex, chainId, method, url, body, ttlSeconds = 60 }) {
  const u = new URL(url);
  const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
  const expires = Math.floor(Date.now() / 1000) + ttlSeconds;
  const msg = await signedBytes({ chainId, method, target: u.pathname + u.search, expires, nonce, body });
  const sig = await crypto.subtle.sign("Ed25519", privateKey, msg);
  return {
    "X-Medchain-Signer": publicKeyHex,
    "X-Medchain-Expires": String(expires),
    "X-Medchain-Nonce": nonce,
    "X-Medchain-Signature": hex(sig),
  };
}
