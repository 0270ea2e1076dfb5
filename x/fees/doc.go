// Package fees prices transactions and lets organizations pay for others.
//
// Price: a transaction's fee must be at least the highest of the chain-wide
// floor tx.min_fee, its type's fees.min.<type> and, when the fee market is
// on (fees.market.enabled), the base fee. The base fee moves after every
// block as in EIP-1559: up when the block carried more transactions than
// fees.market.target_txs, down when fewer, by at most 1/change_denominator
// of itself, between fees.market.min_base_fee and max_base_fee.
//
// Sponsorship: an active admin of an active organization grants a fee
// allowance to an address (a patient, a staff member, or a key that will
// register): a total limit, a limit per period, an expiry and the message
// types it covers. A transaction that names the admin as its envelope's
// fee_payer has its fee taken from the admin's balance within the
// allowance, so its signer needs no tokens; a patient's self-registration
// can be sponsored this way.
//
// Fees go to the fee pool; x/staking moves them to its rewards pool at the
// start of the next block (bank.TakeFees) and divides them among
// validators. Deterministic; no I/O.
package fees
