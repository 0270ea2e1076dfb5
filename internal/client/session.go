package client

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/hex"

	"fmt"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/crypto/envelope"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/session"
)

// Sessions and key rotation, from the user's side: everything that needs
// the account's private key happens here, on the user's device.

// AccountOf returns the account a signing key signs for: the account a
// key rotation bound it to (read from the node's proven state), else the
// key's own address.
func (c *Client) AccountOf(ctx context.Context, pub crypto.PubKey) (crypto.Address, error) {
	p, err := c.Proof(ctx, accounts.SigningKeyKey(pub), 0)
	if err != nil {
		return crypto.Address{}, err
	}
	if !p.Exists {
		return pub.Address(), nil
	}
	if len(p.Value) != 1+crypto.AddressSize || p.Value[0] != accounts.BoundRotated {
		return crypto.Address{}, fmt.Errorf("key %s is not an account key (a session key?)", pub)
	}
	var a crypto.Address
	copy(a[:], p.Value[1:])
	return a, nil
}

// NewAccountSigner is NewSigner for the account the key signs for now
// (after a key rotation, not the key's own address).
func (c *Client) NewAccountSigner(ctx context.Context, key *crypto.PrivKey) (*Signer, crypto.Address, error) {
	addr, err := c.AccountOf(ctx, key.PubKey())
	if err != nil {
		return nil, addr, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, addr, err
	}
	seq, err := c.Sequence(ctx, addr)
	if err != nil {
		return nil, addr, err
	}
	return &Signer{Key: key, ChainID: st.ChainID, Seq: seq}, addr, nil
}

// HeldKey is a record version's data key as wrapped to an account.
type HeldKey struct {
	ID      consent.RecordID
	Version uint32
	Type    string
	Patient crypto.Address
	Wrapped envelope.WrappedKey
}

// HeldKeys lists every record version whose data key is wrapped to the
// account, among the records of the account itself (a patient), of the
// patients whose consents name it, and of the patients in also (the chain
// keeps no listing of a guardian's wards: name them). Erased records are
// skipped, and so are the account's own records when it is not a patient
// and the patients of consents that no longer give the account grounds to
// list their records (expired or revoked). These are
// patient-data reads: c must sign them with the account's key (As).
func (c *Client) HeldKeys(ctx context.Context, account crypto.Address, also ...crypto.Address) ([]HeldKey, error) {
	patients := []crypto.Address{account}
	for _, p := range also {
		if !containsAddr(patients, p) {
			patients = append(patients, p)
		}
	}
	var cs struct {
		Consents []api.ConsentView `json:"consents"`
	}
	if err := c.Get(ctx, "/v1/grantees/"+account.String()+"/consents", &cs); err != nil {
		return nil, fmt.Errorf("consents naming %s: %w", account, err)
	}
	named := len(patients)
	for _, cv := range cs.Consents {
		p, err := crypto.ParseAddress(cv.Patient)
		if err == nil && !containsAddr(patients, p) {
			patients = append(patients, p)
		}
	}
	me := consent.Account(account)
	var out []HeldKey
	for i, p := range patients {
		recs, err := c.Records(ctx, p)
		if err != nil && !IsNotFound(err) {
			// The account's own records when it is no patient (a member
			// has none), and patients only an inactive consent names:
			// refused, nothing held to list. A named ward refused is an
			// error.
			if (i == 0 || i >= named) && IsForbidden(err) {
				continue
			}
			return nil, fmt.Errorf("records of %s: %w", p, err)
		}
		for _, rv := range recs {
			if rv.Erased != nil {
				continue
			}
			var id consent.RecordID
			if b, err := hex.DecodeString(rv.ID); err != nil || len(b) != len(id) {
				return nil, fmt.Errorf("record id %q", rv.ID)
			} else {
				copy(id[:], b)
			}
			full, err := c.Record(ctx, id, me.String())
			if err != nil {
				return nil, err
			}
			for _, ver := range full.Versions {
				for _, k := range ver.Keys {
					party, err := partyOf(k.Recipient)
					if err != nil || !bytes.Equal(party.Key(), me.Key()) {
						continue
					}
					wk, err := parseWrapped(k.Enc, k.CT)
					if err != nil {
						return nil, err
					}
					out = append(out, HeldKey{ID: id, Version: ver.Version, Type: rv.Type, Patient: p, Wrapped: wk})
				}
			}
		}
	}
	return out, nil
}

func containsAddr(as []crypto.Address, a crypto.Address) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// Rekey opens each held key with priv and wraps it to the key to, sorted
// as records/rewrap and records/session_keys require. The data keys exist
// only in this function's memory and are zeroed.
func Rekey(priv *ecdh.PrivateKey, to crypto.EncKey, ks []HeldKey) ([]records.Rekey, error) {
	out := make([]records.Rekey, 0, len(ks))
	for _, k := range ks {
		dk, err := envelope.Unwrap(priv, k.Wrapped, k.ID, k.Version)
		if err != nil {
			return nil, fmt.Errorf("record %x version %d: %w", k.ID, k.Version, err)
		}
		w, err := envelope.Wrap(nil, to, dk, k.ID, k.Version)
		clear(dk[:])
		if err != nil {
			return nil, err
		}
		out = append(out, records.Rekey{ID: k.ID, Version: k.Version, Enc: w.Enc, CT: w.CT})
	}
	records.SortRekeys(out)
	return out, nil
}

