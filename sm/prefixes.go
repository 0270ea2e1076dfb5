package sm

// Store key prefixes of every module, in one place so that no two modules
// collide. The list only grows: never renumber or reuse a prefix.
//
// Prefixes from 0x80 up (store.IndexKeyStart) are index keys: listings a
// module derives from its proven keys, stored and committed with the state
// but kept out of the Merkle tree (see store.IsIndexKey). They carry the
// number of the proven key they index with the top bit set. Before state
// format 2 they were 0x22, 0x23, 0x26, 0x27, 0x33, 0x34 and 0x42; those
// numbers are retired.
const (
	PrefixAccount     byte = 0x01 // accounts: address → Account
	PrefixOrg         byte = 0x02 // accounts: org id → Org
	PrefixGuardian    byte = 0x03 // accounts: patient ‖ guardian → Delegation
	PrefixOrgMember   byte = 0x04 // accounts: org id ‖ 0x00 ‖ address → role
	PrefixFeePool     byte = 0x05 // accounts: collected fees (one key)
	PrefixSigningKey  byte = 0x06 // accounts: Ed25519 public key → kind ‖ address (rotated and session keys)
	PrefixPool        byte = 0x07 // bank: module pool address → balance (8 bytes)
	PrefixSupply      byte = 0x08 // bank: total supply (one key)
	PrefixSelfRegs    byte = 0x0F // accounts: height (8 bytes) ‖ self-registrations in that block (4 bytes) (one key)
	PrefixParam       byte = 0x10 // params: name → uint
	PrefixProposal    byte = 0x11 // gov: id (8 bytes, big-endian) → Proposal
	PrefixProposalSeq byte = 0x12 // gov: next proposal id (one key)
	PrefixValidator   byte = 0x13 // gov: consensus public key → Validator
	// 0x2E and 0x2F were free between consent's and records' prefixes
	// when software upgrades came (issue 18); gov holds them.
	PrefixUpgradePlan byte = 0x2E // gov: the approved upgrade plan awaiting its height (one key)
	PrefixUpgradeDone byte = 0x2F // gov: upgrade name → height (8 bytes) at which it was applied

	PrefixConsent          byte = 0x20 // consent: id (8 bytes) → Consent
	PrefixConsentSeq       byte = 0x21 // consent: next consent id (one key)
	PrefixConsentByPatient byte = 0xA2 // consent: patient ‖ party ‖ id → ∅
	PrefixConsentByGrantee byte = 0xA3 // consent: party ‖ patient ‖ id → ∅
	PrefixEmergency        byte = 0x24 // consent: emergency id (8 bytes) → Emergency
	PrefixEmergencySeq     byte = 0x25 // consent: next emergency id (one key)
	PrefixEmergencyByPat   byte = 0xA6 // consent: patient ‖ id → ∅
	PrefixEmergencyByOrg   byte = 0xA7 // consent: org ‖ 0x00 ‖ id → ∅

	PrefixRecord          byte = 0x30 // records: record id (16 bytes) → Record
	PrefixRecordVersion   byte = 0x31 // records: id ‖ version (4 bytes) → Version
	PrefixRecordKey       byte = 0x32 // records: id ‖ version ‖ party → WrappedKey
	PrefixRecordByPatient byte = 0xB3 // records: patient ‖ id → ∅
	PrefixRecordByHash    byte = 0xB4 // records: content hash (32 bytes) → id ‖ version
	PrefixSessionDataKey  byte = 0x35 // records: id ‖ version ‖ session public key → WrappedKey

	PrefixAudit           byte = 0x40 // audit: patient ‖ seq (8 bytes) → Event
	PrefixAuditSeq        byte = 0x41 // audit: next event sequence (one key)
	PrefixAuditByAccessor byte = 0xC2 // audit: accessor ‖ seq → patient
	PrefixAuditID         byte = 0x43 // audit: gateway ‖ event id (16 bytes) → seq
	PrefixAuditProof      byte = 0x44 // audit: proof hash (32 bytes) → Proof

	PrefixSession byte = 0x50 // session: session public key → Session

	PrefixTrial            byte = 0x45 // trials: registry id (11 bytes) → Trial
	PrefixTrialVersion     byte = 0x46 // trials: id ‖ version (4 bytes) → Version
	PrefixTrialParticipant byte = 0x47 // trials: id ‖ participant address → Participation
	PrefixTrialAnchor      byte = 0x48 // trials: id ‖ seq (8 bytes) → Anchor
	PrefixTrialResults     byte = 0x49 // trials: id → Results

	PrefixSupplyProduct  byte = 0x51 // supply: GTIN (14 digits) → Product
	PrefixSupplyLocation byte = 0x52 // supply: GLN (13 digits) → Location
	PrefixSupplyPartner  byte = 0x53 // supply: org ‖ 0x00 ‖ partner org → ∅ (org trades with partner)
	PrefixSupplyUnit     byte = 0x54 // supply: unit key (element string) → Unit
	PrefixSupplyEvent    byte = 0x55 // supply: event hash → StoredEvent
	PrefixSupplyChild    byte = 0x56 // supply: parent key ‖ 0x00 ‖ child key → ∅
	PrefixSupplyRecall   byte = 0x57 // supply: GTIN ‖ lot → Recall
	PrefixSupplyCase     byte = 0x58 // supply: unit key → Case (suspect-product investigation)
	PrefixSupplyNotice   byte = 0x59 // supply: org ‖ 0x00 ‖ unit key → ∅ (illegitimate-product notification)
	PrefixSupplySeq      byte = 0x5A // supply: next event sequence (one key)
	PrefixSupplyUnitLog  byte = 0x5B // supply: unit key ‖ 0x00 ‖ n (8 bytes) → event hash (provenance)
	PrefixSupplyEventSeq byte = 0xDC // supply: event seq (8 bytes) → event hash (query order)
	PrefixSupplyLotUnits byte = 0xDD // supply: GTIN ‖ lot ‖ 0x00 ‖ unit key → ∅ (recall holders)
	PrefixSupplyEventIdx byte = 0xD5 // supply: tag ‖ value ‖ 0x00 ‖ seq (8 bytes) → ∅; tag 't': event time (8 bytes) ‖ seq (EPCIS query index of 0x55)

	PrefixTelemedOffer    byte = 0x68 // telemed: offer id (8 bytes) → Offer
	PrefixTelemedSeq      byte = 0x69 // telemed: 0x01 next offer id, 0x02 next booking id
	PrefixTelemedBooking  byte = 0x6A // telemed: booking id (8 bytes) → Booking
	PrefixTelemedSlot     byte = 0x6B // telemed: offer ‖ start (8 bytes) ‖ booking → ∅ (live bookings)
	PrefixTelemedDue      byte = 0x6C // telemed: release time (8 bytes) ‖ booking → ∅
	PrefixTelemedByParty  byte = 0x6D // telemed: patient or provider address ‖ booking → ∅
	PrefixTelemedDisputes byte = 0x6E // telemed: arbiter org ‖ 0x00 ‖ booking → ∅ (open disputes)

	PrefixResearchRequest   byte = 0x70 // research: request id (8 bytes) → Request
	PrefixResearchSeq       byte = 0x71 // research: next request id (one key)
	PrefixResearchOptIn     byte = 0x72 // research: request ‖ patient → OptIn (with its payment)
	PrefixResearchConsent   byte = 0x73 // research: consent id (8 bytes) → request id (the consent's one request)
	PrefixResearchWatch     byte = 0x74 // research: researcher → last audit seq settled ‖ open requests
	PrefixResearchCloses    byte = 0x75 // research: closing time (8 bytes) ‖ request → ∅
	PrefixResearchByPatient byte = 0x76 // research: patient ‖ request → ∅

	PrefixFeesBaseFee       byte = 0x14 // fees: the fee market's base fee (one key)
	PrefixFeesAllowance     byte = 0x15 // fees: granter ‖ grantee → Allowance
	PrefixFeesByGrantee     byte = 0x95 // fees: grantee ‖ granter → ∅ (index of 0x15)
	PrefixMint              byte = 0x16 // mint: inflation remainder carried between blocks (one key)
	PrefixLink              byte = 0x36 // links: org ‖ 0x00 ‖ identifier MAC (32 bytes) → Link
	PrefixLinkByPatient     byte = 0xB7 // links: patient ‖ org ‖ 0x00 ‖ MAC → ∅ (index of 0x37)
	PrefixLinkApprovalUsed  byte = 0x38 // links: SHA-256 of a used approval signature → ∅
	PrefixPolicyRule        byte = 0x78 // policy: rule id (8 bytes) → Rule
	PrefixPolicyRuleSeq     byte = 0x79 // policy: next rule id (one key)
	PrefixPolicyEncounter   byte = 0x7A // policy: patient → encounters in progress (read by consent conditions)
	PrefixPolicyRuleByOwner byte = 0xF8 // policy: owner address ‖ rule id → ∅ (index of 0x78)

	// Ranges reserved for modules being built; each module declares its
	// prefixes inside its range (index keys: the proven prefix | 0x80).
	//   0x09–0x0E, 0x14–0x1F, 0x60–0x67  token: bank, fees, sponsorship, staking, distribution, slashing
	//     of which x/staking uses 0x60–0x65 (index keys 0xE1, 0xE2, 0xE5; see x/staking/types.go),
	//     x/fees 0x14–0x15 (index key 0x95), x/mint 0x16
	//   0x36–0x3F                         patient links (hospital integration)
	//   0x4A–0x4F                         trials (0x45–0x49 above)
	//   0x51–0x5F                         supply chain (0x51–0x5B, 0xDC, 0xDD above)
	//   0x68–0x6F                         telemedicine escrow
	//   0x70–0x77                         paid research data use
	//   0x78–0x7E                         policies (CEL conditions and automations)
	// PrefixIndexDigest is reserved for the state tree: the one key 0x7F
	// (store.IndexDigestKey) holds the chained digest of every block's index
	// writes, so that the app hash covers index keys. No module writes
	// under it; the tree refuses writes to that key.
	PrefixIndexDigest byte = 0x7F // store: digest of index writes (one key)
)
