// Package api serves medchain's HTTP/JSON API under /v1, its OpenAPI
// document, and Prometheus metrics. Handlers read committed state through
// the Backend and never write state except by submitting signed transactions.
// Errors are JSON objects with a stable code and codespace.
package api

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/ratelimit"
	"github.com/medchain/medchain/internal/reqsig"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI document served at /v1/openapi.json.
func OpenAPI() []byte { return openAPI }

// Codespace of API-level errors.
const Codespace = "api"

// API errors; codes are stable.
var (
	ErrBadRequest = sm.Register(Codespace, 1, "bad request")
	ErrMissing    = sm.Register(Codespace, 2, "not found")
	ErrTooLarge   = sm.Register(Codespace, 3, "request body too large")
	ErrTimeout    = sm.Register(Codespace, 4, "timed out")
	ErrBusy       = sm.Register(Codespace, 5, "node busy")
	ErrDuplicate  = sm.Register(Codespace, 6, "duplicate transaction")
	ErrUnavail    = sm.Register(Codespace, 7, "unavailable")
	// ErrUnauthenticated: the read names patient data and is not signed, or
	// its signature headers are missing, malformed, expired or replayed (401).
	ErrUnauthenticated = sm.Register(Codespace, 8, "signed request required")
	// ErrForbidden: the signer has no grounds to read this data (403).
	ErrForbidden = sm.Register(Codespace, 9, "not allowed")
	// ErrRateLimited: too many requests from this address or key (429, with
	// a Retry-After header).
	ErrRateLimited = sm.Register(Codespace, 10, "rate limited")
)

// Options configure the handler.
type Options struct {
	Logger       *slog.Logger
	MaxBodyBytes int64
	CommitWait   time.Duration
	MaxBlobBytes int64                 // largest blob upload
	Gateway      Gateway               // nil: the node serves no blobs
	FHIR         http.Handler          // nil: no FHIR interface; else served under /fhir (internal/fhir)
	Portal       http.Handler          // nil: no web portal; else served under /portal/ (internal/portal)
	Registry     prometheus.Registerer // nil: the default registry
	Gatherer     prometheus.Gatherer
	// ChainID is the chain whose signed requests are accepted when Verifier
	// is nil.
	ChainID string
	// Verifier authenticates signed reads of patient data. nil: one for
	// ChainID, whose Authorize checks the signer's account in the latest
	// state and whose Admit applies RateLimit's per-key limit. A node shares
	// one Verifier between the API and its gateway (one replay cache).
	Verifier *reqsig.Verifier
	// RateLimit limits requests per client address (every route, /fhir
	// included) and per signing key (in Verifier.Admit, when this package
	// builds the Verifier).
	RateLimit RateLimit
	// PeerCertRequired refuses a blob request forwarded by another node
	// (X-Medchain-Forwarder) unless it came over TLS with a verified client
	// certificate: node-to-node fetches use mutual TLS.
	PeerCertRequired bool
	// SupplyKey signs the supply/capture transactions of EPCIS captures
	// (POST /epcis/capture) for the node's organization: a member account
	// of that organization. nil: the node captures nothing over the
	// binding (its queries still work).
	SupplyKey *crypto.PrivKey
}

// RateLimit configures the API's token buckets. A rate of 0 turns that
// limit off.
type RateLimit struct {
	PerAddress      float64        // requests per second per client IP address
	PerAddressBurst int            // bucket size
	PerKey          float64        // signed requests per second per signing key
	PerKeyBurst     int            // bucket size
	MaxTracked      int            // addresses (and keys) tracked at once; 0: 100000
	Exempt          []netip.Prefix // client addresses never limited (e.g. loopback)
}

// KeyLimiter builds the per-key limiter of rl, for a Verifier's Admit.
func (rl RateLimit) KeyLimiter() func(crypto.PubKey) error {
	lim := ratelimit.New("signing key", rl.PerKey, rl.PerKeyBurst, rl.maxTracked(), nil)
	return func(pub crypto.PubKey) error { return lim.Allow(string(pub[:])) }
}

func (rl RateLimit) maxTracked() int {
	if rl.MaxTracked <= 0 {
		return 100_000
	}
	return rl.MaxTracked
}

// Gateway serves ciphertext and keys (internal/gateway).
type Gateway interface {
	PutBlob(w http.ResponseWriter, r *http.Request)
	GetBlob(w http.ResponseWriter, r *http.Request)
	RecordKey(w http.ResponseWriter, r *http.Request)
}

