package app_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/params"
	"github.com/medchain/medchain/x/records"
)

// This file holds the state machine to a reference model: random sequences
// of consent, record, guardian, membership and governance operations are
// signed and delivered to the application, and applied to a plain-Go model
// of the rules (the structures below, written from docs/consent.md,
// docs/records.md and docs/governance.md, not from the keepers). After
// every block the test compares what a user can observe: every
// transaction's result code, who may read which record and on what basis,
// each patient's consents and their status, guardians, emergency accesses,
// accounts and organizations in force, balances, parameters and proposals.
//
// MEDCHAIN_PROPERTY_BLOCKS (default 250) and MEDCHAIN_PROPERTY_SEED
// (default 1) run longer or other sequences:
//
//	MEDCHAIN_PROPERTY_BLOCKS=20000 MEDCHAIN_PROPERTY_SEED=7 go test ./app -run TestStatePropertyAgainstModel

type mActor struct {
	name    string
	key     *crypto.PrivKey
	addr    crypto.Address
	patient bool
	org     string
	role    string
	active  bool
	balance uint64
}

type mOrg struct{ active, encKey bool }

type mConsent struct {
	id           uint64
	patient      crypto.Address
	grantee      consent.Party
	actions      uint8
	types        []string
	records      []consent.RecordID
	purpose      string
	start, until int64
	revoked      int64
}

func (c *mConsent) activeAt(now int64) bool {
	return c.revoked == 0 && now >= c.start && (c.until == 0 || now < c.until)
}

func (c *mConsent) covers(id consent.RecordID, typ string) bool {
	if len(c.types) == 0 && len(c.records) == 0 {
		return true
	}
	return slices.Contains(c.types, typ) || slices.Contains(c.records, id)
}

func (c *mConsent) status(now int64) string {
	switch {
	case c.revoked != 0:
		return "revoked"
	case c.until != 0 && now >= c.until:
		return "expired"
	}
	return "active"
}

type mRecord struct {
	id      consent.RecordID
	patient crypto.Address
	typ     string
	version uint32
	erased  bool
}

type mEmergency struct {
	id              uint64
	patient, doctor crypto.Address
	org             string
	opened, expires int64
	reviewed        bool
}

func (e *mEmergency) openAt(now int64) bool { return !e.reviewed && now >= e.opened && now < e.expires }

type mProposal struct {
	id      uint64
	kind    string
	param   string
	value   uint64
	org     string // add_member / remove_member
	admin   *crypto.PrivKey
	votes   map[string]bool
	status  string
	expires int64
}

type stateModel struct {
	actors      []*mActor
	byAddr      map[crypto.Address]*mActor
	orgs        map[string]*mOrg
	orgIDs      []string
	consents    []*mConsent
	records     []*mRecord
	emergencies []*mEmergency
	guardians   map[crypto.Address]map[crypto.Address]bool
	params      map[string]uint64
	proposals   []*mProposal
	hashes      int
}

func (m *stateModel) addActor(a *mActor) {
	a.addr = a.key.Address()
	m.actors = append(m.actors, a)
	m.byAddr[a.addr] = a
}

func (m *stateModel) canSign(a *mActor) bool {
	return a != nil && a.active && (a.patient || m.orgs[a.org].active)
}

func (m *stateModel) canActFor(actor, patient crypto.Address) bool {
	p := m.byAddr[patient]
	if p == nil || !p.patient {
		return false
	}
	return actor == patient || m.guardians[patient][actor] && m.canSign(m.byAddr[actor])
}

func (m *stateModel) adminOrg(a *mActor) string {
	if a.patient || a.role != accounts.RoleAdmin || !m.canSign(a) {
		return ""
	}
	return a.org
}

func (m *stateModel) reachable(p consent.Party) bool {
	if p.Kind == consent.PartyOrg {
		o := m.orgs[p.Org]
		return o != nil && o.active
	}
	return m.canSign(m.byAddr[p.Address])
}

func (m *stateModel) hasEncKey(p consent.Party) bool {
	if p.Kind == consent.PartyOrg {
		return m.orgs[p.Org].encKey
	}
	return true
}

func (m *stateModel) activeOrgs() int {
	n := 0
	for _, o := range m.orgs {
		if o.active {
			n++
		}
	}
	return n
}

// keyHolders are the parties a new version must carry wrapped keys for, in
// the chain's order (by party key).
func (m *stateModel) keyHolders(now int64, patient crypto.Address, id consent.RecordID, typ string) []consent.Party {
	seen := map[string]consent.Party{}
	add := func(p consent.Party) {
		if m.reachable(p) && m.hasEncKey(p) {
			seen[string(p.Key())] = p
		}
	}
	add(consent.Account(patient))
	for g := range m.guardians[patient] {
		add(consent.Account(g))
	}
	for _, c := range m.consents {
		if c.patient == patient && c.actions&consent.ActRead != 0 && c.activeAt(now) && c.covers(id, typ) {
			add(c.grantee)
		}
	}
	var out []consent.Party
	for _, p := range seen {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b consent.Party) int { return bytes.Compare(a.Key(), b.Key()) })
	return out
}

