package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/crypto/envelope"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/internal/fhirsubject"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// requestTTL is how long a signed blob or key request stays valid.
const requestTTL = 2 * time.Minute

// signed performs a request signed with key (internal/reqsig).
func (c *Client) signed(ctx context.Context, key *crypto.PrivKey, chainID, method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	if err := reqsig.Sign(req, key, chainID, time.Now(), requestTTL, body); err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 128<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, c.errorOf(resp, out)
	}
	return out, nil
}

// Record returns a record's metadata with its versions (and the wrapped keys
// of keysFor, when given).
func (c *Client) Record(ctx context.Context, id consent.RecordID, keysFor string) (*api.RecordView, error) {
	path := "/v1/records/" + hex.EncodeToString(id[:])
	if keysFor != "" {
		path += "?keys_for=" + keysFor
	}
	var v api.RecordView
	err := c.Get(ctx, path, &v)
	if e, ok := err.(*Error); ok && e.Status == http.StatusGone {
		// The body of a 410 is the record's metadata with its tombstone.
		if json.Unmarshal([]byte(e.Message), &v) == nil && v.Erased != nil {
			return &v, &Error{Status: http.StatusGone, ErrorBody: api.ErrorBody{Code: records.ErrErased.Code, Codespace: records.Codespace,
				Message: fmt.Sprintf("gone: record %x was erased at %s", id, v.Erased.Format(time.RFC3339))}}
		}
	}
	return &v, err
}

// Records lists a patient's records.
func (c *Client) Records(ctx context.Context, patient crypto.Address) ([]api.RecordView, error) {
	var out struct {
		Records []api.RecordView `json:"records"`
	}
	return out.Records, c.Get(ctx, "/v1/patients/"+patient.String()+"/records", &out)
}

// KeyHolder is a party that must receive a record's data key.
type KeyHolder struct {
	Party  consent.Party
	EncKey crypto.EncKey
}

// KeyHolders asks which parties must hold the data key of a new record
// (or version) of a type for a patient, with their encryption keys.
func (c *Client) KeyHolders(ctx context.Context, patient crypto.Address, typ string, id consent.RecordID) ([]KeyHolder, error) {
	var out struct {
		KeyHolders []api.PartyView `json:"key_holders"`
	}
	path := fmt.Sprintf("/v1/patients/%s/key-holders?type=%s&record=%x", patient, typ, id[:])
	if err := c.Get(ctx, path, &out); err != nil {
		return nil, err
	}
	hs := make([]KeyHolder, 0, len(out.KeyHolders))
	for _, pv := range out.KeyHolders {
		p, err := partyOf(pv)
		if err != nil {
			return nil, err
		}
		k, err := crypto.ParseEncKey(pv.EncKey)
		if err != nil {
			return nil, err
		}
		hs = append(hs, KeyHolder{Party: p, EncKey: k})
	}
	return hs, nil
}

func partyOf(pv api.PartyView) (consent.Party, error) {
	if pv.Kind == "org" {
		return consent.Org(pv.Org), nil
	}
	a, err := crypto.ParseAddress(pv.Address)
	if err != nil {
		return consent.Party{}, err
	}
	return consent.Account(a), nil
}

// wrapFor wraps a data key for each key holder, sorted as the chain wants.
func wrapFor(holders []KeyHolder, dk [32]byte, id consent.RecordID, version uint32) ([]records.WrappedKey, error) {
	keys := make([]records.WrappedKey, 0, len(holders))
	for _, h := range holders {
		w, err := envelope.Wrap(nil, h.EncKey, dk, id, version)
		if err != nil {
			return nil, err
		}
		keys = append(keys, records.WrappedKey{Recipient: h.Party, Enc: w.Enc, CT: w.CT})
	}
	slices.SortFunc(keys, func(a, b records.WrappedKey) int { return bytes.Compare(a.Recipient.Key(), b.Recipient.Key()) })
	return keys, nil
}

// AddResult is the outcome of adding a record.
type AddResult struct {
	ID      consent.RecordID
	Version uint32
	Type    string
	Tx      *api.TxResult
}