// Server is the API handler.
type Server struct {
	b           Backend
	opts        Options
	mux         *http.ServeMux
	routes      []string          // "METHOD /path" of every route, for the OpenAPI check
	routeAccess map[string]string // route → accessPublic, accessSigned or accessOptional
	verifier    *reqsig.Verifier
	byAddr      *ratelimit.Limiter
	exempt      []netip.Prefix
	reqs        *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	txs         *prometheus.CounterVec
	limited     *prometheus.CounterVec
	epcisJobs   *epcisJobs
}

// New builds the API handler over a backend.
func New(b Backend, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.CommitWait <= 0 {
		opts.CommitWait = 30 * time.Second
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	gat := opts.Gatherer
	if gat == nil {
		gat = prometheus.DefaultGatherer
	}
	s := &Server{b: b, opts: opts, mux: http.NewServeMux(), routeAccess: map[string]string{}, verifier: opts.Verifier}
	if s.verifier == nil {
		s.verifier = &reqsig.Verifier{ChainID: opts.ChainID, Admit: opts.RateLimit.KeyLimiter(),
			Authorize: SignerCheck(func() (store.Reader, int64, error) {
				snap, err := s.b.State(0)
				if err != nil {
					return nil, 0, err
				}
				return snap, s.timeOf(snap), nil
			})}
	}
	rl := opts.RateLimit
	s.byAddr = ratelimit.New("client address", rl.PerAddress, rl.PerAddressBurst, rl.maxTracked(), nil)
	s.exempt = rl.Exempt
	s.reqs = registerOnce(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "medchain", Subsystem: "api", Name: "requests_total", Help: "API requests by route and status class.",
	}, []string{"route", "status"}))
	s.latency = registerOnce(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "medchain", Subsystem: "api", Name: "request_seconds", Help: "API request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"route"}))
	s.txs = registerOnce(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "medchain", Subsystem: "api", Name: "txs_submitted_total", Help: "Transactions submitted through the API by outcome.",
	}, []string{"outcome"}))

	s.limited = registerOnce(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "medchain", Subsystem: "api", Name: "rate_limited_total", Help: "Requests refused with 429, by limit (address or key).",
	}, []string{"limit"}))

	s.handle("GET /v1/status", s.status)
	s.handle("POST /v1/txs", s.submit)
	s.handleLimit("POST /v1/txs/batch", s.submitBatch, MaxBatchBodyBytes)
	s.handle("GET /v1/txs/{hash}", s.tx)
	s.handle("GET /v1/accounts/{address}", s.account)
	s.handleOptional("GET /v1/accounts/{address}/txs", s.patientAccountPath, patientGuard(groundOwner), s.accountTxs)
	s.handle("GET /v1/orgs", s.orgs)
	s.handle("GET /v1/orgs/{id}", s.org)
	s.handle("GET /v1/proposals", s.proposals)
	s.handle("GET /v1/proposals/{id}", s.proposal)
	s.handle("GET /v1/validators", s.validators)
	s.handle("GET /v1/params", s.params)
	s.handle("GET /v1/staking/validators", s.stakingValidators)
	s.handle("GET /v1/staking/delegations/{address}", s.delegations)
	s.handle("GET /v1/validators/revenue/{org}", s.revenue)
	s.handle("GET /v1/blocks/latest", s.block)
	s.handle("GET /v1/blocks/{height}", s.block)
	s.handleOptional("GET /v1/proof", s.patientProofKey, patientKeyGuard, s.proof)
	s.handleSignedWho("GET /v1/patients/{address}/records", patientGuard(groundCare), s.patientRecords)
	s.handleSigned("GET /v1/patients/{address}/key-holders", patientGuard(groundCare), s.keyHolders)
	s.handleSigned("GET /v1/patients/{address}/consents", patientGuard(groundOwner), s.patientConsents)
	s.handleSigned("GET /v1/patients/{address}/audit", patientGuard(groundOwner), s.patientAudit)
	s.handleSigned("GET /v1/patients/{address}/signals", patientGuard(groundOwner), s.patientSignals)
	s.handleSigned("GET /v1/patients/{address}/emergencies", patientGuard(groundOversight), s.patientEmergencies)
	s.handleSigned("GET /v1/orgs/{id}/emergencies", orgEmergencyGuard, s.orgEmergencies)
	s.handleSigned("GET /v1/records/{id}", recordGuard, s.record)
	if g := opts.Gateway; g != nil {
		// The gateway authenticates these itself (internal/gateway): a
		// blob upload before its body is read.
		s.handleLimit("PUT /v1/blobs/{hash}", g.PutBlob, opts.MaxBlobBytes)
		s.handle("GET /v1/blobs/{hash}", s.peerCert(g.GetBlob))
		s.handle("GET /v1/records/{id}/key", g.RecordKey)
	} else {
		noGateway := func(w http.ResponseWriter, _ *http.Request) {
			writeErr(w, http.StatusServiceUnavailable, sm.Wrapf(ErrUnavail, "this node has no gateway key configured: it serves no blobs"))
		}
		s.handle("PUT /v1/blobs/{hash}", noGateway)
		s.handle("GET /v1/blobs/{hash}", noGateway)
		s.handle("GET /v1/records/{id}/key", noGateway)
	}
	for _, p := range []string{"PUT /v1/blobs/{hash}", "GET /v1/blobs/{hash}", "GET /v1/records/{id}/key"} {
		s.routeAccess[p] = accessSigned
	}
	s.handleSigned("GET /v1/records/{id}/access", accessGuard, s.access)
	s.handleSigned("GET /v1/consents/{id}", consentGuard, s.consentByID)
	s.handleSigned("GET /v1/grantees/{party}/consents", granteeGuard, s.granteeConsents)
	s.handle("GET /v1/trials", s.trialList)
	s.handle("GET /v1/trials/{id}", s.trial)
	s.handleTrialSigned("GET /v1/trials/{id}/timeline", trialGuard, s.trialTimeline)
	s.handleTrialSigned("GET /v1/trials/{id}/participants", trialGuard, s.trialParticipants)
	s.handleSigned("GET /v1/trials/{id}/participants/{address}", trialParticipantGuard, s.trialParticipant)
	s.routeEscrow()
	s.routeBank()
	s.routeFees()
	s.routeSupply()
	s.routeLinks()
	s.routePolicy()
	s.handle("GET /v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	if opts.FHIR != nil {
		// The FHIR interface keeps its own routes, limits and errors
		// (OperationOutcome); it is not part of the /v1 OpenAPI document.
		s.mux.Handle("/fhir", opts.FHIR)
		s.mux.Handle("/fhir/", opts.FHIR)
	}
	if opts.Portal != nil {
		// The web portal's static pages (internal/portal), with their own
		// Content-Security-Policy; not part of the /v1 OpenAPI document.
		s.mux.Handle("/portal", opts.Portal)
		s.mux.Handle("/portal/", opts.Portal)
	}
	metrics := promhttp.HandlerFor(gat, promhttp.HandlerOpts{})
	s.handle("GET /metrics", metrics.ServeHTTP)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "no route %s %s", r.Method, r.URL.Path))
	})
	return s
}

