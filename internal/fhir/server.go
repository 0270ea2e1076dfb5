package fhir

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/blob"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/links"
	xsession "github.com/medchain/medchain/x/session"
)

// Chain is what the FHIR interface needs from its node.
type Chain interface {
	ChainID() string
	// Latest returns the latest committed state and its block time.
	Latest() (*merkle.Snapshot, time.Time, error)
	// Broadcast registers for the commit of each transaction, then hands
	// them to the mempool in order, stopping at the first one CheckTx
	// refuses. It returns CheckTx's answer for each transaction tried, and
	// wait, which blocks until every accepted transaction is committed (or
	// ctx ends) and returns their committed results in order. The caller
	// must call wait once.
	Broadcast(ctx context.Context, txs [][]byte) (checked []TxOutcome, wait func(context.Context) ([]TxOutcome, error), err error)
}

// TxOutcome is a transaction's result: at CheckTx, or once committed.
type TxOutcome struct {
	Hash      [32]byte
	Code      uint32
	Codespace string
	Log       string
	Height    int64 // committed height; 0 at CheckTx
}

// Auditor receives access events for the trail (internal/gateway.Auditor).
// Report returns once the events are durably recorded; after an error the
// access must not be served.
type Auditor interface {
	Report(...audit.Event) error
}

// Config configures a Server.
type Config struct {
	// Key is the gateway account's key: its X25519 key is the
	// organization's, which opens data keys wrapped to the organization and
	// session delegations.
	Key     *crypto.PrivKey
	Chain   Chain
	Blobs   blob.Store
	Auditor Auditor
	// MinFee is the fee each transaction signed for a user carries (the
	// chain's tx.min_fee); nil means 0.
	MinFee func(store.Reader) uint64
	// Peers are other nodes' API base URLs, asked for ciphertext this node
	// does not hold.
	Peers []string
	HTTP  *http.Client
	Log   *slog.Logger
	// Now is the wall clock (token and challenge expiry, audit times); nil
	// means time.Now.
	Now func() time.Time

	MaxResourceBytes int64 // create and update bodies; default 4 MiB
	MaxBundleBytes   int64 // transaction and batch bodies; default 16 MiB
	MaxBundleEntries int   // default 2,000
	MaxTokens        int   // live tokens; default 10,000
	MaxChallenges    int   // outstanding challenges; default 10,000
	// MaxTokensPerAccount bounds one account's live tokens (default 16; a
	// new one ends the account's oldest). MaxChallengesPerAccount (default
	// 4) and MaxChallengesPerIP (default 64) bound outstanding challenges.
	MaxTokensPerAccount     int
	MaxChallengesPerAccount int
	MaxChallengesPerIP      int
	CommitWait              time.Duration // how long a write waits for its block; default 60 s
	// OrgKeyCache and SessionKeyCache bound the opened data keys kept for
	// the organization (default 65,536) and for each delegated session
	// (default 4,096); a negative value keeps none.
	OrgKeyCache     int
	SessionKeyCache int
	// Links is the organization's patient-link resolver (its link key,
	// x/links): Patient resources and Patient?identifier= references
	// resolve through the organization's links, and conditional creates,
	// updates and references and idempotent imports derive record ids with
	// it. Nil: a Patient must carry a urn:medchain:address identifier, and
	// conditional interactions are refused.
	Links *links.Resolver
	// TokenFile, when set, keeps tokens across restarts: each live token's
	// session, sealed under a key derived from the gateway key
	// (tokenstore.go). Empty: tokens live in memory only.
	TokenFile string
}

// Server is the FHIR R4 interface of one node. It is an http.Handler for
// the paths under /fhir.
type Server struct {
	cfg     Config
	auth    *authStore
	orgKeys *keyCache // data keys opened with the organization key

	tokenFileMu sync.Mutex // one writer of the token file at a time

	mu       sync.Mutex
	signers  map[crypto.Address]*signerState
	inflight map[consent.RecordID]bool // records being updated through this node

	bulk bulkJobs // Bulk Data jobs (bulk.go)
}

