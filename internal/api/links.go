package api

import (
	"net/http"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/links"
)

// Patient link routes (x/links, docs/fhir.md). A link names a patient, so
// both are signed reads: a member of the linking organization (its staff
// look patients up by MAC), or someone with care grounds on the patient.
func (s *Server) routeLinks() {
	s.handleSigned("GET /v1/orgs/{id}/links/{mac}", linkGuard, s.link)
	s.handleSigned("GET /v1/patients/{address}/links", patientGuard(groundCare), s.patientLinks)
}

// LinkView is a patient link as the API shows it.
type LinkView struct {
	Org       string `json:"org"`
	MAC       string `json:"mac"`
	Patient   string `json:"patient"`
	Linker    string `json:"linker"`
	Created   int64  `json:"created"`
	ConsentID uint64 `json:"consent_id,omitempty"` // made under this consent of the patient to the org
	Approver  string `json:"approver,omitempty"`   // made with this account's signed approval
}

func linkView(l *links.Link) LinkView {
	v := LinkView{Org: l.Org, MAC: l.MAC.String(), Patient: l.Patient.String(), Linker: l.Linker.String(), Created: l.Created, ConsentID: l.ConsentID}
	if !l.Approver.IsZero() {
		v.Approver = l.Approver.String()
	}
	return v
}

// linkGuard: an active member of the {id} organization, or care grounds on
// the linked patient. An unknown link is let through to members only (404).
func linkGuard(r *http.Request, w who) error {
	mac, err := links.ParseMAC(r.PathValue("mac"))
	if err != nil {
		return sm.Wrapf(ErrBadRequest, "%v", err)
	}
	org := r.PathValue("id")
	if a := accounts.ActiveMember(w.latest, w.acct.Address); a != nil && a.Org == org {
		return nil
	}
	if l := links.Get(w.latest, org, mac); l != nil && w.grounds(l.Patient, groundCare) {
		return nil
	}
	return forbidden("%s is not a member of %q and may not read the patient this link names", w.acct.Address, org)
}

func (s *Server) link(w http.ResponseWriter, r *http.Request) {
	mac, err := links.ParseMAC(r.PathValue("mac"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	l := links.Get(snap, r.PathValue("id"), mac)
	if l == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "no link %s of %q", mac, r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, linkView(l))
}

func (s *Server) patientLinks(w http.ResponseWriter, r *http.Request) {
	p, err := crypto.ParseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "%v", err))
		return
	}
	snap, ok := s.state(w, r)
	if !ok {
		return
	}
	out := []LinkView{}
	for _, l := range links.OfPatient(snap, p) {
		out = append(out, linkView(l))
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": snap.Version(), "links": out})
}