// registerOnce registers a collector, reusing an identical one already
// registered (several API servers in one test process).
func registerOnce[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector.(C)
		}
		panic(err)
	}
	return c
}

// peerCert enforces Options.PeerCertRequired on forwarded requests.
func (s *Server) peerCert(h http.HandlerFunc) http.HandlerFunc {
	if !s.opts.PeerCertRequired {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if reqsig.IsForwarded(r) && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			writeErr(w, http.StatusForbidden, sm.Wrapf(ErrForbidden, "a forwarded blob request needs a verified client certificate (mutual TLS)"))
			return
		}
		h(w, r)
	}
}

// ServeHTTP applies the per-address rate limit, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.limitAddress(r); err != nil {
		s.limited.WithLabelValues("address").Inc()
		ratelimit.SetRetryAfter(w.Header(), err)
		writeErr(w, http.StatusTooManyRequests, sm.Wrapf(ErrRateLimited, "%v", err))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// limitAddress takes a token from the client address's bucket. The address
// is the TCP peer's: behind a reverse proxy every client shares the proxy's
// bucket (or its exemption), so a proxy must limit on its own.
func (s *Server) limitAddress(r *http.Request) error {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return s.byAddr.Allow(r.RemoteAddr)
	}
	a := ap.Addr().Unmap()
	for _, p := range s.exempt {
		if p.Contains(a) {
			return nil
		}
	}
	return s.byAddr.Allow(a.String())
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

func (s *Server) handle(pattern string, h func(w http.ResponseWriter, r *http.Request)) {
	s.handleLimit(pattern, h, s.opts.MaxBodyBytes)
}