// New builds a Server.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.MinFee == nil {
		cfg.MinFee = func(store.Reader) uint64 { return 0 }
	}
	if cfg.MaxResourceBytes <= 0 {
		cfg.MaxResourceBytes = 4 << 20
	}
	if cfg.MaxBundleBytes <= 0 {
		cfg.MaxBundleBytes = fhirr4.MaxSize
	}
	if cfg.MaxBundleEntries <= 0 {
		cfg.MaxBundleEntries = 2000
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = 10_000
	}
	if cfg.MaxChallenges <= 0 {
		cfg.MaxChallenges = 10_000
	}
	if cfg.MaxTokensPerAccount <= 0 {
		cfg.MaxTokensPerAccount = 16
	}
	if cfg.MaxChallengesPerAccount <= 0 {
		cfg.MaxChallengesPerAccount = 4
	}
	if cfg.MaxChallengesPerIP <= 0 {
		cfg.MaxChallengesPerIP = 64
	}
	if cfg.CommitWait <= 0 {
		cfg.CommitWait = 60 * time.Second
	}
	if cfg.OrgKeyCache == 0 {
		cfg.OrgKeyCache = 1 << 16
	}
	if cfg.SessionKeyCache == 0 {
		cfg.SessionKeyCache = 4096
	}
	srv := &Server{
		cfg: cfg,
		auth: newAuthStore(authLimits{challenges: cfg.MaxChallenges, challengesPerAccount: cfg.MaxChallengesPerAccount,
			challengesPerIP: cfg.MaxChallengesPerIP, tokens: cfg.MaxTokens, tokensPerAccount: cfg.MaxTokensPerAccount}),
		orgKeys:  newKeyCache(cfg.OrgKeyCache),
		signers:  map[crypto.Address]*signerState{},
		inflight: map[consent.RecordID]bool{},
	}
	if cfg.TokenFile != "" {
		srv.auth.onRemove = srv.saveTokens
		if err := srv.loadTokens(); err != nil {
			cfg.Log.Warn("FHIR tokens not restored: clients must log in again", "err", err)
		}
	}
	return srv
}

// Close forgets every token and wipes the delegated keys.
func (s *Server) Close() {
	s.auth.close()
	s.orgKeys.wipe()
	s.bulk.close()
}

// request is one authenticated FHIR request with the state it is judged on.
type request struct {
	r    *http.Request
	sess *session
	snap *merkle.Snapshot
	time time.Time // block time of snap
	now  int64     // the same, unix seconds
	org  string    // the gateway's organization
	base string    // this server's base URL, ".../fhir"
	srv  *Server
}

// gatewayOrg is the organization of the gateway account, from state.
func (s *Server) gatewayOrg(kv store.Reader) string {
	if a := accounts.ActiveMember(kv, s.cfg.Key.Address(), accounts.RoleGateway); a != nil {
		return a.Org
	}
	return ""
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/fhir"
}

