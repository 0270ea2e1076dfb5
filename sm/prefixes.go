package sm

// Store key prefixes of every module, in one place so that no two modules
// collide. The list only grows: never renumber or reuse a prefix.
const (
	PrefixAccount     byte = 0x01 // accounts: address → Account
	PrefixOrg         byte = 0x02 // accounts: org id → Org
	PrefixGuardian    byte = 0x03 // accounts: patient ‖ guardian → Delegation
	PrefixOrgMember   byte = 0x04 // accounts: org id ‖ 0x00 ‖ address → role
	PrefixFeePool     byte = 0x05 // accounts: collected fees (one key)
	PrefixParam       byte = 0x10 // params: name → uint
	PrefixProposal    byte = 0x11 // gov: id (8 bytes, big-endian) → Proposal
	PrefixProposalSeq byte = 0x12 // gov: next proposal id (one key)
	PrefixValidator   byte = 0x13 // gov: consensus public key → Validator
)