// sendChunks submits the re-wrapped keys in messages of at most
// records.MaxRekeys keys, waiting for each block.
func (c *Client) sendChunks(ctx context.Context, s *Signer, ks []records.Rekey, msg func([]records.Rekey) sm.Msg) error {
	for len(ks) > 0 {
		n := min(len(ks), records.MaxRekeys)
		if _, err := c.SubmitRaw(ctx, s.Sign(msg(ks[:n])), true); err != nil {
			return err
		}
		ks = ks[n:]
	}
	return nil
}

// StartSession puts a session on chain for the signer's account: it
// delegates to sk within l (session/delegate, signed by the account's key),
// then registers, wrapped to sk's encryption key, the data keys the account
// holds for the records l covers (records/session_keys; see HeldKeys for
// also). It waits for every
// block and returns the number of keys registered. The account's own key
// never leaves this process.
func (c *Client) StartSession(ctx context.Context, s *Signer, account crypto.Address, sk *crypto.PrivKey, l session.Limits, also ...crypto.Address) (int, error) {
	if _, err := c.SubmitRaw(ctx, s.Sign(session.NewDelegate(s.ChainID, account, sk, l)), true); err != nil {
		return 0, fmt.Errorf("session/delegate: %w", err)
	}
	rc := c.As(s.Key, s.ChainID) // patient-data reads, signed as the account
	held, err := rc.HeldKeys(ctx, account, also...)
	if err != nil {
		return 0, err
	}
	// Only what the session covers and the account may read now: a key
	// held from a consent since revoked is not passed on.
	var covered []HeldKey
	readable := map[consent.RecordID]bool{}
	for _, k := range held {
		if !l.Covers(k.ID, k.Type) {
			continue
		}
		ok, seen := readable[k.ID]
		if !seen {
			var av api.AccessView
			if err := rc.Get(ctx, fmt.Sprintf("/v1/records/%x/access?reader=%s", k.ID[:], account), &av); err != nil {
				return 0, fmt.Errorf("access of %s to record %x: %w", account, k.ID, err)
			}
			ok = av.Allowed
			readable[k.ID] = ok
		}
		if ok {
			covered = append(covered, k)
		}
	}
	ks, err := Rekey(s.Key.ECDH(), sk.EncKey(), covered)
	if err != nil {
		return 0, err
	}
	pub := sk.PubKey()
	err = c.sendChunks(ctx, s, ks, func(part []records.Rekey) sm.Msg { return &records.MsgSessionKeys{Session: pub, Keys: part} })
	if err != nil {
		return 0, fmt.Errorf("records/session_keys: %w", err)
	}
	return len(ks), nil
}

// RotateKeys replaces the account's signing and encryption keys with next
// and re-wraps, to next's encryption key, every record key the account
// holds, so no record is lost. The keys are re-wrapped in memory before the
// rotation is submitted (the old private key opens them); the rotation is
// signed by the old key, the re-wrapped keys by the new one. It returns the
// number of keys re-wrapped.
func (c *Client) RotateKeys(ctx context.Context, s *Signer, account crypto.Address, next *crypto.PrivKey, also ...crypto.Address) (int, error) {
	held, err := c.As(s.Key, s.ChainID).HeldKeys(ctx, account, also...)
	if err != nil {
		return 0, err
	}
	ks, err := Rekey(s.Key.ECDH(), next.EncKey(), held)
	if err != nil {
		return 0, err
	}
	if _, err := c.SubmitRaw(ctx, s.Sign(accounts.NewRotateKeys(s.ChainID, account, s.Key.PubKey(), next)), true); err != nil {
		return 0, fmt.Errorf("accounts/rotate_keys: %w", err)
	}
	ns := &Signer{Key: next, ChainID: s.ChainID, Seq: s.Seq, Fee: s.Fee}
	if err := c.sendChunks(ctx, ns, ks, func(part []records.Rekey) sm.Msg { return &records.MsgRewrap{Keys: part} }); err != nil {
		return 0, fmt.Errorf("records/rewrap: %w (the keys are rotated; finish with Rewrap and the old key)", err)
	}
	return len(ks), nil
}

// Rewrap re-wraps to the signer's (new) encryption key the account's record
// keys that the old key still opens: it finishes a rotation whose re-wrap
// was interrupted. Keys already re-wrapped are left alone. It returns the
// number of keys re-wrapped.
func (c *Client) Rewrap(ctx context.Context, s *Signer, account crypto.Address, old *crypto.PrivKey, also ...crypto.Address) (int, error) {
	held, err := c.As(s.Key, s.ChainID).HeldKeys(ctx, account, also...)
	if err != nil {
		return 0, err
	}
	var todo []HeldKey
	for _, k := range held {
		if dk, err := envelope.Unwrap(old.ECDH(), k.Wrapped, k.ID, k.Version); err == nil {
			clear(dk[:])
			todo = append(todo, k)
		}
	}
	ks, err := Rekey(old.ECDH(), s.Key.EncKey(), todo)
	if err != nil {
		return 0, err
	}
	if err := c.sendChunks(ctx, s, ks, func(part []records.Rekey) sm.Msg { return &records.MsgRewrap{Keys: part} }); err != nil {
		return 0, fmt.Errorf("records/rewrap: %w", err)
	}
	return len(ks), nil
}
