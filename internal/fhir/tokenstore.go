package fhir

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/audit"
)

// Durable tokens. With Config.TokenFile set, the node keeps its live tokens
// in that file so that a restart logs nobody out: for each token, the
// SHA-256 of the bearer token (never the token itself), its account,
// scopes, launch patient, expiry, on-chain session key, signed token
// request (the audit proof) and the session key's seeds. The file is
// sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the
// gateway's X25519 private key, the key that opened the seeds in the first
// place: whoever can read the file without that key learns nothing, and
// the node operator, who holds it, could open the seeds anyway. It is
// rewritten (to a temporary file, then renamed; mode 0600) after every
// login, revocation and expiry, and read once at start, when expired tokens
// are dropped. A rotated gateway key makes the file unreadable: the node
// then starts without tokens (logged), as before.

const tokenFileMagic = "medchain-fhir-tokens/v1\n"

// storedToken is one token as the file keeps it.
type storedToken struct {
	Key     []byte       `json:"key"` // SHA-256 of the bearer token
	Addr    []byte       `json:"addr"`
	Kind    uint8        `json:"kind"`
	Org     string       `json:"org,omitempty"`
	Scope   string       `json:"scope"`
	Patient []byte       `json:"patient,omitempty"`
	Expires int64        `json:"expires"`
	Pub     []byte       `json:"pub,omitempty"`
	Grant   *audit.Proof `json:"grant,omitempty"`
	Seeds   []byte       `json:"seeds,omitempty"`
}

// tokenSealKey derives the file's AES key from the gateway key.
func (s *Server) tokenSealKey() ([]byte, error) {
	return hkdf.Key(sha256.New, s.cfg.Key.ECDH().Bytes(), nil, "medchain/fhir-token-store/v1\x00"+s.cfg.Chain.ChainID(), 32)
}

func (s *Server) tokenAEAD() (cipher.AEAD, error) {
	k, err := s.tokenSealKey()
	if err != nil {
		return nil, err
	}
	defer clear(k)
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// saveTokens writes every live token to the token file.
func (s *Server) saveTokens() {
	if s.cfg.TokenFile == "" {
		return
	}
	s.tokenFileMu.Lock()
	defer s.tokenFileMu.Unlock()
	if err := s.writeTokens(); err != nil {
		s.cfg.Log.Error("cannot save FHIR tokens: a restart will log their clients out", "err", err)
	}
}

func (s *Server) writeTokens() error {
	s.auth.mu.Lock()
	list := make([]storedToken, 0, len(s.auth.tokens))
	for k, sess := range s.auth.tokens {
		sess.mu.Lock()
		st := storedToken{Key: append([]byte(nil), k[:]...), Addr: append([]byte(nil), sess.addr[:]...), Kind: uint8(sess.kind), Org: sess.org,
			Scope: sess.scope, Expires: sess.expires.Unix(), Grant: sess.grant, Seeds: append([]byte(nil), sess.seeds...)}
		sess.mu.Unlock()
		if !sess.patient.IsZero() {
			st.Patient = append([]byte(nil), sess.patient[:]...)
		}
		if sess.pub != (crypto.PubKey{}) {
			st.Pub = append([]byte(nil), sess.pub[:]...)
		}
		list = append(list, st)
	}
	s.auth.mu.Unlock()
	pt, err := json.Marshal(list)
	for i := range list {
		clear(list[i].Seeds)
	}
	if err != nil {
		return err
	}
	defer clear(pt)
	aead, err := s.tokenAEAD()
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	out := append([]byte(tokenFileMagic), nonce...)
	out = aead.Seal(out, nonce, pt, []byte(tokenFileMagic))
	dir := filepath.Dir(s.cfg.TokenFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".fhir-tokens-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.cfg.TokenFile)
}

// loadTokens restores the tokens of the token file that have not expired.
func (s *Server) loadTokens() error {
	b, err := os.ReadFile(s.cfg.TokenFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	aead, err := s.tokenAEAD()
	if err != nil {
		return err
	}
	if len(b) < len(tokenFileMagic)+aead.NonceSize() || string(b[:len(tokenFileMagic)]) != tokenFileMagic {
		return errors.New("not a token file")
	}
	nonce := b[len(tokenFileMagic) : len(tokenFileMagic)+aead.NonceSize()]
	pt, err := aead.Open(nil, nonce, b[len(tokenFileMagic)+aead.NonceSize():], []byte(tokenFileMagic))
	if err != nil {
		return errors.New("the token file does not open with this gateway key (rotated?)")
	}
	defer clear(pt)
	var list []storedToken
	if err := json.Unmarshal(pt, &list); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	now := s.cfg.Now()
	restored := 0
	for i := range list {
		st := &list[i]
		sess, err := s.restore(st)
		clear(st.Seeds)
		if err != nil {
			s.cfg.Log.Warn("dropping a stored FHIR token", "err", err)
			continue
		}
		if !now.Before(sess.expires) {
			sess.wipe()
			continue
		}
		var k [32]byte
		copy(k[:], st.Key)
		if err := s.auth.restore(k, sess, now); err != nil {
			sess.wipe()
			continue
		}
		restored++
	}
	s.cfg.Log.Info("FHIR tokens restored", "tokens", restored)
	return nil
}

func (s *Server) restore(st *storedToken) (*session, error) {
	if len(st.Key) != 32 || len(st.Addr) != len(crypto.Address{}) {
		return nil, errors.New("malformed entry")
	}
	scopes, scopeText, err := parseScopes(st.Scope)
	if err != nil {
		return nil, err
	}
	sess := &session{kind: accounts.Kind(st.Kind), org: st.Org, scopes: scopes, scope: scopeText, expires: time.Unix(st.Expires, 0), grant: st.Grant}
	copy(sess.addr[:], st.Addr)
	if len(st.Patient) == len(sess.patient) {
		copy(sess.patient[:], st.Patient)
	}
	if len(st.Pub) > 0 {
		if len(st.Pub) != len(sess.pub) || len(st.Seeds) != DelegationSize {
			return nil, errors.New("malformed session")
		}
		copy(sess.pub[:], st.Pub)
		key, err := crypto.KeyFromSeeds(st.Seeds[:crypto.SeedSize], st.Seeds[crypto.SeedSize:])
		if err != nil || key.PubKey() != sess.pub {
			return nil, errors.New("the stored session key is not its session's")
		}
		sess.seeds = append([]byte(nil), st.Seeds...)
		sess.key.Store(key)
		sess.keys = newKeyCache(s.cfg.SessionKeyCache)
	}
	return sess, nil
}

// restore puts back a stored token under its key, within the limits.
func (a *authStore) restore(k [32]byte, s *session, now time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.tokens) >= a.lim.tokens || len(a.tokensOf[s.addr]) >= a.lim.tokensPerAccount {
		return errFull
	}
	if _, dup := a.tokens[k]; dup {
		return errors.New("duplicate token")
	}
	s.tok = k
	a.tokens[k] = s
	a.tokensOf[s.addr] = append(a.tokensOf[s.addr], s)
	s.mu.Lock()
	s.timer = time.AfterFunc(s.expires.Sub(now), func() { a.remove(k) })
	s.mu.Unlock()
	return nil
}
