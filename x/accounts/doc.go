// Package accounts keeps who is on the network: patients (who register
// themselves), member organizations, their admins, practitioners and
// researchers, and the guardians patients delegate to. It also holds account
// sequences (replay protection) and fee balances used by the transaction
// envelope. Deterministic; no I/O.
//
// Rules enforced here, from state only:
//   - a patient registers with their own key (no account may exist for it);
//   - an active admin of an active organization registers and deactivates the
//     organization's members; members of an inactive organization cannot sign;
//   - a patient names and revokes guardians; CanActFor answers whether an
//     account may act for a patient;
//   - an account replaces its signing and encryption keys (rotate_keys,
//     with the new key's proof of possession); its address, fixed at
//     registration, stays its identity, and the new key is bound to it
//     (BoundKey). A key that ever signed for anything is never reused.
package accounts
