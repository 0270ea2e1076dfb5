package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/lightproof"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/supply"
)

// verifySupply checks the node's verification answer for a unit end to
// end: every proof against a light-client header, then the answer re-derived
// from the proven values alone (status and provenance), and every key that
// re-derivation reads must be among the proven ones.
func verifySupply(ctx context.Context, g *globals, id, holder string, height int64, witness string, root lightproof.TrustRoot, timeout time.Duration) error {
	d, err := gs1.Parse(id)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := g.client()
	q := url.Values{"id": {id}}
	if holder != "" {
		q.Set("holder", holder)
	}
	if height > 0 {
		q.Set("height", fmt.Sprint(height))
	}
	var v api.Verification
	if err := c.Get(ctx, "/v1/supply/verify?"+q.Encode(), &v); err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	lv, err := lightproof.NewVerifier(ctx, st.ChainID, witness, root)
	if err != nil {
		return fmt.Errorf("light client: %w", err)
	}
	kv := store.NewMemory()
	proven := map[string]bool{}
	var last *lightproof.Result
	for _, p := range v.Proofs {
		key, err := hex.DecodeString(p.Key)
		if err != nil || p.Height != v.Height {
			return fmt.Errorf("proof NOT verified: a proof of key %q at height %d, answer at %d", p.Key, p.Height, v.Height)
		}
		res, err := lv.Verify(ctx, p, key, nil)
		if err != nil {
			return fmt.Errorf("proof NOT verified: key %s: %w", p.Key, err)
		}
		if res.Exists {
			kv.Set(key, p.Value)
		}
		proven[string(key)] = true
		last = res
	}
	if last == nil {
		return errors.New("proof NOT verified: the answer carries no proofs")
	}
	t := last.HeaderTime.UTC()
	re := supply.Verify(kv, d, holder, gs1.Date{Year: t.Year(), Month: int(t.Month()), Day: t.Day()})
	for _, k := range re.ProofKeys() {
		if !proven[string(k)] {
			return fmt.Errorf("proof NOT verified: the answer rests on key %x, which it does not prove", k)
		}
	}
	var got, want []string
	for _, e := range re.Provenance {
		want = append(want, e.Hash)
	}
	for _, e := range v.Provenance {
		got = append(got, e.Hash)
	}
	if re.Status != v.Status || !slices.Equal(got, want) {
		return fmt.Errorf("proof NOT verified: the node says %s with %d events; its proven state says %s with %d", v.Status, len(got), re.Status, len(want))
	}
	if g.json {
		return g.printJSON(map[string]any{"verified": true, "status": v.Status, "key": v.Key, "height": v.Height,
			"header_height": last.HeaderHeight, "header_hash": fmt.Sprintf("%X", last.HeaderHash), "witness": last.Witness, "proofs": len(v.Proofs)})
	}
	printSupplyVerification(g, &v)
	fmt.Fprintf(g.env.Stdout, "verified: %d proofs against the app hash of block %d (header %X from %s); status and provenance re-derived from the proven state\n",
		len(v.Proofs), last.HeaderHeight, last.HeaderHash, last.Witness)
	return nil
}