// ServeHTTP routes the FHIR interactions.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := s.negotiate(r); p != nil {
		writeProblem(w, p)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/fhir")
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		segs = nil
	}
	switch {
	case len(segs) == 1 && segs[0] == "metadata":
		s.only(w, r, http.MethodGet, s.metadata)
		return
	case len(segs) == 2 && segs[0] == ".well-known" && segs[1] == "smart-configuration":
		s.only(w, r, http.MethodGet, s.smartConfiguration)
		return
	case len(segs) == 2 && segs[0] == "auth" && segs[1] == "challenge":
		s.only(w, r, http.MethodPost, s.challenge)
		return
	case len(segs) == 2 && segs[0] == "auth" && segs[1] == "token":
		s.only(w, r, http.MethodPost, s.token)
		return
	case len(segs) == 2 && segs[0] == "auth" && segs[1] == "revoke":
		s.only(w, r, http.MethodPost, s.revoke)
		return
	}
	rq, p := s.authenticate(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if isBulkPath(segs) && s.bulkRoute(w, rq, segs) {
		return
	}
	switch {
	case len(segs) == 0:
		if r.Method != http.MethodPost {
			writeProblem(w, notAllowed(r))
			return
		}
		s.bundle(w, rq)
		return
	case len(segs) > 0 && !knownType(segs[0]):
		writeProblem(w, failf(http.StatusNotFound, "not-supported", ErrNotSupported, "no resource type %q here", segs[0]))
		return
	}
	typ := segs[0]
	switch len(segs) {
	case 1:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.search(w, rq, typ, r.URL.Query())
		case http.MethodPost:
			s.create(w, rq, typ)
		case http.MethodPut:
			if r.URL.RawQuery == "" {
				writeProblem(w, notAllowed(r))
				return
			}
			s.conditionalUpdate(w, rq, typ, r.URL.RawQuery)
		default:
			writeProblem(w, notAllowed(r))
		}
	case 2:
		if segs[1] == "_search" {
			if r.Method != http.MethodPost {
				writeProblem(w, notAllowed(r))
				return
			}
			q, p := formQuery(r)
			if p != nil {
				writeProblem(w, p)
				return
			}
			s.search(w, rq, typ, q)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.read(w, rq, typ, segs[1], "")
		case http.MethodPut:
			s.update(w, rq, typ, segs[1])
		case http.MethodDelete:
			s.erase(w, rq, typ, segs[1])
		default:
			writeProblem(w, notAllowed(r))
		}
	case 3:
		switch {
		case segs[2] == "_history" && r.Method == http.MethodGet:
			s.history(w, rq, typ, segs[1])
		case segs[2] == "$everything" && typ == "Patient" && r.Method == http.MethodGet:
			s.everything(w, rq, segs[1], r.URL.Query())
		case segs[2] == "_history" || segs[2] == "$everything":
			writeProblem(w, notAllowed(r))
		default:
			writeProblem(w, failf(http.StatusNotFound, "not-supported", ErrNotSupported, "no operation %q", segs[2]))
		}
	case 4:
		if segs[2] != "_history" {
			writeProblem(w, failf(http.StatusNotFound, "not-supported", ErrNotSupported, "no such path"))
			return
		}
		if r.Method != http.MethodGet {
			writeProblem(w, notAllowed(r))
			return
		}
		s.read(w, rq, typ, segs[1], segs[3])
	default:
		writeProblem(w, failf(http.StatusNotFound, "not-supported", ErrNotSupported, "no such path"))
	}
}

func notAllowed(r *http.Request) *problem {
	return failf(http.StatusMethodNotAllowed, "not-supported", ErrNotSupported, "%s is not supported on %s", r.Method, r.URL.Path)
}

func (s *Server) only(w http.ResponseWriter, r *http.Request, method string, h func(http.ResponseWriter, *http.Request)) {
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		writeProblem(w, notAllowed(r))
		return
	}
	h(w, r)
}

// negotiate accepts JSON and refuses XML: this server speaks FHIR JSON only.
func (s *Server) negotiate(r *http.Request) *problem {
	if f := r.URL.Query().Get("_format"); f != "" {
		switch f {
		case "json", "application/json", "application/fhir+json":
		default:
			return failf(http.StatusNotAcceptable, "not-supported", ErrNotSupported, "_format %q: only JSON is served", f)
		}
	}
	if acc := r.Header.Get("Accept"); acc != "" {
		ok := false
		for _, part := range strings.Split(acc, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch mt {
			case "application/fhir+json", "application/json", "application/json+fhir", "*/*", "application/*",
				"application/fhir+ndjson", "application/ndjson": // Bulk Data files
				ok = true
			}
		}
		if !ok {
			return failf(http.StatusNotAcceptable, "not-supported", ErrNotSupported, "Accept %q: only application/fhir+json is served", acc)
		}
	}
	return nil
}

// authenticate checks the bearer token and loads the state the request is
// judged on.
func (s *Server) authenticate(r *http.Request) (*request, *problem) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return nil, failf(http.StatusUnauthorized, "login", ErrUnauthenticated, "send Authorization: Bearer TOKEN (POST /fhir/auth/token)")
	}
	sess := s.auth.lookup(strings.TrimSpace(tok), s.cfg.Now())
	if sess == nil {
		return nil, failf(http.StatusUnauthorized, "expired", ErrUnauthenticated, "unknown or expired token")
	}
	snap, bt, err := s.cfg.Chain.Latest()
	if err != nil {
		return nil, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "%v", err)
	}
	acct := accounts.GetAccount(snap, sess.addr)
	if acct == nil || !accounts.CanSign(snap, acct) {
		return nil, failf(http.StatusUnauthorized, "login", ErrUnauthenticated, "%s is no longer an active account", sess.addr)
	}
	if err := sess.live(snap, bt.Unix()); err != nil {
		s.auth.remove(sess.tok)
		return nil, failf(http.StatusUnauthorized, "expired", ErrUnauthenticated, "the token's session is over: %v", err)
	}
	org := s.gatewayOrg(snap)
	if org == "" {
		return nil, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "this node's gateway account is not an active gateway")
	}
	return &request{r: r, sess: sess, snap: snap, time: bt, now: bt.Unix(), org: org, base: baseURL(r), srv: s}, nil
}

