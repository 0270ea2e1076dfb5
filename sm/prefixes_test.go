package sm_test

import (
	"bytes"
	"testing"

	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store/merkle"
)

// TestAddressListings: the state database filters these families' keys by
// their first address (store/merkle/prefix.go); each must be a prefix
// whose keys begin with a party's 20-byte address (or an account party's
// kind byte and address), as sm/prefixes.go describes them. A family
// added here changes the filter policy's name (old tables stay exact).
func TestAddressListings(t *testing.T) {
	want := []byte{
		sm.PrefixGuardian,          // patient ‖ guardian
		sm.PrefixAudit,             // patient ‖ seq
		sm.PrefixTelemedByParty,    // patient or provider ‖ booking
		sm.PrefixResearchByPatient, // patient ‖ request
		sm.PrefixFeesByGrantee,     // grantee ‖ granter
		sm.PrefixConsentByPatient,  // patient ‖ party ‖ id
		sm.PrefixConsentByGrantee,  // party ‖ patient ‖ id
		sm.PrefixEmergencyByPat,    // patient ‖ id
		sm.PrefixRecordByPatient,   // patient ‖ id
		sm.PrefixLinkByPatient,     // patient ‖ org ‖ MAC
		sm.PrefixAuditByAccessor,   // accessor ‖ seq
		sm.PrefixPolicyRuleByOwner, // owner ‖ rule id
	}
	if got := merkle.AddressListings(); !bytes.Equal(got, want) {
		t.Fatalf("address listings %x, want %x", got, want)
	}
}
