// Package reqsig signs and verifies HTTP requests, so that a node serves an
// off-chain blob only to a requester who proves who they are, within a short
// time window, once. Which keys may read which blob is decided elsewhere, from
// chain state; this package only establishes the key behind a request.
//
// # Request headers
//
// A signed request carries four headers, each exactly once:
//
//	X-Medchain-Signer     the requester's Ed25519 public key: 64 lowercase hex digits
//	X-Medchain-Expires    the end of the request's validity, in unix seconds:
//	                      decimal digits, no sign, no leading zeros (at most 18 digits)
//	X-Medchain-Nonce      16 fresh random bytes: 32 lowercase hex digits
//	X-Medchain-Signature  the Ed25519 signature of the signed bytes: 128 lowercase hex digits
//
// Upper-case hex, leading zeros and repeated headers are rejected, so each
// request has one text form.
//
// # Signed bytes, version 1
//
// Seven ASCII fields joined with a single 0x00 byte between each two (none
// before the first or after the last):
//
//	1  "medchain/request/v1"
//	2  chain id          the chain's id, e.g. "medchain-dev" (never contains 0x00)
//	3  method            the request method as sent, e.g. "GET", "PUT"
//	4  request target    the path and query exactly as sent on the request line,
//	                     percent-encoding included: "/v1/blobs/3f…9a?part=2"
//	5  expires           the X-Medchain-Expires text
//	6  nonce             the X-Medchain-Nonce text
//	7  body hash         lowercase hex SHA-256 of the body bytes sent; for a request
//	                     without a body (GET) that of no bytes:
//	                     e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
//
// The signature is plain Ed25519 (RFC 8032, no prehash) over those bytes with
// the key named in X-Medchain-Signer; verifiers apply the ZIP-215 rules, as
// for transactions.
//
// The request target is Go's (*url.URL).RequestURI(): the escaped path, then
// "?" and the raw query if there is one. In a browser it is
// url.pathname + url.search of the URL object passed to fetch, both already
// percent-encoded. Do not end a URL with a bare "?" (browsers drop it from
// url.search but send it) and do not rely on a fragment (never sent). The
// scheme, host and other headers are not signed: the same request is valid at
// any node that serves the same path, which is what forwarding needs, and a
// proxy that rewrites paths breaks signatures.
//
// In JavaScript with WebCrypto (testdata/reqsig.mjs is a tested version):
//
//	const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
//	const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
//	const expires = String(Math.floor(Date.now() / 1000) + 60);
//	const bodyHash = hex(await crypto.subtle.digest("SHA-256", body ?? new Uint8Array()));
//	const msg = new TextEncoder().encode(["medchain/request/v1", chainId, method,
//	    url.pathname + url.search, expires, nonce, bodyHash].join("\0"));
//	const sig = hex(await crypto.subtle.sign("Ed25519", privateKey, msg));
//
// testdata/vectors.json has worked examples (keys from fixed seeds, the
// signed bytes in hex, the signatures); TestBrowserInterop checks that the
// JavaScript above reproduces them when node is installed.
//
// # Verification
//
// Verifier.Verify checks, in this order, and fails with the first error:
//
//   - every header present (ErrMissing) and well formed (ErrMalformed);
//   - expires strictly after the verifier's clock (ErrExpired) and at most
//     MaxTTL (default 5 minutes) after it (ErrTooFarAhead);
//   - the claimed signer, with Verifier.Authorize when set (ErrUnauthorized,
//     HTTP 403): the node checks that the key is the key of an account in
//     good standing on chain. This runs before the signature is verified and
//     before anything is remembered, so made-up keys never reach the replay
//     cache;
//   - the signature, over the bytes rebuilt from the request as received and
//     the verifier's chain id (ErrBadSignature);
//   - Verifier.Admit when set: the per-key rate limit (HTTP 429), after the
//     signature so only the key's holder spends the key's budget;
//   - the nonce not seen before (ErrReplay). A nonce is remembered until its
//     request expires, then forgotten (an expired request is rejected anyway).
//     The cache holds at most MaxNonces (default 2^20) nonces; when it is full
//     of unexpired ones, new requests get ErrBusy (HTTP 503) until some
//     expire, rather than a nonce being forgotten early.
//
// Verifier.Precheck runs the first three steps alone, so a handler can refuse
// a request before reading its body. VerifyHash takes the body's SHA-256
// instead of the body: a blob upload's path names its content hash, so the
// upload is authenticated completely before its body is read, and the store
// then refuses a body that does not hash to it.
//
// Clients should sign with a TTL well under MaxTTL, about a minute: the
// difference is how far the client's clock may run ahead of the node's, and
// the TTL how far behind.
//
// # Forwarding
//
// A node that does not hold a blob may fetch it from a peer on the user's
// behalf. The gateway node first verifies the user's request itself, then
// sends the peer the same method, request target and body with the user's
// four headers unchanged (CopyHeaders), and adds:
//
//	X-Medchain-Forwarder            the gateway node's Ed25519 public key: 64 lowercase hex digits
//	X-Medchain-Forwarder-Signature  128 lowercase hex digits: Ed25519 signature over
//	    "medchain/forward/v1" 0x00 chain id 0x00 the X-Medchain-Signature text 0x00 the X-Medchain-Expires text
//
// Verifier.VerifyForwarded checks both signatures and remembers the user's
// nonce under the forwarder's key, apart from direct requests: the gateway
// and the peer each accept the user's request once, and each forwarder can
// pass it on once. Deciding which nodes may forward is the caller's job, as
// is deciding which users may read what.
//
// # Caller's contract
//
//   - Call Precheck (or VerifyHash, when the body's hash is known) before
//     reading a body; read the body within the endpoint's size limit, and
//     pass the same bytes to Verify that the handler then acts on.
//   - Use one Verifier per node and chain; its replay cache is in memory, so
//     after a restart a request signed before it can be replayed until it
//     expires, at most MaxTTL later.
//   - A request is not bound to one node: an unexpired request sent to node A
//     is also valid once at node B. Nodes serve only ciphertext to keys that
//     the chain authorizes, and record every access on chain, which bounds
//     what such a replay yields.
package reqsig
