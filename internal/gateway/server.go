package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/crypto/envelope"
	"github.com/medchain/medchain/internal/blob"
	"github.com/medchain/medchain/internal/ratelimit"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
	"github.com/medchain/medchain/x/session"
)

// Codespace of gateway errors (HTTP responses, never transaction results).
const Codespace = "gateway"

// Errors; codes are stable.
var (
	ErrUnauthenticated = sm.Register(Codespace, 1, "request signature missing, invalid, expired or replayed")
	ErrUnknownAccount  = sm.Register(Codespace, 2, "the signing key has no active account")
	ErrNoRecord        = sm.Register(Codespace, 3, "no record has this content")
	ErrGone            = sm.Register(Codespace, 4, "gone: the record was erased")
	ErrNoBlob          = sm.Register(Codespace, 5, "ciphertext not available on this node or its peers")
	ErrOtherOrg        = sm.Register(Codespace, 6, "the key is held by another organization: read through one of its nodes")
	ErrNotShared       = sm.Register(Codespace, 7, "no key for you on this version yet: the patient must share it")
	ErrNoGateway       = sm.Register(Codespace, 8, "this node has no gateway key configured")
	ErrBadUpload       = sm.Register(Codespace, 9, "upload rejected")
	ErrNotForwarder    = sm.Register(Codespace, 10, "forwarding node is not an active gateway")
	ErrNotRecorded     = sm.Register(Codespace, 11, "the access could not be recorded in the audit outbox: not served")
)

// State is the committed state the gateway decides from.
type State interface {
	// Latest returns the latest committed state and its block time.
	Latest() (*merkle.Snapshot, time.Time, error)
}

// Server serves ciphertext and re-wrapped keys to authorized requesters.
type Server struct {
	Key      *crypto.PrivKey // the gateway account's key; its X25519 key is the organization's
	ChainID  string
	Blobs    blob.Store
	State    State
	Auditor  *Auditor
	Verifier *reqsig.Verifier
	Peers    []string // API base URLs of other nodes
	HTTP     *http.Client
	Log      *slog.Logger
	MaxBlob  int64
	Now      func() time.Time
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func writeErr(w http.ResponseWriter, status int, err error) {
	code, space, msg := sm.ABCIInfo(err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "codespace": space, "message": msg})
}

// requester authenticates a signed request and loads the signer's account:
// the account of its current key, or of a live session key (x/session),
// whose limits then bound what it may read. bodyHash is the SHA-256 of the
// body the request signed: of no bytes for a GET, the content hash the path
// names for an upload (checked against the body once read).
func (s *Server) requester(w http.ResponseWriter, r *http.Request, bodyHash [32]byte, snap store.Reader, blockTime time.Time) (*accounts.Account, *session.Session, bool, bool) {
	var pub crypto.PubKey
	var err error
	forwarded := reqsig.IsForwarded(r)
	if forwarded {
		var fwd crypto.PubKey
		pub, fwd, err = s.Verifier.VerifyForwardedHash(r, bodyHash)
		if err == nil {
			if g := accounts.ActiveMember(snap, fwd.Address(), accounts.RoleGateway); g == nil {
				writeErr(w, http.StatusForbidden, sm.Wrapf(ErrNotForwarder, "%s", fwd.Address()))
				return nil, nil, false, false
			}
		}
	} else {
		pub, err = s.Verifier.VerifyHash(r, bodyHash)
	}
	if err != nil {
		ratelimit.SetRetryAfter(w.Header(), err)
		writeErr(w, reqsig.StatusCode(err), sm.Wrapf(ErrUnauthenticated, "%v", err))
		return nil, nil, false, false
	}
	a, sess, err := session.Reader(snap, pub, blockTime.Unix())
	if err == nil && !accounts.CanSign(snap, a) {
		err = sm.ErrInactive
	}
	if err != nil {
		writeErr(w, http.StatusForbidden, sm.Wrapf(ErrUnknownAccount, "key %s: %v", pub, err))
		return nil, nil, false, false
	}
	return a, sess, forwarded, true
}

// outsideSession refuses a read by a session key of a record its limits do
// not cover.
func outsideSession(sess *session.Session, rec *records.Record) error {
	if sess != nil && !sess.Limits.Covers(rec.ID, rec.Type) {
		return sm.Wrapf(session.ErrNotCovered, "%s/%x", rec.Type, rec.ID)
	}
	return nil
}

