package cli

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/node"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/merkle"
	"github.com/medchain/medchain/x/audit"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/links"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/records"
)

// indexers are the modules that keep index entries (store.IsIndexKey), each
// with the pure function deriving them from the module's proven keys.
var indexers = []struct {
	module string
	derive func(store.Reader, func(k, v []byte))
}{
	{"consent", consent.IndexEntries},
	{"records", records.IndexEntries},
	{"audit", audit.IndexEntries},
	{"links", links.IndexEntries},
	{"policy", policy.IndexEntries},
}

// IndexMismatch is one index entry that differs from its derivation.
type IndexMismatch struct {
	Kind    string `json:"kind"`             // "missing" (derived, not stored), "stray" (stored, not derived), "differs"
	Module  string `json:"module,omitempty"` // the module that derives the key (missing, differs)
	Key     string `json:"key"`              // hex
	Stored  string `json:"stored,omitempty"` // hex value (stray, differs)
	Derived string `json:"derived,omitempty"`
}

// IndexReport is the outcome of checkIndexes.
type IndexReport struct {
	Height     int64           `json:"height"`
	Derived    int             `json:"derived"` // entries derived from proven keys
	Stored     int             `json:"stored"`  // index entries stored
	Mismatches int             `json:"mismatches"`
	Shown      []IndexMismatch `json:"shown"` // the first maxShown
}

const maxShown = 50

// checkIndexes derives every module's index entries from the proven keys of
// r and compares them with the index entries stored in r. It holds an 8-byte
// fingerprint per derived entry (some 80 MB for ten million), not the
// entries: a derived entry is checked by a lookup, a stored one against the
// sorted fingerprints.
func checkIndexes(r store.Reader) IndexReport {
	var rep IndexReport
	report := func(m IndexMismatch) {
		rep.Mismatches++
		if len(rep.Shown) < maxShown {
			rep.Shown = append(rep.Shown, m)
		}
	}
	var fps []uint64
	for _, ix := range indexers {
		ix.derive(r, func(k, v []byte) {
			rep.Derived++
			fps = append(fps, fingerprint(k))
			switch stored := r.Get(k); {
			case !store.IsIndexKey(k):
				report(IndexMismatch{Kind: "differs", Module: ix.module, Key: hex.EncodeToString(k), Derived: "(a proven key: derivation bug)"})
			case stored == nil:
				report(IndexMismatch{Kind: "missing", Module: ix.module, Key: hex.EncodeToString(k), Derived: hex.EncodeToString(v)})
			case string(stored) != string(v):
				report(IndexMismatch{Kind: "differs", Module: ix.module, Key: hex.EncodeToString(k), Stored: hex.EncodeToString(stored), Derived: hex.EncodeToString(v)})
			}
		})
	}
	slices.Sort(fps)
	r.Iterate([]byte{store.IndexKeyStart}, nil, func(k, v []byte) bool {
		rep.Stored++
		if _, found := slices.BinarySearch(fps, fingerprint(k)); !found {
			report(IndexMismatch{Kind: "stray", Key: hex.EncodeToString(k), Stored: hex.EncodeToString(v)})
		}
		return true
	})
	return rep
}

func fingerprint(k []byte) uint64 {
	s := sha256.Sum256(k)
	return binary.BigEndian.Uint64(s[:8])
}

// openCommittedState opens the latest committed state of the node at home
// for reading, and returns a close function. It is the only place the CLI
// opens a state database; the node must be stopped (the database is locked
// while it runs).
func openCommittedState(home string) (*merkle.Snapshot, func() error, error) {
	dir := config.DataDir(home)
	if _, err := os.Stat(filepath.Join(dir, merkle.DBName)); err != nil {
		return nil, nil, fmt.Errorf("no state database under %s: %w", dir, err)
	}
	tree, err := merkle.OpenTree(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open the state under %s (is the node still running?): %w", dir, err)
	}
	if tree.Version() == 0 {
		tree.Close()
		return nil, nil, fmt.Errorf("the state under %s has no committed version", dir)
	}
	snap, err := tree.Snapshot(tree.Version())
	if err != nil {
		tree.Close()
		return nil, nil, err
	}
	return snap, tree.Close, nil
}