// decide is who may read (act ActRead) or write the target, and why.
func (m *stateModel) decide(now int64, who crypto.Address, patient crypto.Address, id consent.RecordID, typ string, act uint8) (bool, consent.Basis) {
	a := m.byAddr[who]
	if !m.canSign(a) {
		return false, ""
	}
	if who == patient {
		return true, consent.BasisPatient
	}
	if m.canActFor(who, patient) {
		return true, consent.BasisGuardian
	}
	grants := func(g consent.Party) bool {
		for _, c := range m.consents {
			if c.patient == patient && c.grantee == g && c.actions&act != 0 && c.purpose != consent.PurposeEmergency && c.covers(id, typ) && c.activeAt(now) {
				return true
			}
		}
		return false
	}
	if grants(consent.Account(who)) {
		return true, consent.BasisConsent
	}
	if a.patient {
		return false, ""
	}
	if grants(consent.Org(a.org)) {
		return true, consent.BasisOrg
	}
	if act != consent.ActRead {
		return false, ""
	}
	for _, e := range m.emergencies {
		if e.patient == patient && e.doctor == who && e.org == a.org && e.openAt(now) && m.custody(now, patient, a.org, &id, typ) {
			return true, consent.BasisEmergency
		}
	}
	return false, ""
}

// custody: an active emergency-custody consent of org for patient (covering
// the record when id is given).
func (m *stateModel) custody(now int64, patient crypto.Address, org string, id *consent.RecordID, typ string) bool {
	for _, c := range m.consents {
		if c.patient == patient && c.grantee == consent.Org(org) && c.purpose == consent.PurposeEmergency &&
			c.actions&consent.ActRead != 0 && c.activeAt(now) && (id == nil || c.covers(*id, typ)) {
			return true
		}
	}
	return false
}

func (m *stateModel) patients() []*mActor {
	var out []*mActor
	for _, a := range m.actors {
		if a.patient {
			out = append(out, a)
		}
	}
	return out
}

func (m *stateModel) wards(a *mActor) []*mActor {
	var out []*mActor
	for _, p := range m.patients() {
		if m.guardians[p.addr][a.addr] {
			out = append(out, p)
		}
	}
	return out
}

func (m *stateModel) tally(p *mProposal) {
	yes, no, n := 0, 0, m.activeOrgs()
	for org, approve := range p.votes {
		if !m.orgs[org].active {
			continue
		}
		if approve {
			yes++
		} else {
			no++
		}
	}
	switch {
	case 3*yes >= 2*n:
		if m.execute(p) {
			p.status = gov.StatusPassed
		} else {
			p.status = gov.StatusFailed
		}
	case 3*no > n:
		p.status = gov.StatusRejected
	}
}

func (m *stateModel) execute(p *mProposal) bool {
	switch p.kind {
	case gov.KindSetParam:
		m.params[p.param] = p.value
	case gov.KindAddMember:
		o := m.orgs[p.org]
		if o != nil && o.active {
			return false
		}
		if o == nil {
			m.orgs[p.org] = &mOrg{active: true}
			m.orgIDs = append(m.orgIDs, p.org)
		} else {
			o.active = true
		}
		if m.byAddr[p.admin.Address()] == nil {
			m.addActor(&mActor{name: "admin of " + p.org, key: p.admin, org: p.org, role: accounts.RoleAdmin, active: true})
		}
	case gov.KindRemoveMember:
		o := m.orgs[p.org]
		// The hospital runs the only validator: removing it would leave none.
		if o == nil || !o.active || m.activeOrgs() <= 1 || p.org == apptest.OrgHospital {
			return false
		}
		o.active = false
	}
	return true
}

