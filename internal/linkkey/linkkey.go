// Package linkkey keeps an organization's patient-link key (x/links) in a
// file: the secret under which its identifiers (MRNs) become the MACs the
// chain stores. The file is JSON {"org": id, "key": 64 hex digits}, mode
// 0600, by default HOME/config/link_key.json; every node and integration
// tool of the organization holds the same one (copy it as you would the
// gateway key). Losing it loses the ability to resolve existing links;
// leaking it lets the holder test guessed identifiers against the chain's
// MACs, so treat it like a private key.
package linkkey

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/medchain/medchain/x/links"
)

// Path is the default location of the key file in a node home.
func Path(home string) string { return filepath.Join(home, "config", "link_key.json") }

type file struct {
	Org string `json:"org"`
	Key string `json:"key"`
}

// Load reads a key file.
func Load(path string) (*links.Resolver, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("link key %s: %w", path, err)
	}
	k, err := links.ParseKey(f.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Org == "" {
		return nil, fmt.Errorf("link key %s: no org", path)
	}
	return &links.Resolver{Org: f.Org, Key: k}, nil
}

// LoadIfExists is Load, returning nil without an error when there is no file.
func LoadIfExists(path string) (*links.Resolver, error) {
	r, err := Load(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return r, err
}

// Generate writes a fresh random key for org to path; it never overwrites.
func Generate(path, org string) (*links.Resolver, error) {
	r := &links.Resolver{Org: org}
	if _, err := rand.Read(r.Key[:]); err != nil {
		return nil, err
	}
	return r, Save(path, r)
}

// Save writes a key file (mode 0600); it never overwrites.
func Save(path string, r *links.Resolver) error {
	b, _ := json.MarshalIndent(file{Org: r.Org, Key: hex.EncodeToString(r.Key[:])}, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