// AddRecord validates a FHIR R4 resource, encrypts it under a fresh data
// key, uploads the ciphertext and registers it for patient with the key
// wrapped for every entitled party. With an existing id it adds a new
// version of that record.
func (c *Client) AddRecord(ctx context.Context, s *Signer, patient crypto.Address, fhirJSON []byte, existing *consent.RecordID) (*AddResult, error) {
	res, err := fhirr4.Parse(fhirJSON)
	if err != nil {
		return nil, err
	}
	if err := c.CheckSubject(ctx, res.Type, fhirJSON, patient); err != nil {
		return nil, err
	}
	c = c.As(s.Key, s.ChainID) // the record and key-holder reads are signed
	var id consent.RecordID
	version := uint32(1)
	if existing != nil {
		id = *existing
		rec, err := c.Record(ctx, id, "")
		if err != nil {
			return nil, err
		}
		version = rec.Version + 1
	} else if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	ct, dk, err := envelope.Seal(nil, fhirJSON, id, patient)
	if err != nil {
		return nil, err
	}
	defer clear(dk[:])
	holders, err := c.KeyHolders(ctx, patient, res.Type, id)
	if err != nil {
		return nil, err
	}
	keys, err := wrapFor(holders, dk, id, version)
	if err != nil {
		return nil, err
	}
	h := sha256Sum(ct)
	if _, err := c.signed(ctx, s.Key, s.ChainID, http.MethodPut, "/v1/blobs/"+hex.EncodeToString(h[:]), ct); err != nil {
		return nil, fmt.Errorf("upload ciphertext: %w", err)
	}
	msg := &records.MsgAdd{ID: id, Patient: patient, ResourceType: res.Type, ContentHash: h, Size: uint64(len(ct)), Keys: keys}
	tx, err := c.SubmitSigned(ctx, s, msg, true)
	if err != nil {
		return nil, err
	}
	return &AddResult{ID: id, Version: version, Type: res.Type, Tx: tx}, nil
}

// CheckSubject checks that a FHIR R4 resource (JSON, already valid) of type
// typ is about patient (internal/fhirsubject): a record is never filed in
// another patient's chart. Patient/{id} references to Patient records are
// looked up on the node. The error matches fhirsubject.ErrOtherPatient or
// fhirsubject.ErrUnresolved.
func (c *Client) CheckSubject(ctx context.Context, typ string, fhirJSON []byte, patient crypto.Address) error {
	var res map[string]any
	if err := json.Unmarshal(fhirJSON, &res); err != nil {
		return err
	}
	var lookupErr error
	lookup := func(id consent.RecordID) (crypto.Address, string, bool) {
		rec, err := c.Record(ctx, id, "")
		if err != nil {
			if !IsNotFound(err) {
				lookupErr = err
			}
			return crypto.Address{}, "", false
		}
		p, err := crypto.ParseAddress(rec.Patient)
		if err != nil || rec.Erased != nil {
			return crypto.Address{}, "", false
		}
		return p, rec.Type, true
	}
	err := fhirsubject.Check(typ, res, patient, c.Base+"/fhir", lookup)
	if err != nil && lookupErr != nil {
		return fmt.Errorf("%w (looking the reference up: %v)", err, lookupErr)
	}
	return err
}

// ReadRecord fetches, verifies and decrypts a record version (0: latest)
// for the holder of key. The node records the read in the audit trail.
func (c *Client) ReadRecord(ctx context.Context, key *crypto.PrivKey, chainID string, id consent.RecordID, version uint32) ([]byte, *api.RecordView, error) {
	c = c.As(key, chainID)
	rec, err := c.Record(ctx, id, "")
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusForbidden {
		// No grounds to see the record: ask its node for the key anyway,
		// so the gateway decides from consent, records the refused attempt
		// in the patient's trail, and answers with the chain's reason.
		if _, kerr := c.signed(ctx, key, chainID, http.MethodGet, fmt.Sprintf("/v1/records/%x/key", id[:]), nil); kerr != nil {
			return nil, rec, kerr
		}
	}
	if err != nil {
		return nil, rec, err
	}
	if version == 0 {
		version = rec.Version
	}
	var ver *api.VersionView
	for i := range rec.Versions {
		if rec.Versions[i].Version == version {
			ver = &rec.Versions[i]
		}
	}
	if ver == nil {
		return nil, rec, fmt.Errorf("record %x has no version %d", id, version)
	}
	patient, err := crypto.ParseAddress(rec.Patient)
	if err != nil {
		return nil, rec, err
	}
	// The blob first: the node decides and records the access.
	ct, err := c.signed(ctx, key, chainID, http.MethodGet, "/v1/blobs/"+ver.ContentHash, nil)
	if err != nil {
		return nil, rec, err
	}
	if got := sha256Sum(ct); hex.EncodeToString(got[:]) != ver.ContentHash {
		return nil, rec, fmt.Errorf("ciphertext does not match the hash on chain")
	}
	kb, err := c.signed(ctx, key, chainID, http.MethodGet, fmt.Sprintf("/v1/records/%x/key?version=%d", id[:], version), nil)
	if err != nil {
		return nil, rec, err
	}
	var kr struct{ Enc, CT string }
	if err := json.Unmarshal(kb, &kr); err != nil {
		return nil, rec, err
	}
	wk, err := parseWrapped(kr.Enc, kr.CT)
	if err != nil {
		return nil, rec, err
	}
	dk, err := envelope.Unwrap(key.ECDH(), wk, id, version)
	if err != nil {
		return nil, rec, err
	}
	defer clear(dk[:])
	pt, err := envelope.Open(ct, dk, id, patient)
	return pt, rec, err
}