// readBody reads a request body up to limit bytes: 413 beyond.
func readBody(r *http.Request, limit int64) ([]byte, *problem) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/fhir+json" && mt != "application/json" && mt != "application/json+fhir") {
			return nil, failf(http.StatusUnsupportedMediaType, "not-supported", ErrNotSupported, "Content-Type %q: send application/fhir+json", ct)
		}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, failf(http.StatusBadRequest, "structure", ErrBadRequest, "read body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, failf(http.StatusRequestEntityTooLarge, "too-costly", ErrTooLarge, "body larger than %d bytes", limit)
	}
	return b, nil
}

// challenge serves POST /fhir/auth/challenge. A challenge is made only for
// an active account named in the body, and counted against that account
// and the client's IP (see authStore).
func (s *Server) challenge(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<10+1))
	if err != nil || len(body) > 1<<10 {
		writeProblem(w, failf(http.StatusRequestEntityTooLarge, "too-costly", ErrTooLarge, "challenge request larger than 1 KiB"))
		return
	}
	var req ChallengeRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeProblem(w, failf(http.StatusBadRequest, "structure", ErrAuth, "challenge request: send {\"address\": \"mc...\"}: %v", err))
		return
	}
	addr, err := crypto.ParseAddress(req.Address)
	if err != nil {
		writeProblem(w, failf(http.StatusBadRequest, "structure", ErrAuth, "address: %v", err))
		return
	}
	snap, _, err := s.cfg.Chain.Latest()
	if err != nil {
		writeProblem(w, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "%v", err))
		return
	}
	org := s.gatewayOrg(snap)
	if org == "" {
		writeProblem(w, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "this node's gateway account is not an active gateway"))
		return
	}
	if a := accounts.GetAccount(snap, addr); a == nil || !accounts.CanSign(snap, a) {
		writeProblem(w, failf(http.StatusUnauthorized, "login", ErrAuth, "%s is not an active account", addr))
		return
	}
	c, exp, err := s.auth.newChallenge(addr, clientIP(r), s.cfg.Now())
	if err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(ChallengeTTL/time.Second)))
		writeProblem(w, failf(http.StatusTooManyRequests, "throttled", ErrUnavailable, "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, ChallengeResponse{
		Challenge: b64.EncodeToString(c), Expires: exp.UTC(), ChainID: s.cfg.Chain.ChainID(), Org: org,
		OrgEncKey: s.cfg.Key.EncKey().String(), Gateway: s.cfg.Key.Address().String(),
	})
}