// ErrIndexMismatch: the stored index entries differ from those derived from
// the proven state.
var ErrIndexMismatch = errors.New("index entries differ from those derived from the proven state")

// NewStateCmd builds `medchain state`: checks of a node's stored state.
func NewStateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Check or migrate the stored state of a stopped node (--home)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Rebuild every index entry from the proven keys and compare with the stored ones",
		Long: `state check opens the latest committed state of the node whose home is --home
(stop the node first: its database is locked while it runs), derives every
module's index entries (a patient's consents, emergencies and records, the
content hash → record map, the audit trail by accessor) from the proven keys,
those the app hash covers, and compares them with the index entries stored.

Index entries are kept outside the Merkle tree, so no proof covers them; the
state machine never lets one widen access (each object loaded through an index
is checked against the key that pointed at it), but a damaged index can hide
consents or records from listings and refuse what should be allowed. This
command finds such damage: it lists entries that are missing, stray (stored
but not derivable) or different, and exits non-zero if there is any.`,
		Example: `  medchain state check --home ~/.medchain`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			snap, closeState, err := openCommittedState(g.home)
			if err != nil {
				return err
			}
			defer closeState()
			rep := checkIndexes(snap)
			rep.Height = snap.Version()
			if g.json {
				if err := g.printJSON(rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(g.env.Stdout, "state at height %d: %d index entries derived from proven keys, %d stored\n", rep.Height, rep.Derived, rep.Stored)
				for _, m := range rep.Shown {
					switch m.Kind {
					case "missing":
						fmt.Fprintf(g.env.Stdout, "missing  %s (%s): derived %s, not stored\n", m.Key, m.Module, m.Derived)
					case "stray":
						fmt.Fprintf(g.env.Stdout, "stray    %s: stored %s, derived from nothing\n", m.Key, m.Stored)
					default:
						fmt.Fprintf(g.env.Stdout, "differs  %s (%s): stored %s, derived %s\n", m.Key, m.Module, m.Stored, m.Derived)
					}
				}
				if rep.Mismatches > len(rep.Shown) {
					fmt.Fprintf(g.env.Stdout, "... and %d more\n", rep.Mismatches-len(rep.Shown))
				}
				if rep.Mismatches == 0 {
					fmt.Fprintln(g.env.Stdout, "index entries match the proven state")
				}
			}
			if rep.Mismatches != 0 {
				return fmt.Errorf("%w: %d mismatches", ErrIndexMismatch, rep.Mismatches)
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "migrate",
		Short: "Migrate a stopped node's state database to this release's format, in place (a copy is kept)",
		Long: `state migrate brings the state database of the node whose home is --home (stop it
first) to the format this medchain reads. A home of state format 2 (medchain
before the index digest) is migrated: the database is first copied to
data/medchain.db.format2-TIME, then marked format 3. The state keeps its height
and app hash; from the next block on, blocks are hashed the format 3 way, so
every validator of a network must migrate at the same height (see
docs/operations.md, "Migrating a state format 2 home"). A home already in the
current format is left as it is. Older homes cannot be migrated.`,
		Example: `  medchain state migrate --home ~/.medchain`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			res, err := node.MigrateState(g.home, time.Now())
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(res)
			}
			if res.Backup == "" {
				fmt.Fprintf(g.env.Stdout, "state is already format %d (height %d); nothing to do\n", res.To, res.Height)
				return nil
			}
			fmt.Fprintf(g.env.Stdout, "migrated state format %d to %d at height %d (app hash %X, unchanged)\nthe database before: %s (remove it once the node runs)\n",
				res.From, res.To, res.Height, res.AppHash, res.Backup)
			return nil
		},
	})
	return cmd
}