// emptyHash is the SHA-256 of no bytes: the body hash of a signed GET.
var emptyHash = sha256.Sum256(nil)

// PutBlob stores ciphertext uploaded by an active account (PUT /v1/blobs/{hash}).
// Blobs that no record references are removed by Janitor after a grace period.
func (s *Server) PutBlob(w http.ResponseWriter, r *http.Request) {
	h, err := blob.ParseHash(r.PathValue("hash"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadUpload, "%v", err))
		return
	}
	if r.ContentLength > s.MaxBlob {
		writeErr(w, http.StatusRequestEntityTooLarge, sm.Wrapf(ErrBadUpload, "larger than %d bytes", s.MaxBlob))
		return
	}
	snap, blockTime, err := s.State.Latest()
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err)
		return
	}
	// Authenticated before the body is read: the signature covers the
	// body's hash, which is the content hash the path names.
	if _, _, _, ok := s.requester(w, r, h, snap, blockTime); !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.MaxBlob+1))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadUpload, "read: %v", err))
		return
	}
	if int64(len(body)) > s.MaxBlob {
		writeErr(w, http.StatusRequestEntityTooLarge, sm.Wrapf(ErrBadUpload, "larger than %d bytes", s.MaxBlob))
		return
	}
	if err := s.Blobs.PutExpect(r.Context(), h, body); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, blob.ErrHashMismatch) {
			status = http.StatusBadRequest
		}
		writeErr(w, status, sm.Wrapf(ErrBadUpload, "%v", err))
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// GetBlob serves ciphertext to a requester the chain authorizes (GET
// /v1/blobs/{hash}); every served read and every refusal goes to the trail.
func (s *Server) GetBlob(w http.ResponseWriter, r *http.Request) {
	h, err := blob.ParseHash(r.PathValue("hash"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrNoRecord, "%v", err))
		return
	}
	snap, blockTime, err := s.State.Latest()
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err)
		return
	}
	acct, sess, forwarded, ok := s.requester(w, r, emptyHash, snap, blockTime)
	if !ok {
		return
	}
	// ByHash believes its index entry only when the version it names carries
	// the content hash h.
	rec, ver := records.ByHash(snap, h)
	if rec == nil || ver == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrNoRecord, "%x", h))
		return
	}
	d := records.MayRead(snap, blockTime.Unix(), acct.Address, rec)
	if errors.Is(d.Err, records.ErrErased) {
		writeErr(w, http.StatusGone, sm.Wrapf(ErrGone, "record %x erased", rec.ID))
		return
	}
	// The node the requester came to reports the access, once; a peer
	// answering a forwarded request does not.
	report := func(why error) error {
		if forwarded {
			return nil
		}
		return s.report(r, rec, ver.Version, acct.Address, d, why)
	}
	if !d.Allowed {
		_ = report(d.Err)
		writeErr(w, http.StatusForbidden, d.Err)
		return
	}
	if err := outsideSession(sess, rec); err != nil {
		_ = report(err)
		writeErr(w, http.StatusForbidden, err)
		return
	}
	data, err := s.Blobs.Get(r.Context(), h)
	if errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrCorrupt) {
		data, err = s.fetchFromPeers(r, h)
	}
	// The bytes served are the ones the chain registered, whatever the blob
	// store (any implementation, local or remote) or a peer returned.
	if err == nil && (blob.Sum(data) != h || ver.ContentHash != h) {
		err = fmt.Errorf("%w: the bytes found do not hash to %s", blob.ErrCorrupt, blob.HashString(h))
	}
	if err != nil {
		err = sm.Wrapf(ErrNoBlob, "%v", err)
		_ = report(err)
		writeErr(w, http.StatusNotFound, err)
		return
	}
	if err := report(nil); err != nil {
		writeErr(w, http.StatusServiceUnavailable, sm.Wrapf(ErrNotRecorded, "%v", err))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Medchain-Record", hex.EncodeToString(rec.ID[:]))
	w.Header().Set("X-Medchain-Version", strconv.FormatUint(uint64(ver.Version), 10))
	_, _ = w.Write(data)
}