// clientIP is the host part of the connection's remote address (a proxy in
// front of the node makes every client one IP: raise MaxChallengesPerIP
// there).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// token serves POST /fhir/auth/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil || len(body) > 64<<10 {
		writeProblem(w, failf(http.StatusRequestEntityTooLarge, "too-costly", ErrTooLarge, "token request larger than 64 KiB"))
		return
	}
	var req TokenRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeProblem(w, failf(http.StatusBadRequest, "structure", ErrAuth, "token request: %v", err))
		return
	}
	resp, p := s.issue(&req)
	if p != nil {
		writeProblem(w, p)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) issue(req *TokenRequest) (*TokenResponse, *problem) {
	bad := func(status int, format string, args ...any) (*TokenResponse, *problem) {
		code := "invalid"
		if status == http.StatusUnauthorized {
			code = "login"
		}
		return nil, failf(status, code, ErrAuth, format, args...)
	}
	now := s.cfg.Now()
	snap, bt, err := s.cfg.Chain.Latest()
	if err != nil {
		return nil, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "%v", err)
	}
	org := s.gatewayOrg(snap)
	if org == "" {
		return nil, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "this node's gateway account is not an active gateway")
	}
	challenge, err := b64.DecodeString(req.Challenge)
	if err != nil || len(challenge) != ChallengeSize {
		return bad(http.StatusBadRequest, "challenge: want %d bytes in base64url", ChallengeSize)
	}
	addr, err := crypto.ParseAddress(req.Address)
	if err != nil {
		return bad(http.StatusBadRequest, "address: %v", err)
	}
	if !s.auth.takeChallenge(challenge, addr, now) {
		return bad(http.StatusUnauthorized, "unknown, used or expired challenge, or made for another account: ask POST /fhir/auth/challenge again")
	}
	acct := accounts.GetAccount(snap, addr)
	if acct == nil || !accounts.CanSign(snap, acct) {
		return bad(http.StatusUnauthorized, "%s is not an active account", addr)
	}
	exp := time.Unix(req.Expires, 0)
	if !exp.After(now) || exp.After(now.Add(MaxTokenTTL+time.Minute)) {
		return bad(http.StatusBadRequest, "expires must be in the future and at most %s away", MaxTokenTTL)
	}
	scopes, scopeText, err := parseScopes(req.Scope)
	if err != nil {
		return bad(http.StatusBadRequest, "scope: %v", err)
	}
	var patient crypto.Address
	switch {
	case req.Patient != "":
		if patient, err = crypto.ParseAddress(req.Patient); err != nil {
			return bad(http.StatusBadRequest, "patient: %v", err)
		}
		if p := accounts.GetAccount(snap, patient); p == nil || p.Kind != accounts.KindPatient {
			return bad(http.StatusBadRequest, "patient %s is not a registered patient", patient)
		}
		if acct.Kind == accounts.KindPatient && !accounts.CanActFor(snap, addr, patient) {
			return bad(http.StatusForbidden, "%s may not act for patient %s", addr, patient)
		}
	case acct.Kind == accounts.KindPatient:
		patient = addr
	}
	if hasPatientScope(scopes) && patient.IsZero() {
		return bad(http.StatusBadRequest, "patient/ scopes need a patient: set \"patient\" in the token request")
	}
	var enc, ct []byte
	if d := req.Delegation; d != nil {
		enc, err = b64.DecodeString(d.Enc)
		if err == nil {
			ct, err = b64.DecodeString(d.CT)
		}
		if err != nil || len(enc) != 32 || len(ct) != DelegationSize+16 {
			return bad(http.StatusBadRequest, "delegation: enc (32 bytes) and ct (%d bytes) in base64url", DelegationSize+16)
		}
	}
	sig, err := b64.DecodeString(req.Signature)
	if err != nil {
		return bad(http.StatusBadRequest, "signature: not base64url")
	}
	// Without a session the account's current key signs, and the token
	// carries no key. With one, the session key signs and its seeds come
	// sealed: the session must be delegated on chain by this account and
	// live, and the token ends no later than the session.
	signer := acct.PubKey
	var sessKey []byte
	var onChain *xsession.Session
	if req.Session != "" {
		pub, err := crypto.ParsePubKey(req.Session)
		if err != nil {
			return bad(http.StatusBadRequest, "session: %v", err)
		}
		if enc == nil {
			return bad(http.StatusBadRequest, "a session token needs the sealed session key (delegation)")
		}
		c, err := xsession.Active(snap, pub, bt.Unix())
		if err != nil {
			return bad(http.StatusUnauthorized, "session %s: %v (delegate it on chain first: session/delegate)", pub, err)
		}
		if c.Account != addr {
			return bad(http.StatusUnauthorized, "session %s is not delegated by %s", pub, addr)
		}
		if err := scopesWithin(scopes, c.Limits); err != nil {
			return bad(http.StatusForbidden, "scope: %v", err)
		}
		// Block time may lag when blocks are sparse: the wall clock ends a
		// session too, never extends it.
		end := time.Unix(c.Limits.Expires, 0)
		if !end.After(now) {
			return bad(http.StatusUnauthorized, "session %s: %v", pub, xsession.ErrExpired)
		}
		if exp.After(end) {
			exp = end
		}
		signer, sessKey, onChain = pub, pub[:], c
	} else if enc != nil {
		return bad(http.StatusBadRequest, "a delegation needs its session key (session)")
	}
	msg := TokenSignBytes(s.cfg.Chain.ChainID(), org, challenge, addr, req.Scope, req.Expires, req.Patient, sessKey, delegationDigest(enc, ct))
	if !crypto.Verify(signer, msg, sig) {
		if onChain != nil {
			return bad(http.StatusUnauthorized, "signature does not verify with session key %s", onChain.PubKey)
		}
		return bad(http.StatusUnauthorized, "signature does not verify with the key of %s", addr)
	}
	sess := &session{addr: addr, kind: acct.Kind, org: acct.Org, scopes: scopes, scope: scopeText, patient: patient, expires: exp,
		grant: sessionProof(org, challenge, req, sessKey, delegationDigest(enc, ct), sig)}
	if onChain != nil {
		seeds, err := openDelegation(s.cfg.Key, enc, ct, s.cfg.Chain.ChainID(), org, challenge, addr, onChain.PubKey)
		if err != nil {
			return bad(http.StatusUnauthorized, "delegation: %v (seal it to this organization's key for this challenge)", err)
		}
		key, err := crypto.KeyFromSeeds(seeds[:crypto.SeedSize], seeds[crypto.SeedSize:])
		if err != nil || key.PubKey() != onChain.PubKey || !sameEncKey(key.EncKey(), onChain.EncKey) {
			clear(seeds)
			return bad(http.StatusUnauthorized, "delegation: the sealed key is not session %s", onChain.PubKey)
		}
		sess.pub = onChain.PubKey
		sess.seeds = seeds
		sess.key.Store(key)
		sess.keys = newKeyCache(s.cfg.SessionKeyCache)
	}
	tok, err := s.auth.add(sess, now)
	if err != nil {
		sess.wipe()
		return nil, failf(http.StatusServiceUnavailable, "transient", ErrUnavailable, "%v", err)
	}
	s.saveTokens()
	out := &TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(now) / time.Second),
		Scope: scopeText, Address: addr.String(), Delegated: onChain != nil}
	if onChain != nil {
		out.Session = onChain.PubKey.String()
	}
	if !patient.IsZero() {
		out.Patient = patient.String()
	}
	return out, nil
}