// propertyOp is one transaction of the random sequence: the message, what
// the model says the chain answers (nil: success) and the model's change
// on success.
type propertyOp struct {
	name  string
	msg   sm.Msg
	want  *sm.Error
	apply func()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestStatePropertyAgainstModel: see the comment at the top of the file.
func TestStatePropertyAgainstModel(t *testing.T) {
	blocks := envInt("MEDCHAIN_PROPERTY_BLOCKS", 250)
	seed := envInt("MEDCHAIN_PROPERTY_SEED", 1)
	rng := rand.New(rand.NewPCG(uint64(seed), 18))
	genesisParams := map[string]uint64{consent.ParamEmergencySeconds: 120, gov.ParamVotingPeriod: 300}
	cfg := apptest.Domain()
	cfg.Params = genesisParams
	h := apptest.NewWithConfig(t, cfg)
	reg := h.App.Params()

	m := &stateModel{byAddr: map[crypto.Address]*mActor{}, orgs: map[string]*mOrg{},
		guardians: map[crypto.Address]map[crypto.Address]bool{}, params: map[string]uint64{}}
	for _, o := range apptest.Orgs {
		m.orgs[o.ID] = &mOrg{active: true, encKey: true}
		m.orgIDs = append(m.orgIDs, o.ID)
	}
	member := func(name, org, role string) {
		m.addActor(&mActor{name: name, key: k(name), org: org, role: role, active: true, balance: apptest.Balance})
	}
	member(apptest.HospitalAdmin, apptest.OrgHospital, accounts.RoleAdmin)
	member(apptest.LabAdmin, apptest.OrgLab, accounts.RoleAdmin)
	member(apptest.PharmacyAdmin, apptest.OrgPharmacy, accounts.RoleAdmin)
	member(apptest.HospitalDoctor, apptest.OrgHospital, accounts.RolePractitioner)
	member(apptest.HospitalNurse, apptest.OrgHospital, accounts.RoleStaff)
	for _, mm := range apptest.DomainMembers {
		member(mm.Name, mm.Org, mm.Role)
	}
	for _, p := range []string{apptest.Patient1, apptest.Patient2, apptest.Patient3} {
		m.addActor(&mActor{name: p, key: k(p), patient: true, active: true, balance: apptest.Balance})
	}
	paramNames := []string{consent.ParamEmergencySeconds, consent.ParamMaxConsentSeconds, gov.ParamVotingPeriod}
	for _, n := range paramNames {
		m.params[n] = reg.Get(h.State(), n)
	}
	types := []string{"Condition", "MedicationRequest", "Observation"}
	pick := func(n int) int { return rng.IntN(n) }
	anyActor := func() *mActor { return m.actors[pick(len(m.actors))] }
	patients := m.patients()
	anyPatient := func() *mActor { return patients[pick(len(patients))] }
	counter := 0
	fresh := func(prefix string) *crypto.PrivKey {
		counter++
		return k(fmt.Sprintf("property/%s%d", prefix, counter))
	}

	// Patient-side operations, signed by a (the patient or, for a ward, a guardian).
	grant := func(a, p *mActor, now int64) propertyOp {
		var g consent.Party
		if pick(10) < 7 {
			for {
				if x := anyActor(); x != p {
					g = consent.Account(x.addr)
					break
				}
			}
		} else {
			g = consent.Org(m.orgIDs[pick(len(m.orgIDs))])
		}
		msg := &consent.MsgGrant{Patient: p.addr, Grantee: g, Actions: uint8(1 + pick(3)), Purpose: consent.PurposeTreatment}
		if g.Kind == consent.PartyOrg && pick(10) < 5 {
			msg.Purpose, msg.Actions = consent.PurposeEmergency, consent.ActRead
		}
		switch r := pick(4); {
		case r == 1:
			for _, t := range types {
				if pick(2) == 0 {
					msg.Types = append(msg.Types, t)
				}
			}
		case r == 2:
			for _, rec := range m.records {
				if rec.patient == p.addr && pick(3) == 0 && len(msg.Records) < 3 {
					msg.Records = append(msg.Records, rec.id)
				}
			}
			slices.SortFunc(msg.Records, func(x, y consent.RecordID) int { return bytes.Compare(x[:], y[:]) })
		}
		maxSecs := m.params[consent.ParamMaxConsentSeconds]
		switch r := pick(20); {
		case r < 9:
			msg.Until = now + int64(5*(1+pick(80)))
		case r == 9:
			msg.Until = now + int64(maxSecs) + 60
		}
		op := propertyOp{name: "grant", msg: msg}
		switch {
		case !m.canActFor(a.addr, p.addr):
			op.want = consent.ErrNotPatientOrGuardian
		case g.Kind == consent.PartyAccount && !m.canSign(m.byAddr[g.Address]):
			op.want = consent.ErrBadGrantee
		case g.Kind == consent.PartyOrg && !m.orgs[g.Org].active:
			op.want = consent.ErrBadGrantee
		case g.Kind == consent.PartyOrg && msg.Actions&consent.ActRead != 0 && !m.orgs[g.Org].encKey:
			op.want = consent.ErrBadGrantee
		case msg.Until != 0 && uint64(msg.Until-now) > maxSecs:
			op.want = consent.ErrPeriodTooLong
		}
		op.apply = func() {
			m.consents = append(m.consents, &mConsent{id: uint64(len(m.consents) + 1), patient: p.addr, grantee: g, actions: msg.Actions,
				types: msg.Types, records: msg.Records, purpose: msg.Purpose, start: now, until: msg.Until})
		}
		return op
	}
	revoke := func(a *mActor, now int64) propertyOp {
		var mine []*mConsent
		for _, c := range m.consents {
			if m.canActFor(a.addr, c.patient) {
				mine = append(mine, c)
			}
		}
		id := uint64(len(m.consents) + 7) // unknown
		switch r := pick(10); {
		case r < 7 && len(mine) > 0:
			id = mine[pick(len(mine))].id
		case r < 9 && len(m.consents) > 0:
			id = uint64(1 + pick(len(m.consents)))
		}
		op := propertyOp{name: "revoke", msg: &consent.MsgRevoke{ID: id}}
		var c *mConsent
		if id <= uint64(len(m.consents)) {
			c = m.consents[id-1]
		}
		switch {
		case c == nil:
			op.want = consent.ErrNotFound
		case !m.canActFor(a.addr, c.patient):
			op.want = consent.ErrNotPatientOrGuardian
		case c.revoked != 0:
			op.want = consent.ErrRevoked
		}
		op.apply = func() { c.revoked = now }
		return op
	}
	addRecord := func(a, p *mActor, now int64) propertyOp {
		var rec *mRecord
		var existing []*mRecord
		for _, r := range m.records {
			if r.patient == p.addr {
				existing = append(existing, r)
			}
		}
		isNew := len(existing) == 0 || len(m.records) < 60 && pick(10) < 6
		if isNew {
			counter++
			h := sha256.Sum256([]byte("property/record/" + strconv.Itoa(counter)))
			rec = &mRecord{patient: p.addr, typ: types[pick(len(types))]}
			copy(rec.id[:], h[:])
		} else {
			rec = existing[pick(len(existing))]
		}
		m.hashes++
		holders := m.keyHolders(now, p.addr, rec.id, rec.typ)
		if len(holders) > 1 && pick(20) == 0 {
			i := pick(len(holders))
			holders = slices.Delete(slices.Clone(holders), i, i+1)
		}
		keys := make([]records.WrappedKey, len(holders))
		for i, hp := range holders {
			keys[i] = records.WrappedKey{Recipient: hp}
			keys[i].Enc[0], keys[i].CT[0] = byte(i+1), byte(m.hashes)
		}
		msg := &records.MsgAdd{ID: rec.id, Patient: p.addr, ResourceType: rec.typ,
			ContentHash: sha256.Sum256([]byte("property/content/" + strconv.Itoa(m.hashes))), Size: 100, Keys: keys}
		op := propertyOp{name: "add-record", msg: msg}
		if !isNew {
			op.name = "new-version"
		}
		ok, _ := m.decide(now, a.addr, p.addr, rec.id, rec.typ, consent.ActWrite)
		switch {
		case !ok:
			op.want = records.ErrNoWriteConsent
		case len(holders) != len(m.keyHolders(now, p.addr, rec.id, rec.typ)):
			op.want = records.ErrKeySet
		case rec.erased:
			op.want = records.ErrErased
		}
		op.apply = func() {
			if isNew {
				m.records = append(m.records, rec)
			}
			rec.version++
		}
		return op
	}
	erase := func(a *mActor) propertyOp {
		var mine []*mRecord
		for _, r := range m.records {
			if m.canActFor(a.addr, r.patient) {
				mine = append(mine, r)
			}
		}
		var rec *mRecord
		switch r := pick(10); {
		case r < 7 && len(mine) > 0:
			rec = mine[pick(len(mine))]
		case r < 9 && len(m.records) > 0:
			rec = m.records[pick(len(m.records))]
		}
		var id consent.RecordID
		if rec != nil {
			id = rec.id
		} else {
			id[0] = 0xEE
		}
		op := propertyOp{name: "erase", msg: &records.MsgErase{ID: id}}
		switch {
		case rec == nil:
			op.want = records.ErrNotFound
		case !m.canActFor(a.addr, rec.patient):
			op.want = records.ErrNotOwner
		case rec.erased:
			op.want = records.ErrErased
		}
		op.apply = func() { rec.erased = true }
		return op
	}
	setGuardian := func(a *mActor) propertyOp {
		g := anyActor()
		if pick(20) == 0 {
			g = a
		}
		op := propertyOp{name: "set-guardian", msg: &accounts.MsgSetGuardian{Guardian: g.addr}}
		switch {
		case !a.patient:
			op.want = accounts.ErrNotPatient
		case g == a:
			op.want = accounts.ErrSelf
		case !m.canSign(g):
			op.want = accounts.ErrInactiveAcct
		case m.guardians[a.addr][g.addr]:
			op.want = accounts.ErrDelegationSet
		}
		op.apply = func() {
			if m.guardians[a.addr] == nil {
				m.guardians[a.addr] = map[crypto.Address]bool{}
			}
			m.guardians[a.addr][g.addr] = true
		}
		return op
	}
	revokeGuardian := func(a *mActor) propertyOp {
		g := anyActor()
		var set []crypto.Address
		for x := range m.guardians[a.addr] {
			set = append(set, x)
		}
		slices.SortFunc(set, func(x, y crypto.Address) int { return bytes.Compare(x[:], y[:]) })
		if len(set) > 0 && pick(10) < 8 {
			g = m.byAddr[set[pick(len(set))]]
		}
		op := propertyOp{name: "revoke-guardian", msg: &accounts.MsgRevokeGuardian{Guardian: g.addr}}
		switch {
		case !a.patient:
			op.want = accounts.ErrNotPatient
		case !m.guardians[a.addr][g.addr]:
			op.want = accounts.ErrNoDelegation
		}
		op.apply = func() { delete(m.guardians[a.addr], g.addr) }
		return op
	}
	// Member-side operations.
	openEmergency := func(a *mActor, now int64) propertyOp {
		p := anyPatient()
		op := propertyOp{name: "open-emergency", msg: &consent.MsgOpenEmergency{Patient: p.addr, Reason: consent.EmergencyReasons[pick(len(consent.EmergencyReasons))]}}
		open := false
		for _, e := range m.emergencies {
			if e.patient == p.addr && e.doctor == a.addr && e.openAt(now) {
				open = true
			}
		}
		switch {
		case a.patient || a.role != accounts.RolePractitioner || !m.canSign(a):
			op.want = consent.ErrNotPractitioner
		case !m.custody(now, p.addr, a.org, nil, ""):
			op.want = consent.ErrNoCustodian
		case open:
			op.want = consent.ErrEmergencyOpen
		}
		op.apply = func() {
			m.emergencies = append(m.emergencies, &mEmergency{id: uint64(len(m.emergencies) + 1), patient: p.addr, doctor: a.addr, org: a.org,
				opened: now, expires: now + int64(m.params[consent.ParamEmergencySeconds])})
		}
		return op
	}
	review := func(a *mActor) propertyOp {
		id := uint64(len(m.emergencies) + 3)
		var e *mEmergency
		if len(m.emergencies) > 0 && pick(10) < 9 {
			e = m.emergencies[len(m.emergencies)-1-pick(min(len(m.emergencies), 4))]
			id = e.id
		}
		op := propertyOp{name: "review-emergency", msg: &consent.MsgReviewEmergency{ID: id, Review: consent.ReviewOutcomes[pick(len(consent.ReviewOutcomes))]}}
		switch {
		case e == nil:
			op.want = consent.ErrNoEmergency
		case m.adminOrg(a) != e.org:
			op.want = consent.ErrNotReviewer
		case e.reviewed:
			op.want = consent.ErrEmergencyReviewed
		}
		op.apply = func() { e.reviewed = true }
		return op
	}
	propose := func(a *mActor, now int64) propertyOp {
		p := &mProposal{votes: map[string]bool{}, status: gov.StatusOpen}
		msg := &gov.MsgPropose{Reason: "property test"}
		switch r := pick(10); {
		case r < 6:
			p.kind, p.param = gov.KindSetParam, paramNames[pick(len(paramNames))]
			switch p.param {
			case consent.ParamEmergencySeconds:
				p.value = uint64(30 + pick(300))
			case consent.ParamMaxConsentSeconds:
				p.value = uint64(86400 + pick(400*86400))
			case gov.ParamVotingPeriod:
				p.value = uint64(60 + pick(600))
			}
			if pick(10) == 0 {
				p.value = 1 // below every minimum
			}
			msg.Action = gov.Action{Kind: p.kind, Param: p.param, Value: p.value}
		case r < 9:
			p.kind, p.admin = gov.KindAddMember, fresh("admin")
			p.org = fmt.Sprintf("porg-%d", counter)
			if pick(2) == 0 {
				p.org = m.orgIDs[pick(len(m.orgIDs))]
			}
			msg.Action = gov.Action{Kind: p.kind, Org: accounts.GenesisOrg{ID: p.org, Name: "Property Clinic", Type: "clinic"},
				AdminPubKey: p.admin.PubKey(), AdminEncKey: p.admin.EncKey()}
		default:
			p.kind, p.org = gov.KindRemoveMember, m.orgIDs[pick(len(m.orgIDs))]
			msg.Action = gov.Action{Kind: p.kind, OrgID: p.org}
		}
		op := propertyOp{name: "propose-" + p.kind, msg: msg}
		org := m.adminOrg(a)
		switch {
		case org == "":
			op.want = gov.ErrNotMember
		case p.kind == gov.KindSetParam && reg.Validate(p.param, p.value) != nil:
			op.want = params.ErrOutOfRange
		}
		op.apply = func() {
			p.id = uint64(len(m.proposals) + 1)
			p.expires = now + int64(m.params[gov.ParamVotingPeriod])
			p.votes[org] = true
			m.proposals = append(m.proposals, p)
			m.tally(p)
		}
		return op
	}
	vote := func(a *mActor, now int64) propertyOp {
		id := uint64(len(m.proposals) + 5)
		var p *mProposal
		var open []*mProposal
		for _, x := range m.proposals {
			if x.status == gov.StatusOpen && now < x.expires {
				open = append(open, x)
			}
		}
		switch r := pick(10); {
		case r < 8 && len(open) > 0:
			p = open[pick(len(open))]
		case r < 9 && len(m.proposals) > 0:
			p = m.proposals[pick(len(m.proposals))]
		}
		if p != nil {
			id = p.id
		}
		approve := pick(4) != 0
		op := propertyOp{name: "vote", msg: &gov.MsgVote{ProposalID: id, Approve: approve}}
		org := m.adminOrg(a)
		switch {
		case org == "":
			op.want = gov.ErrNotMember
		case p == nil:
			op.want = gov.ErrNoProposal
		case p.status == gov.StatusOpen && now >= p.expires:
			op.want = gov.ErrExpired
		case p.status != gov.StatusOpen:
			op.want = gov.ErrClosed
		default:
			if _, voted := p.votes[org]; voted {
				op.want = gov.ErrAlreadyVoted
			}
		}
		op.apply = func() {
			p.votes[org] = approve
			m.tally(p)
		}
		return op
	}
	register := func(a *mActor) propertyOp {
		key := fresh("member")
		role := []string{accounts.RolePractitioner, accounts.RoleStaff}[pick(2)]
		op := propertyOp{name: "register-member", msg: &accounts.MsgRegisterMember{PubKey: key.PubKey(), EncKey: key.EncKey(), Role: role}}
		org := m.adminOrg(a)
		if org == "" {
			op.want = accounts.ErrNotAdmin
		}
		op.apply = func() {
			m.addActor(&mActor{name: "member " + key.Address().String(), key: key, org: org, role: role, active: true})
		}
		return op
	}
	deactivate := func(a *mActor) propertyOp {
		var x *mActor
		for range 5 {
			if x = anyActor(); x.org == a.org && !x.patient {
				break
			}
		}
		if pick(20) == 0 {
			x = a
		}
		op := propertyOp{name: "deactivate-member", msg: &accounts.MsgDeactivateMember{Address: x.addr}}
		org := m.adminOrg(a)
		switch {
		case org == "":
			op.want = accounts.ErrNotAdmin
		case x == a:
			op.want = accounts.ErrSelf
		case x.patient || x.org != org:
			op.want = accounts.ErrWrongOrg
		case !x.active:
			op.want = accounts.ErrInactiveAcct
		}
		op.apply = func() { x.active = false }
		return op
	}
	// ward: a patient the actor acts for (itself when a patient, else a
	// ward when it has one, else any patient: a refusal).
	ward := func(a *mActor) *mActor {
		if ws := m.wards(a); len(ws) > 0 && (!a.patient || pick(3) == 0) {
			return ws[pick(len(ws))]
		}
		if a.patient {
			return a
		}
		return anyPatient()
	}
	choose := func(a *mActor, now int64) propertyOp {
		r := pick(100)
		switch {
		case a.patient:
			switch {
			case r < 30:
				return grant(a, ward(a), now)
			case r < 42:
				return revoke(a, now)
			case r < 52:
				return setGuardian(a)
			case r < 57:
				return revokeGuardian(a)
			case r < 82:
				return addRecord(a, ward(a), now)
			case r < 90:
				return erase(a)
			case r < 93:
				return openEmergency(a, now)
			case r < 95:
				return propose(a, now)
			}
			return grant(a, anyPatient(), now)
		case a.role == accounts.RoleAdmin:
			switch {
			case r < 15:
				return propose(a, now)
			case r < 55:
				return vote(a, now)
			case r < 63:
				return register(a)
			case r < 68:
				return deactivate(a)
			case r < 82:
				return review(a)
			case r < 92:
				return addRecord(a, ward(a), now)
			}
			return grant(a, ward(a), now)
		default:
			switch {
			case r < 45:
				return addRecord(a, ward(a), now)
			case r < 70 && a.role == accounts.RolePractitioner:
				return openEmergency(a, now)
			case r < 78:
				return erase(a)
			case r < 86:
				return revoke(a, now)
			case r < 91:
				return setGuardian(a)
			case r < 93:
				return vote(a, now)
			}
			return grant(a, ward(a), now)
		}
	}

	ops := map[string]int{}
	reads := 0
	for b := 0; b < blocks; b++ {
		if pick(25) == 0 {
			h.Advance(time.Duration(1+pick(1200)) * time.Second)
		}
		now := h.NextTime().Unix()
		order := rng.Perm(len(m.actors))
		var txs [][]byte
		var want []propertyOp
		var signers []*mActor
		// Admins sign in most blocks (governance needs their votes);
		// inactive accounts now and then (refused before execution).
		for _, i := range order {
			if a := m.actors[i]; m.adminOrg(a) != "" && pick(4) != 0 {
				signers = append(signers, a)
			}
		}
		for _, i := range order {
			if a := m.actors[i]; len(signers) < 14 && !slices.Contains(signers, a) && (m.canSign(a) || pick(8) == 0) {
				signers = append(signers, a)
			}
		}
		for _, a := range signers {
			op := choose(a, now)
			if !m.canSign(a) {
				op.name, op.want, op.apply = op.name+"/inactive-signer", sm.ErrInactive, nil
				txs = append(txs, h.Sign(a.key, op.msg))
			} else {
				fee := uint64(0)
				if a.balance > 0 {
					fee = uint64(1 + pick(3))
					a.balance -= fee
				}
				txs = append(txs, h.SignFee(a.key, fee, op.msg))
				if op.want == nil {
					op.apply()
				}
			}
			want = append(want, op)
		}
		res := h.Deliver(t, txs...)
		h.ResyncAll()
		for i, op := range want {
			r := res[i]
			wantSpace, wantCode := "", uint32(0)
			if op.want != nil {
				wantSpace, wantCode = op.want.Codespace, op.want.Code
			}
			if r.Code != wantCode || r.Code != 0 && r.Codespace != wantSpace {
				t.Fatalf("seed %d block %d tx %d (%s, %T): model expects %s/%d, chain answered %s/%d %s",
					seed, h.Height, i, op.name, op.msg, wantSpace, wantCode, r.Codespace, r.Code, r.Log)
			}
			outcome := "ok"
			if op.want != nil {
				outcome = fmt.Sprintf("%s/%d", op.want.Codespace, op.want.Code)
			}
			ops[op.name+" "+outcome]++
		}
		reads += compareWithModel(t, h, m, rng, b%50 == 49 || b == blocks-1, seed)
	}
	total := 0
	for _, n := range ops {
		total += n
	}
	code := func(e *sm.Error) string { return e.Codespace + "/" + strconv.Itoa(int(e.Code)) }
	for _, must := range []string{"grant ok", "revoke ok", "add-record ok", "new-version ok", "erase ok", "set-guardian ok",
		"revoke-guardian ok", "open-emergency ok", "review-emergency ok", "vote ok", "register-member ok", "deactivate-member ok",
		"propose-set_param ok", "propose-add_member ok", "propose-remove_member ok",
		"grant " + code(consent.ErrNotPatientOrGuardian), "grant " + code(consent.ErrBadGrantee), "grant " + code(consent.ErrPeriodTooLong),
		"revoke " + code(consent.ErrRevoked), "add-record " + code(records.ErrNoWriteConsent), "add-record " + code(records.ErrKeySet),
		"new-version " + code(records.ErrErased), "erase " + code(records.ErrErased), "erase " + code(records.ErrNotOwner),
		"open-emergency " + code(consent.ErrNoCustodian), "vote " + code(gov.ErrAlreadyVoted), "vote " + code(gov.ErrClosed),
		"set-guardian " + code(accounts.ErrDelegationSet), "deactivate-member " + code(accounts.ErrWrongOrg)} {
		if blocks >= 250 && ops[must] == 0 {
			t.Errorf("the random sequence never produced %q", must)
		}
	}
	if blocks >= 250 && total < 3000 {
		t.Errorf("only %d operations", total)
	}
	var passed, failed int
	for _, p := range m.proposals {
		switch p.status {
		case gov.StatusPassed:
			passed++
		case gov.StatusFailed:
			failed++
		}
	}
	if blocks >= 250 && (passed == 0 || failed == 0) {
		t.Errorf("proposals: %d passed, %d failed; want some of each", passed, failed)
	}
	t.Logf("seed %d: %d blocks, %d operations, %d read decisions compared, %d consents, %d records, %d proposals (%d passed, %d failed)",
		seed, blocks, total, reads, len(m.consents), len(m.records), len(m.proposals), passed, failed)
	if testing.Verbose() {
		keys := make([]string, 0, len(ops))
		for k := range ops {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			t.Logf("  %-40s %d", k, ops[k])
		}
	}
}

// compareWithModel checks the committed state against the model at the last
// block's time; all read decisions when full, else a sample. It returns how
// many read decisions it compared.
func compareWithModel(t *testing.T, h *apptest.Harness, m *stateModel, rng *rand.Rand, full bool, seed int) int {
	t.Helper()
	st := h.State()
	now := h.Time.Unix()
	at := func() string { return fmt.Sprintf("seed %d block %d", seed, h.Height) }
	for _, a := range m.actors {
		acct := accounts.GetAccount(st, a.addr)
		if acct == nil {
			t.Fatalf("%s: %s has no account", at(), a.name)
		}
		if acct.Active != a.active || acct.Balance != a.balance || accounts.CanSign(st, acct) != m.canSign(a) {
			t.Fatalf("%s: %s: active %v balance %d can sign %v; model %v %d %v", at(), a.name, acct.Active, acct.Balance,
				accounts.CanSign(st, acct), a.active, a.balance, m.canSign(a))
		}
	}
	for id, o := range m.orgs {
		if got := accounts.GetOrg(st, id); got == nil || got.Active != o.active {
			t.Fatalf("%s: organization %s: %+v, model active %v", at(), id, got, o.active)
		}
	}
	for _, p := range m.patients() {
		var want []crypto.Address
		for g := range m.guardians[p.addr] {
			want = append(want, g)
		}
		slices.SortFunc(want, func(x, y crypto.Address) int { return bytes.Compare(x[:], y[:]) })
		if got := accounts.Guardians(st, p.addr); !slices.Equal(got, want) {
			t.Fatalf("%s: guardians of %s: %v, model %v", at(), p.name, got, want)
		}
		wantC := map[uint64]string{}
		for _, c := range m.consents {
			if c.patient == p.addr {
				wantC[c.id] = c.status(now)
			}
		}
		gotC := map[uint64]string{}
		for _, c := range consent.ByPatient(st, p.addr) {
			gotC[c.ID] = c.Status(now)
		}
		if fmt.Sprint(gotC) != fmt.Sprint(wantC) {
			t.Fatalf("%s: consents of %s (id: status): %v, model %v", at(), p.name, gotC, wantC)
		}
		wantE := map[uint64]bool{}
		for _, e := range m.emergencies {
			if e.patient == p.addr {
				wantE[e.id] = e.openAt(now)
			}
		}
		gotE := map[uint64]bool{}
		for _, e := range consent.EmergenciesOf(st, p.addr) {
			gotE[e.ID] = e.OpenAt(now)
		}
		if fmt.Sprint(gotE) != fmt.Sprint(wantE) {
			t.Fatalf("%s: emergency accesses of %s (id: open): %v, model %v", at(), p.name, gotE, wantE)
		}
	}
	for name, v := range m.params {
		if got := h.App.Params().Get(st, name); got != v {
			t.Fatalf("%s: %s = %d, model %d", at(), name, got, v)
		}
	}
	for _, p := range m.proposals {
		got := gov.GetProposal(st, p.id)
		want := p.status
		if want == gov.StatusOpen && now >= p.expires {
			want = gov.StatusExpired
		}
		if got == nil || got.StatusAt(now) != want {
			t.Fatalf("%s: proposal %d (%s): %+v, model %s", at(), p.id, p.kind, got, want)
		}
	}
	for _, r := range m.records {
		got := records.GetRecord(st, r.id)
		if got == nil || got.Version != r.version || (got.Erased != 0) != r.erased {
			t.Fatalf("%s: record %x: %+v, model version %d erased %v", at(), r.id, got, r.version, r.erased)
		}
	}
	n := 0
	check := func(a *mActor, r *mRecord) {
		n++
		d := records.MayRead(st, now, a.addr, records.GetRecord(st, r.id))
		ok, basis := false, consent.Basis("")
		if !r.erased {
			ok, basis = m.decide(now, a.addr, r.patient, r.id, r.typ, consent.ActRead)
		}
		if d.Allowed != ok || ok && d.Basis != basis {
			t.Fatalf("%s: may %s read record %x of %s? chain %v (%s, %v), model %v (%s)", at(), a.name, r.id, m.byAddr[r.patient].name,
				d.Allowed, d.Basis, d.Err, ok, basis)
		}
	}
	if len(m.records) == 0 {
		return 0
	}
	if full {
		for _, a := range m.actors {
			for _, r := range m.records {
				check(a, r)
			}
		}
		return n
	}
	for range 40 {
		check(m.actors[rng.IntN(len(m.actors))], m.records[rng.IntN(len(m.records))])
	}
	return n
}
