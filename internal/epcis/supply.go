package epcis

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/x/supply"
)

// ErrNotForChain: the event is valid EPCIS but carries what medchain does
// not put on chain (free-form extension fields, unserialised quantities
// only).
var ErrNotForChain = errors.New("not capturable on chain")

// CaptureEvent turns a parsed event into the x/supply message part that
// carries it: the hash, the custody-relevant fields and the event document.
// An event whose document has user extension fields (namespaced members,
// at the top level or in ilmd) is refused: their content is unknown, and
// nothing unknown goes on chain (no health data, by construction).
func CaptureEvent(e Event) (supply.CaptureEvent, error) {
	c := supply.CaptureEvent{Hash: e.Hash, EventID: e.EventID, Type: e.Type, Action: e.Action, BizStep: e.BizStep,
		Disposition: e.Disposition, EventTime: e.EventTime.UnixMilli(), JSON: e.JSON}
	if err := checkNoExtensions(e.JSON); err != nil {
		return c, err
	}
	for _, id := range e.EPCs {
		if id.Kind != gs1.KindSGTIN && id.Kind != gs1.KindSSCC {
			return c, fmt.Errorf("%w: %q is not a serialised unit (SGTIN or SSCC)", ErrNotForChain, id.URI)
		}
		c.EPCs = append(c.EPCs, id.Key())
	}
	if len(c.EPCs) == 0 && len(e.Quantities) > 0 {
		return c, fmt.Errorf("%w: the event names quantities only; custody is kept per serialised unit", ErrNotForChain)
	}
	if e.ParentID != nil {
		c.Parent = e.ParentID.Key()
	}
	if e.BizLocation != nil {
		c.BizLocation = string(e.BizLocation.GLN)
	}
	for _, d := range e.Destinations {
		switch d.Type {
		case "owning_party":
			if c.DestParty == "" {
				c.DestParty = string(d.GLN)
			}
		case "location":
			if c.DestLocation == "" {
				c.DestLocation = string(d.GLN)
			}
		}
	}
	if e.ILMD != nil {
		c.Lot = e.ILMD.Lot
		if e.ILMD.Expiry != nil {
			x, err := gs1.ExpiryFromDate(*e.ILMD.Expiry)
			if err != nil {
				return c, fmt.Errorf("%w: ilmd expiry: %v", ErrNotForChain, err)
			}
			c.Expiry = string(x)
		}
	}
	return c, nil
}

func checkNoExtensions(doc []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return fmt.Errorf("%w: %v", ErrNotForChain, err)
	}
	for k, v := range top {
		switch {
		case k == "@context":
		case k == "ilmd":
			var ilmd map[string]json.RawMessage
			if err := json.Unmarshal(v, &ilmd); err != nil {
				return fmt.Errorf("%w: ilmd: %v", ErrNotForChain, err)
			}
			for ik := range ilmd {
				name := strings.TrimPrefix(strings.TrimPrefix(ik, "cbvmda:"), "urn:epcglobal:cbv:mda:")
				if name != "lotNumber" && name != "itemExpirationDate" {
					return fmt.Errorf("%w: ilmd member %q (only lotNumber and itemExpirationDate are put on chain)", ErrNotForChain, ik)
				}
			}
		case strings.Contains(k, ":"):
			return fmt.Errorf("%w: extension field %q (user extensions are not put on chain)", ErrNotForChain, k)
		}
	}
	return nil
}