// report records an access event durably: a served read, or a refusal
// with its code. The requester's signed request r goes with it, so the chain
// can check who asked for which record. An error means the event is not
// recorded: a read must then not be served.
func (s *Server) report(r *http.Request, rec *records.Record, version uint32, accessor crypto.Address, d consent.Decision, why error) error {
	proof, err := RequestProof(r)
	if err != nil {
		return err
	}
	return s.Auditor.Report(audit.Access(rec, version, accessor, s.now().Unix(), d, why, proof))
}

// RequestProof is the proof of a signed GET request (internal/reqsig) whose
// signature was verified: what the chain needs to check it again.
func RequestProof(r *http.Request) (*audit.Proof, error) {
	if r.Method != http.MethodGet {
		return nil, fmt.Errorf("audit: only signed GET requests back access events, not %s", r.Method)
	}
	p := &audit.Proof{Kind: audit.ProofRequest, Target: r.URL.RequestURI()}
	exp, err := strconv.ParseInt(r.Header.Get(reqsig.HeaderExpires), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("audit: request expiry: %w", err)
	}
	p.Expires = exp
	if err := hexInto(p.Nonce[:], r.Header.Get(reqsig.HeaderNonce)); err != nil {
		return nil, fmt.Errorf("audit: request nonce: %w", err)
	}
	if err := hexInto(p.Sig[:], r.Header.Get(reqsig.HeaderSignature)); err != nil {
		return nil, fmt.Errorf("audit: request signature: %w", err)
	}
	// The signing key goes with the proof: the chain checks that it signs
	// for the accessor (a current, rotated or session key).
	p.Key = make([]byte, crypto.PubKeySize)
	if err := hexInto(p.Key, r.Header.Get(reqsig.HeaderSigner)); err != nil {
		return nil, fmt.Errorf("audit: request signer: %w", err)
	}
	return p, nil
}

func hexInto(dst []byte, s string) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return fmt.Errorf("want %d hex bytes", len(dst))
	}
	copy(dst, b)
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// fetchFromPeers asks the other nodes for a blob, forwarding the requester's
// signed request under the gateway's own signature, and keeps a verified copy.
func (s *Server) fetchFromPeers(r *http.Request, h blob.Hash) ([]byte, error) {
	if reqsig.IsForwarded(r) {
		return nil, errors.New("not stored here (forwarded requests are not forwarded again)")
	}
	var errs []error
	for _, peer := range s.Peers {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		data, err := s.fetchFrom(ctx, peer, r, h)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", peer, err))
			continue
		}
		if err := s.Blobs.PutExpect(r.Context(), h, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("not stored here and no peers configured")
	}
	return nil, errors.Join(errs...)
}

func (s *Server) fetchFrom(ctx context.Context, peer string, orig *http.Request, h blob.Hash) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, peer+orig.URL.RequestURI(), nil)
	if err != nil {
		return nil, err
	}
	reqsig.CopyHeaders(req.Header, orig.Header)
	if err := reqsig.SignForward(req, s.Key, s.ChainID); err != nil {
		return nil, err
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	return blob.ReadResponse(resp, h, s.MaxBlob)
}

// KeyResponse is GET /v1/records/{id}/key: the requester's wrapped data key.
type KeyResponse struct {
	Record  string `json:"record"`
	Version uint32 `json:"version"`
	Basis   string `json:"basis"`
	Enc     string `json:"enc"`
	CT      string `json:"ct"`
}