// handleLimit registers a route with its own request body limit.
func (s *Server) handleLimit(pattern string, h func(w http.ResponseWriter, r *http.Request), limit int64) {
	if limit <= 0 {
		limit = s.opts.MaxBodyBytes
	}
	s.routes = append(s.routes, pattern)
	if _, ok := s.routeAccess[pattern]; !ok {
		s.routeAccess[pattern] = accessPublic
	}
	route := pattern[strings.Index(pattern, " ")+1:]
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: 200}
		r.Body = http.MaxBytesReader(sw, r.Body, limit)
		h(sw, r)
		s.reqs.WithLabelValues(route, strconv.Itoa(sw.code/100)+"xx").Inc()
		s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Code      uint32 `json:"code"`
	Codespace string `json:"codespace"`
	Message   string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// Compact: a block of thousands of transactions is megabytes of JSON,
	// and indenting it cost more than encoding it.
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, err error) {
	code, space, msg := sm.ABCIInfo(err)
	writeJSON(w, status, ErrorBody{Code: code, Codespace: space, Message: msg})
}

// backendErr maps a backend failure to a status and error body.
func backendErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeErr(w, http.StatusNotFound, sm.Wrapf(ErrMissing, "%v", err))
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		writeErr(w, http.StatusGatewayTimeout, sm.Wrapf(ErrTimeout, "%v", err))
	case errors.Is(err, ErrBusy):
		writeErr(w, http.StatusServiceUnavailable, err)
	case errors.Is(err, ErrDuplicate):
		writeErr(w, http.StatusConflict, err)
	default:
		writeErr(w, http.StatusInternalServerError, sm.Wrapf(ErrUnavail, "%v", err))
	}
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.b.Status(r.Context())
	if err != nil {
		backendErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// submitRequest is the JSON form of POST /v1/txs.
type submitRequest struct {
	Tx string `json:"tx"` // base64 of the encoded transaction
}

// readTx reads a transaction: raw bytes (application/octet-stream) or JSON
// {"tx": "<base64>"}.
func readTx(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, sm.Wrapf(ErrTooLarge, "limit %d bytes", mbe.Limit)
		}
		return nil, sm.Wrapf(ErrBadRequest, "read body: %v", err)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/octet-stream" {
		return body, nil
	}
	var req submitRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, sm.Wrapf(ErrBadRequest, "want JSON {\"tx\": base64} or an application/octet-stream body: %v", err)
	}
	tx, err := base64.StdEncoding.DecodeString(req.Tx)
	if err != nil {
		return nil, sm.Wrapf(ErrBadRequest, "tx is not base64: %v", err)
	}
	return tx, nil
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	tx, err := readTx(r)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		writeErr(w, status, err)
		return
	}
	wait := r.URL.Query().Get("wait") != "false"
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.CommitWait)
	defer cancel()
	res, err := s.b.Submit(ctx, tx, wait)
	if err != nil {
		s.txs.WithLabelValues("error").Inc()
		backendErr(w, err)
		return
	}
	switch {
	case !res.Committed && res.Code != 0:
		s.txs.WithLabelValues("rejected").Inc()
		status := http.StatusBadRequest
		if res.Code == sm.ErrTxTooLarge.Code && res.Codespace == sm.Codespace {
			status = http.StatusRequestEntityTooLarge
		}
		writeJSON(w, status, res)
	case !res.Committed:
		s.txs.WithLabelValues("accepted").Inc()
		writeJSON(w, http.StatusAccepted, res)
	case res.Code != 0:
		s.txs.WithLabelValues("failed").Inc()
		writeJSON(w, http.StatusUnprocessableEntity, res)
	default:
		s.txs.WithLabelValues("committed").Inc()
		writeJSON(w, http.StatusOK, res)
	}
}

func (s *Server) tx(w http.ResponseWriter, r *http.Request) {
	h, err := hex.DecodeString(r.PathValue("hash"))
	if err != nil || len(h) != 32 {
		writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "hash must be 64 hex digits"))
		return
	}
	res, err := s.b.Tx(r.Context(), h)
	if err != nil {
		backendErr(w, err)
		return
	}
	if !s.signedBy(r, res.Signer) {
		redactPatientData(res)
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) block(w http.ResponseWriter, r *http.Request) {
	var h int64
	if p := r.PathValue("height"); p != "" {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 1 {
			writeErr(w, http.StatusBadRequest, sm.Wrapf(ErrBadRequest, "height must be a positive integer"))
			return
		}
		h = v
	}
	b, err := s.b.Block(r.Context(), h)
	if err != nil {
		backendErr(w, err)
		return
	}
	for i := range b.Txs {
		redactPatientData(&b.Txs[i])
	}
	writeJSON(w, http.StatusOK, b)
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, sm.Wrapf(ErrBadRequest, "%s must be a non-negative integer", name)
	}
	return n, nil
}
