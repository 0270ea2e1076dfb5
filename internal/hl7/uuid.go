package hl7

import (
	"crypto/sha256"
	"fmt"
)

// deterministicUUID names a Bundle entry of a message (fullUrl urn:uuid):
// the same message always makes the same Bundle.
func deterministicUUID(h Header, what string) string {
	sum := sha256.Sum256([]byte(h.SendingApp + "\x00" + h.SendingFacility + "\x00" + h.ControlID + "\x00" + what))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}