// RecordKey returns the data key of a record version wrapped for the
// requester: the one on chain when it was wrapped for them, or, when it was
// wrapped for this node's organization (organization consent, emergency
// access), opened with the organization key and re-wrapped for the requester.
func (s *Server) RecordKey(w http.ResponseWriter, r *http.Request) {
	idb, err := hex.DecodeString(r.PathValue("id"))
	if err != nil || len(idb) != consent.RecordIDSize {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrNoRecord, "record id must be 32 hex digits"))
		return
	}
	var id consent.RecordID
	copy(id[:], idb)
	snap, blockTime, err := s.State.Latest()
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err)
		return
	}
	acct, sess, _, ok := s.requester(w, r, emptyHash, snap, blockTime)
	if !ok {
		return
	}
	rec := records.GetRecord(snap, id)
	if rec == nil {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrNoRecord, "%x", id))
		return
	}
	d := records.MayRead(snap, blockTime.Unix(), acct.Address, rec)
	if errors.Is(d.Err, records.ErrErased) {
		writeErr(w, http.StatusGone, sm.Wrapf(ErrGone, "record %x erased", id))
		return
	}
	version := rec.Version
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 || uint32(n) > rec.Version {
			writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrNoRecord, "version must be 1..%d", rec.Version))
			return
		}
		version = uint32(n)
	}
	if !d.Allowed {
		_ = s.report(r, rec, version, acct.Address, d, d.Err)
		writeErr(w, http.StatusForbidden, d.Err)
		return
	}
	if err := outsideSession(sess, rec); err != nil {
		_ = s.report(r, rec, version, acct.Address, d, err)
		writeErr(w, http.StatusForbidden, err)
		return
	}
	wk := records.GetKey(snap, id, version, d.Recipient)
	recipientKey := acct.EncKey
	if sess != nil {
		// A session reads only keys wrapped to its own key.
		recipientKey = sess.EncKey
		if d.Recipient.Kind == consent.PartyAccount {
			wk = records.GetSessionKey(snap, id, version, sess.PubKey)
		}
	}
	if wk == nil {
		writeErr(w, http.StatusConflict, sm.Wrapf(ErrNotShared, "record %x version %d", id, version))
		return
	}
	out := KeyResponse{Record: hex.EncodeToString(id[:]), Version: version, Basis: string(d.Basis)}
	switch {
	case d.Recipient.Kind == consent.PartyAccount:
		out.Enc, out.CT = hex.EncodeToString(wk.Enc[:]), hex.EncodeToString(wk.CT[:])
	case d.Recipient.Org == s.org(snap):
		// Opening the organization's key is an access of its own: the
		// ciphertext may have come from elsewhere.
		if err := s.report(r, rec, version, acct.Address, d, nil); err != nil {
			writeErr(w, http.StatusServiceUnavailable, sm.Wrapf(ErrNotRecorded, "%v", err))
			return
		}
		dk, err := envelope.Unwrap(s.Key.ECDH(), envelope.WrappedKey{Enc: wk.Enc, CT: wk.CT}, id, version)
		if err != nil {
			s.Log.Error("cannot open a key wrapped to the organization: is the gateway key the organization's?", "org", d.Recipient.Org, "err", err)
			writeErr(w, http.StatusInternalServerError, sm.Wrapf(ErrNoGateway, "organization key does not open this record's key"))
			return
		}
		nw, err := envelope.Wrap(nil, recipientKey, dk, id, version)
		clear(dk[:])
		if err != nil {
			writeErr(w, http.StatusInternalServerError, err)
			return
		}
		out.Enc, out.CT = hex.EncodeToString(nw.Enc[:]), hex.EncodeToString(nw.CT[:])
	default:
		writeErr(w, http.StatusConflict, sm.Wrapf(ErrOtherOrg, "%s", d.Recipient.Org))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// org is the organization the gateway account belongs to, from state.
func (s *Server) org(snap store.Reader) string {
	if a := accounts.ActiveMember(snap, s.Key.Address(), accounts.RoleGateway); a != nil {
		return a.Org
	}
	return ""
}

// Erased deletes the ciphertext of erased record versions.
func (s *Server) Erased(ctx context.Context, hashes []blob.Hash) {
	for _, h := range hashes {
		if err := s.Blobs.Delete(ctx, h); err != nil {
			s.Log.Error("delete erased ciphertext", "hash", blob.HashString(h), "err", err)
		}
	}
}

// Janitor removes blobs that no record references once they are older than
// grace (uploads whose transaction never committed).
func (s *Server) Janitor(ctx context.Context, grace time.Duration) error {
	snap, _, err := s.State.Latest()
	if err != nil {
		return err
	}
	cutoff := s.now().Add(-grace)
	var dead []blob.Hash
	err = s.Blobs.List(ctx, func(h blob.Hash, _ int64, mod time.Time) bool {
		if mod.Before(cutoff) {
			if rec, _ := records.ByHash(snap, h); rec == nil || rec.Erased != 0 {
				dead = append(dead, h)
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, h := range dead {
		_ = s.Blobs.Delete(ctx, h)
	}
	return nil
}