// sessionProof is what the chain needs to check that the session's access
// events are the user's: the signed token request (audit.ProofSession).
func sessionProof(org string, challenge []byte, req *TokenRequest, sessionKey, digest, sig []byte) *audit.Proof {
	p := &audit.Proof{Kind: audit.ProofSession, Expires: req.Expires, Org: org, Scope: req.Scope, Launch: req.Patient, Session: sessionKey, Digest: digest}
	copy(p.Challenge[:], challenge)
	copy(p.Sig[:], sig)
	return p
}

// smartConfiguration serves the SMART discovery document.
func (s *Server) smartConfiguration(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                   base + "/auth/token",
		"grant_types_supported":            []string{"urn:medchain:signed-challenge"},
		"scopes_supported":                 []string{"patient/*.read", "patient/*.write", "user/*.read", "user/*.write"},
		"capabilities":                     []string{"permission-patient", "permission-user", "permission-v1", "permission-v2"},
		"code_challenge_methods_supported": []string{},
		"medchain_challenge_endpoint":      base + "/auth/challenge",
	})
}

func sameEncKey(a, b crypto.EncKey) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// revoke serves POST /fhir/auth/revoke: the bearer token ends at once, here
// and in the token file (its on-chain session lives on until it expires or
// is revoked with session/revoke, which ends every token made for it).
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		writeProblem(w, failf(http.StatusUnauthorized, "login", ErrUnauthenticated, "send the token to revoke as Authorization: Bearer TOKEN"))
		return
	}
	sess := s.auth.lookup(strings.TrimSpace(tok), s.cfg.Now())
	if sess == nil {
		writeProblem(w, failf(http.StatusUnauthorized, "expired", ErrUnauthenticated, "unknown or expired token"))
		return
	}
	s.auth.remove(sess.tok)
	writeJSON(w, http.StatusOK, map[string]any{"revoked": true})
}
