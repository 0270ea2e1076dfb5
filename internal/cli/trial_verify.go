package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/lightproof"
	"github.com/medchain/medchain/x/trials"
)

// verifyInclusion checks a trial datum's inclusion proof (trial prove): the
// audit path leads from the datum's leaf to a root, and that root is the
// anchor's in chain state, proven against a light-client header. It also
// checks that the anchor names the datum's participant and that the datum's
// collection time lies in the anchor's claimed period.
func verifyInclusion(ctx context.Context, g *globals, file string, height int64, witness string, root lightproof.TrustRoot, timeout time.Duration) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--inclusion: %w", err)
	}
	var ip InclusionProof
	if err := json.Unmarshal(b, &ip); err != nil {
		return fmt.Errorf("--inclusion %s: %w", file, err)
	}
	if !trials.ValidID(ip.Trial) || ip.Anchor == 0 || ip.Size == 0 || ip.Index >= ip.Size {
		return fmt.Errorf("--inclusion %s: want a trial id, an anchor number and an index below the size", file)
	}
	participant, err := crypto.ParseAddress(ip.Participant)
	if err != nil {
		return fmt.Errorf("--inclusion: participant: %w", err)
	}
	d := trials.Datum{Participant: participant}
	if h, err := hex.DecodeString(ip.RecordHash); err != nil || len(h) != 32 {
		return errors.New("--inclusion: record_hash: want 64 hex digits")
	} else {
		copy(d.RecordHash[:], h)
	}
	at, err := time.Parse(time.RFC3339, ip.Collected)
	if err != nil {
		return fmt.Errorf("--inclusion: collected: %w", err)
	}
	d.Collected = at.Unix()
	var path [][]byte
	for _, s := range ip.Path {
		n, err := hex.DecodeString(s)
		if err != nil || len(n) != 32 {
			return errors.New("--inclusion: path: want hashes of 64 hex digits")
		}
		path = append(path, n)
	}

	// The anchor names participants: a signed read (--from, else the
	// participant's own key when local).
	as := ""
	if g.from == "" {
		as = participant.String()
	}
	c, err := g.readClient(as)
	if err != nil {
		return fmt.Errorf("--inclusion: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	key := trials.AnchorKey(ip.Trial, ip.Anchor)
	p, err := c.Proof(ctx, key, height)
	if err != nil {
		return fmt.Errorf("proof from %s: %w", g.node, err)
	}
	v, err := lightproof.NewVerifier(ctx, st.ChainID, witness, root)
	if errors.Is(err, lightproof.ErrRootExpired) {
		return fmt.Errorf("light client: %w (see --trust-height, --trust-hash, --trust-period)", err)
	}
	if err != nil {
		return fmt.Errorf("light client: %w", err)
	}
	res, err := v.Verify(ctx, p, key, nil)
	if err != nil {
		return fmt.Errorf("proof NOT verified: %w", err)
	}
	if !res.Exists {
		return fmt.Errorf("inclusion NOT verified: trial %s has no anchor %d at height %d (absence proven)", ip.Trial, ip.Anchor, res.Height)
	}
	a, err := trials.DecodeAnchor(p.Value)
	if err != nil {
		return fmt.Errorf("inclusion NOT verified: the proven anchor does not decode: %w", err)
	}
	if a.Leaves != ip.Size {
		return fmt.Errorf("inclusion NOT verified: the proof is for a batch of %d leaves, anchor %d has %d", ip.Size, a.Seq, a.Leaves)
	}
	if err := trials.VerifyInclusion(trials.LeafHash(ip.Trial, d), ip.Index, ip.Size, path, a.Root); err != nil {
		return fmt.Errorf("inclusion NOT verified: %w (anchored root %x)", err, a.Root)
	}
	if !slices.Contains(a.Participants, participant) {
		return fmt.Errorf("inclusion NOT verified: anchor %d does not name participant %s", a.Seq, participant)
	}
	if d.Collected < a.CollectedFrom || d.Collected > a.CollectedTo {
		return fmt.Errorf("inclusion NOT verified: collected %s lies outside the anchor's claimed period", ip.Collected)
	}
	if res.WitnessNodeID != "" && res.WitnessNodeID == st.NodeID {
		fmt.Fprintf(g.env.Stderr, "warning: the witness is the node that served the proof (node %s); use another node's RPC for an independent check\n", st.NodeID)
	}
	if g.json {
		used, tofu := v.Root()
		return g.printJSON(map[string]any{
			"verified": true, "trial": ip.Trial, "anchor": a.Seq, "site": a.Site, "root": hex.EncodeToString(a.Root[:]),
			"anchored_height": a.At.Height, "anchored_time": time.Unix(a.At.Time, 0).UTC(), "late": a.Late, "delay_seconds": a.Delay(),
			"participant": ip.Participant, "record_hash": ip.RecordHash, "collected": ip.Collected,
			"height": res.Height, "header_height": res.HeaderHeight, "header_hash": fmt.Sprintf("%X", res.HeaderHash),
			"app_hash": fmt.Sprintf("%X", res.AppHash), "node": g.node, "witness": res.Witness,
			"trust_height": used.Height, "trust_hash": fmt.Sprintf("%X", used.Hash), "trust_on_first_use": tofu,
		})
	}
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "datum:\trecord %s of %s, collected %s\n", ip.RecordHash, ip.Participant, ip.Collected)
	fmt.Fprintf(tw, "included:\tleaf %d of %d, root %x\n", ip.Index, ip.Size, a.Root)
	fmt.Fprintf(tw, "anchor:\ttrial %s #%d by %s, block %d at %s\n", ip.Trial, a.Seq, a.Site, a.At.Height, time.Unix(a.At.Time, 0).UTC().Format(time.RFC3339))
	if a.Late {
		fmt.Fprintf(tw, "timeliness:\tLATE: anchored %s after the earliest claimed collection\n", time.Duration(a.Delay())*time.Second)
	} else {
		fmt.Fprintf(tw, "timeliness:\ton time: anchored %s after the earliest claimed collection\n", time.Duration(a.Delay())*time.Second)
	}
	fmt.Fprintf(tw, "this datum:\tanchored %s after its claimed collection\n", time.Duration(a.At.Time-d.Collected)*time.Second)
	fmt.Fprintf(tw, "height:\t%d (served by %s)\n", res.Height, g.node)
	return printVerified(g, tw, res, v, "inclusion verified: the anchored root is in chain state, checked against a light-client header from")
}
