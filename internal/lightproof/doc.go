// Package lightproof checks a medchain state proof (an api.Proof: a value, or
// its absence, at a key, with an ICS23 proof under the SMT spec) against the
// app hash of a block header that CometBFT's light client has verified, so
// that an answer served by one node is believed because another node's
// consensus-signed headers agree with it.
//
// Two layers:
//
//   - VerifyAgainstHeader is pure: it checks a proof against an app hash the
//     caller already trusts. Other packages reuse it.
//   - Verifier obtains that app hash. It runs CometBFT's light client
//     (github.com/cometbft/cometbft/light, skipping verification with the
//     default trust level 1/3) against the CometBFT RPC of a witness node,
//     which should be a node other than the one that served the proof. Every
//     header it uses is verified from a trust root by validator signatures
//     (+2/3 of a header's own validator set, and at least 1/3 of an
//     already-trusted set when heights are skipped), not merely fetched.
//
// # Heights
//
// A proof at state height H is checked against the app hash of state version
// H, which CometBFT records in the header of block H+1. Verify therefore waits
// (bounded) until the witness has committed block H+1, then verifies header
// H+1 with the light client.
//
// # Trust
//
// The light client needs a root of trust: a header height and hash believed
// out of band. TrustRoot carries one. With an explicit root (medchain verify
// --trust-height/--trust-hash, obtained from a source the user trusts) the
// witness is not trusted at all: a header it serves is accepted only if the
// validators, followed from the root, signed it.
//
// With no root, Verifier trusts on first use: it takes the witness's header at
// height 1 as the root. The witness is then trusted for the root only, so the
// check guarantees that the proof agrees with what the witness's
// consensus-signed chain says. It catches a node that serves a wrong or forged
// answer, as long as the witness is honest; it cannot catch a witness that
// invents a whole chain with keys of its own.
//
// A root must be younger than the trusting period (TrustRoot.Period,
// DefaultTrustPeriod when zero); NewVerifier refuses an older one with
// ErrRootExpired, and the fix is a more recent explicit root. The light
// client also refuses headers more than 10 s ahead of the local clock
// (CometBFT's default clock drift).
//
// # Witnesses
//
// CometBFT v0.39's light client refuses to start without at least one witness
// (light.ErrNoWitnesses) and cross-checks every verified header against its
// witnesses. Verifier gives it the witness RPC as primary and, through a
// second provider on the same URL, as the one witness: the cross-check is then
// trivial, and the security rests on the signature verification from the
// root. Listing further independent witnesses would add the cross-check; it
// is not offered yet.
package lightproof
