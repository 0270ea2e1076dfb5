// Package gateway is an organization's presence on its node: the service
// account (role "gateway") whose key is the organization's encryption key.
// It serves ciphertext blobs to requesters the chain authorizes, fetching
// them from peer nodes when they are not local; reports every served read
// and refused attempt to the audit trail in batches; opens data keys wrapped
// to the organization and re-wraps them for the practitioner who reads under
// an organization consent or an emergency access; and deletes the ciphertext
// of erased records.
//
// Authorization is always decided from the latest committed state
// (consent.MayRead), never from what the requester claims.
package gateway