func parseWrapped(encHex, ctHex string) (envelope.WrappedKey, error) {
	var w envelope.WrappedKey
	e, err1 := hex.DecodeString(encHex)
	c, err2 := hex.DecodeString(ctHex)
	if err1 != nil || err2 != nil || len(e) != len(w.Enc) || len(c) != len(w.CT) {
		return w, fmt.Errorf("malformed wrapped key")
	}
	copy(w.Enc[:], e)
	copy(w.CT[:], c)
	return w, nil
}

// GrantResult is the outcome of a grant.
type GrantResult struct {
	ConsentID uint64
	Tx        *api.TxResult
	Shared    int // record versions whose key was wrapped for the grantee
}

// Grant submits a consent and, for a read consent, wraps the data keys of
// the patient's covered existing records for the grantee (records/share).
// s must be the patient or a guardian: it opens the keys wrapped for it.
func (c *Client) Grant(ctx context.Context, s *Signer, m *consent.MsgGrant) (*GrantResult, error) {
	tx, err := c.SubmitSigned(ctx, s, m, true)
	if err != nil {
		return nil, err
	}
	out := &GrantResult{Tx: tx}
	for _, e := range tx.Events {
		if e.Type == "consent_granted" {
			out.ConsentID, _ = strconv.ParseUint(e.Attrs["id"], 10, 64)
		}
	}
	if m.Actions&consent.ActRead == 0 {
		return out, nil
	}
	granteeKey, err := c.encKeyOf(ctx, m.Grantee)
	if err != nil {
		return out, err
	}
	n, err := c.ShareCovered(ctx, s, m.Patient, &consent.Consent{Types: m.Types, Records: m.Records}, m.Grantee, granteeKey)
	out.Shared = n
	return out, err
}

func (c *Client) encKeyOf(ctx context.Context, p consent.Party) (crypto.EncKey, error) {
	if p.Kind == consent.PartyOrg {
		var o api.OrgView
		if err := c.Get(ctx, "/v1/orgs/"+p.Org, &o); err != nil {
			return crypto.EncKey{}, err
		}
		return crypto.ParseEncKey(o.EncKey)
	}
	a, err := c.Account(ctx, p.Address)
	if err != nil {
		return crypto.EncKey{}, err
	}
	return crypto.ParseEncKey(a.EncKey)
}

// ShareCovered wraps, for the grantee, the keys of every version of the
// patient's records that scope covers and the grantee does not hold yet.
func (c *Client) ShareCovered(ctx context.Context, s *Signer, patient crypto.Address, scope *consent.Consent, grantee consent.Party, granteeKey crypto.EncKey) (int, error) {
	c = c.As(s.Key, s.ChainID)
	recs, err := c.Records(ctx, patient)
	if err != nil {
		return 0, err
	}
	me := consent.Account(s.Key.Address())
	shared := 0
	for _, rv := range recs {
		if rv.Erased != nil {
			continue
		}
		var id consent.RecordID
		b, _ := hex.DecodeString(rv.ID)
		copy(id[:], b)
		if !scope.Covers(id, rv.Type) {
			continue
		}
		full, err := c.Record(ctx, id, "")
		if err != nil {
			return shared, err
		}
		for _, ver := range full.Versions {
			var mine *api.WrappedKeyView
			has := false
			for i, k := range ver.Keys {
				p, err := partyOf(k.Recipient)
				if err != nil {
					continue
				}
				if bytes.Equal(p.Key(), me.Key()) {
					mine = &ver.Keys[i]
				}
				if bytes.Equal(p.Key(), grantee.Key()) {
					has = true
				}
			}
			if has {
				continue
			}
			if mine == nil {
				return shared, fmt.Errorf("record %s version %d: no key for %s to share", rv.ID, ver.Version, me)
			}
			wk, err := parseWrapped(mine.Enc, mine.CT)
			if err != nil {
				return shared, err
			}
			dk, err := envelope.Unwrap(s.Key.ECDH(), wk, id, ver.Version)
			if err != nil {
				return shared, err
			}
			keys, err := wrapFor([]KeyHolder{{Party: grantee, EncKey: granteeKey}}, dk, id, ver.Version)
			clear(dk[:])
			if err != nil {
				return shared, err
			}
			if _, err := c.SubmitSigned(ctx, s, &records.MsgShare{ID: id, Version: ver.Version, Keys: keys}, true); err != nil {
				return shared, err
			}
			shared++
		}
	}
	return shared, nil
}
