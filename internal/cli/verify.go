package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/lightproof"
	"github.com/medchain/medchain/x/accounts"
)

// NewVerifyCmd builds `medchain verify`: a proof from one node checked
// against a header that a light client verified from another.
func NewVerifyCmd(g *globals) *cobra.Command {
	var f struct {
		witness     string
		key         string
		account     string
		access      string
		reader      string
		inclusion   string
		supplyID    string
		holder      string
		height      int64
		trustHeight int64
		trustHash   string
		trustPeriod time.Duration
		timeout     time.Duration
	}
	cmd := &cobra.Command{
		Use:   "verify (--key HEX | --account ACCOUNT | --access RECORD_ID --reader ACCOUNT | --inclusion PROOF_FILE | --supply ID) --witness RPC_URL",
		Short: "Check a state proof from --node against a light-client header from another node",
		Long: `verify fetches a value (or its absence) at a state key from the node at --node,
with an ICS23 proof, and checks the proof against the app hash of a block header
that CometBFT's light client obtained from --witness, the CometBFT RPC of
another node, and verified by validator signatures. A proof at state height H
is checked against the header of block H+1, which verify waits for.

The light client starts from a trust root. Give one with --trust-height and
--trust-hash (a block height and header hash from a source you trust, e.g.
'medchain block N' on your own node); then the witness is not trusted at all.
Without them verify trusts the witness's block 1 on first use: the check then
guarantees that the answer from --node agrees with the chain the witness's
validators signed, which catches a wrong or forged answer as long as the
witness is honest.

--account takes an address or the name of a key in the keystore under --home;
--key takes any raw state key in hex.

--access RECORD_ID --reader ACCOUNT checks the node's answer to "may ACCOUNT
read this record?" end to end: every ground the answer rests on (the record,
the reader's account and organization, the guardian delegation, the consent,
the emergency access and its custody consent) is proven against the header of
block H+1, the decision is re-derived from those proven values alone at the
time of block H (whose header is verified too), and anything the answer does
not prove fails the check. A refusal is provable only when the record is
erased or the reader unknown or inactive; a refusal for want of a consent
cannot be proven (consent listings are index keys, outside the Merkle tree)
and fails the check. The node answers this only to a signed request by the
reader itself or the record's patient or guardian: it is signed with the
--from key, else with the --reader key when it is in the keystore.

--inclusion PROOF_FILE checks that a datum of a clinical trial's anchored
batch is in the batch (the RFC 6962 audit path of 'medchain trial prove' leads
from the datum to the root) and that this root is the anchor's in chain state,
proven against a light-client header; it reports the block the batch was
anchored in and whether the anchor was late (docs/trials.md). The anchor names
participants: the request is signed with --from (an overseer of the trial),
else with the participant's key when it is in the keystore.

--supply ID checks the node's answer to the DSCSA verification question for a
serialised medicine (a GS1 Digital Link, element string or EPC URN): every proof
of the answer is checked against a light-client header, the status and
provenance are re-derived from the proven values alone, and an answer resting
on a key it does not prove fails (docs/supply.md).

Exits non-zero when the proof does not verify.`,
		Example: `  medchain verify --account doctor1 --witness http://127.0.0.1:26667
  medchain verify --access 3f2a...e1 --reader doctor1 --witness http://127.0.0.1:26667
  medchain verify --access 3f2a...e1 --reader mc1f...09 --from patient1 --witness http://127.0.0.1:26667
  medchain verify --node http://127.0.0.1:8081 --witness http://127.0.0.1:26657 --key 01ab... --height 40`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n := btoi(f.key != "") + btoi(f.account != "") + btoi(f.access != "") + btoi(f.inclusion != "") + btoi(f.supplyID != ""); n != 1 {
				return errors.New("give exactly one of --key HEX, --account ACCOUNT, --access RECORD_ID, --inclusion PROOF_FILE and --supply ID")
			}
			if (f.access == "") != (f.reader == "") {
				return errors.New("--access RECORD_ID and --reader ACCOUNT go together")
			}
			if f.witness == "" {
				return errors.New("--witness is required: the CometBFT RPC URL of a node other than --node (env MEDCHAIN_WITNESS)")
			}
			root, err := trustRoot(f.trustHeight, f.trustHash, f.trustPeriod)
			if err != nil {
				return err
			}
			if f.supplyID != "" {
				return verifySupply(cmd.Context(), g, f.supplyID, f.holder, f.height, f.witness, root, f.timeout)
			}
			if f.inclusion != "" {
				return verifyInclusion(cmd.Context(), g, f.inclusion, f.height, f.witness, root, f.timeout)
			}
			if f.access != "" {
				return verifyAccess(cmd.Context(), g, f.access, f.reader, f.height, f.witness, root, f.timeout)
			}
			var key []byte
			if f.key != "" {
				if key, err = hex.DecodeString(f.key); err != nil || len(key) == 0 {
					return fmt.Errorf("--key %q: want a non-empty key in hex", f.key)
				}
			} else {
				addr, err := g.account(f.account)
				if err != nil {
					return fmt.Errorf("--account: %w", err)
				}
				key = accounts.AccountKey(addr)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()

			c := g.client()
			if g.from != "" { // a proof of patient data is a signed read
				if c, err = g.readClient(""); err != nil {
					return err
				}
			}
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			p, err := c.Proof(ctx, key, f.height)
			if err != nil {
				return fmt.Errorf("proof from %s: %w", g.node, err)
			}
			v, err := lightproof.NewVerifier(ctx, st.ChainID, f.witness, root)
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
			if res.WitnessNodeID != "" && res.WitnessNodeID == st.NodeID {
				fmt.Fprintf(g.env.Stderr, "warning: the witness is the node that served the proof (node %s); use another node's RPC for an independent check\n", st.NodeID)
			}
			used, tofu := v.Root()
			if g.json {
				return g.printJSON(verifyJSON{
					Verified: true, Height: res.Height, Key: p.Key, Exists: res.Exists, Value: p.Value,
					HeaderHeight: res.HeaderHeight, HeaderHash: fmt.Sprintf("%X", res.HeaderHash),
					AppHash: fmt.Sprintf("%X", res.AppHash), Witness: res.Witness, Node: g.node,
					TrustHeight: used.Height, TrustHash: fmt.Sprintf("%X", used.Hash), TrustOnFirstUse: tofu,
				})
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "key:\t%s\n", p.Key)
			fmt.Fprintf(tw, "height:\t%d (served by %s)\n", res.Height, g.node)
			if res.Exists {
				sum := sha256.Sum256(p.Value)
				fmt.Fprintf(tw, "exists:\tyes, a %d-byte value (sha256 %x)\n", len(p.Value), sum)
				if f.account != "" {
					if a, err := accounts.DecodeAccount(p.Value); err == nil {
						fmt.Fprintf(tw, "account:\t%s\n", accountSummary(a))
					}
				}
			} else {
				fmt.Fprintf(tw, "exists:\tno (absence proven)\n")
			}
			return printVerified(g, tw, res, v, "verified against a light-client header from")
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.witness, "witness", envOr(g.env.Getenv, "MEDCHAIN_WITNESS", ""), "CometBFT RPC URL of a node other than --node, e.g. http://127.0.0.1:26667 (env MEDCHAIN_WITNESS)")
	fl.StringVar(&f.key, "key", "", "raw state key, in hex")
	fl.StringVar(&f.account, "account", "", "an account's address, or the name of a local key")
	fl.StringVar(&f.access, "access", "", "a record id (32 hex digits): check the node's access answer for --reader")
	fl.StringVar(&f.reader, "reader", "", "with --access: the reader, an address or the name of a local key")
	fl.StringVar(&f.inclusion, "inclusion", "", "a trial datum's inclusion proof file (medchain trial prove): check it against the anchored root in chain state")
	fl.StringVar(&f.supplyID, "supply", "", "a serialised medicine (Digital Link, element string or EPC URN): check the node's verification answer and provenance (docs/supply.md)")
	fl.StringVar(&f.holder, "holder", "", "with --supply: the organization presenting the unit")
	fl.Int64Var(&f.height, "height", 0, "state height of the proof (default: the node's latest)")
	fl.Int64Var(&f.trustHeight, "trust-height", 0, "height of the light client's trusted header (with --trust-hash)")
	fl.StringVar(&f.trustHash, "trust-hash", "", "hash of the trusted header, in hex (with --trust-height)")
	fl.DurationVar(&f.trustPeriod, "trust-period", lightproof.DefaultTrustPeriod, "trusting period: how old the trusted header may be")
	fl.DurationVar(&f.timeout, "timeout", time.Minute, "give up after this long")
	return cmd
}

// trustRoot builds the light client's root from the flags; none means
// trust on first use.
func trustRoot(height int64, hash string, period time.Duration) (lightproof.TrustRoot, error) {
	if period <= 0 {
		return lightproof.TrustRoot{}, errors.New("--trust-period must be positive")
	}
	root := lightproof.TrustRoot{Period: period}
	if height == 0 && hash == "" {
		return root, nil
	}
	if height <= 0 || hash == "" {
		return root, errors.New("--trust-height and --trust-hash go together: a block height of at least 1 and its header hash")
	}
	h, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(hash), "0x"))
	if err != nil || len(h) != sha256.Size {
		return root, fmt.Errorf("--trust-hash %q: want a header hash of %d bytes in hex", hash, sha256.Size)
	}
	root.Height, root.Hash = height, h
	return root, nil
}

func accountSummary(a *accounts.Account) string {
	s := a.Kind.String()
	if a.Org != "" {
		s += " of " + a.Org + " (" + a.Role + ")"
	}
	if !a.Active {
		s += ", inactive"
	}
	return fmt.Sprintf("%s, balance %d, sequence %d", s, a.Balance, a.Sequence)
}

// verifyJSON is verify's --json output.
type verifyJSON struct {
	Verified        bool   `json:"verified"`
	Height          int64  `json:"height"`
	Key             string `json:"key"`
	Exists          bool   `json:"exists"`
	Value           []byte `json:"value,omitempty"`
	HeaderHeight    int64  `json:"header_height"`
	HeaderHash      string `json:"header_hash"`
	AppHash         string `json:"app_hash"`
	Node            string `json:"node"`
	Witness         string `json:"witness"`
	TrustHeight     int64  `json:"trust_height"`
	TrustHash       string `json:"trust_hash"`
	TrustOnFirstUse bool   `json:"trust_on_first_use"`
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// verifyAccess fetches the node's proven access answer and checks it with
// the light client (lightproof.Verifier.VerifyAccess).
func verifyAccess(ctx context.Context, g *globals, recordID, readerArg string, height int64, witness string, root lightproof.TrustRoot, timeout time.Duration) error {
	id, err := api.ParseRecordID(recordID)
	if err != nil {
		return fmt.Errorf("--access: %w", err)
	}
	reader, err := g.account(readerArg)
	if err != nil {
		return fmt.Errorf("--reader: %w", err)
	}
	// The access endpoint serves only the reader itself or the record's
	// owner (a patient or guardian): the request is signed with --from, else
	// with the reader's local key.
	c, err := g.readClient(readerArg)
	if err != nil {
		return fmt.Errorf("--access: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	path := fmt.Sprintf("/v1/records/%x/access?prove=true&reader=%s", id[:], reader)
	if height > 0 {
		path += fmt.Sprintf("&height=%d", height)
	}
	var answer api.AccessView
	if err := c.Get(ctx, path, &answer); err != nil {
		return fmt.Errorf("access answer from %s: %w", g.node, err)
	}
	v, err := lightproof.NewVerifier(ctx, st.ChainID, witness, root)
	if errors.Is(err, lightproof.ErrRootExpired) {
		return fmt.Errorf("light client: %w (see --trust-height, --trust-hash, --trust-period)", err)
	}
	if err != nil {
		return fmt.Errorf("light client: %w", err)
	}
	check, res, err := v.VerifyAccess(ctx, &answer)
	if err != nil {
		return fmt.Errorf("access answer NOT verified: %w", err)
	}
	if res.WitnessNodeID != "" && res.WitnessNodeID == st.NodeID {
		fmt.Fprintf(g.env.Stderr, "warning: the witness is the node that served the answer (node %s); use another node's RPC for an independent check\n", st.NodeID)
	}
	used, tofu := v.Root()
	if g.json {
		return g.printJSON(verifyAccessJSON{
			Verified: true, Answer: answer, HeaderHeight: res.HeaderHeight, HeaderHash: fmt.Sprintf("%X", res.HeaderHash),
			AppHash: fmt.Sprintf("%X", res.AppHash), Witness: res.Witness, Node: g.node,
			TrustHeight: used.Height, TrustHash: fmt.Sprintf("%X", used.Hash), TrustOnFirstUse: tofu,
		})
	}
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "record:\t%s (%s of %s)\n", answer.Record, check.Type, check.Patient)
	fmt.Fprintf(tw, "reader:\t%s\n", answer.Reader)
	if answer.Allowed {
		fmt.Fprintf(tw, "answer:\tallowed, basis %s", answer.Basis)
		if answer.ConsentID != 0 {
			fmt.Fprintf(tw, ", consent %d", answer.ConsentID)
		}
		if answer.EmergencyID != 0 {
			fmt.Fprintf(tw, ", emergency access %d", answer.EmergencyID)
		}
		fmt.Fprintln(tw)
	} else {
		fmt.Fprintf(tw, "answer:\trefused (%s/%d: %s)\n", answer.Codespace, answer.Code, answer.Reason)
	}
	fmt.Fprintf(tw, "grounds:\t%d proven keys\n", check.Grounds)
	fmt.Fprintf(tw, "height:\t%d, judged at %s (served by %s)\n", answer.Height, answer.BlockTime.UTC().Format(time.RFC3339), g.node)
	return printVerified(g, tw, res, v, "access answer verified against light-client headers from")
}

// printVerified ends a verify report: the header and app hash checked, the
// trust root they rest on, and the witness the headers came from.
func printVerified(g *globals, tw *tabwriter.Writer, res *lightproof.Result, v *lightproof.Verifier, what string) error {
	used, tofu := v.Root()
	fmt.Fprintf(tw, "header:\tblock %d, hash %X\n", res.HeaderHeight, res.HeaderHash)
	fmt.Fprintf(tw, "app hash:\t%X\n", res.AppHash)
	how := "given with --trust-height/--trust-hash"
	if tofu {
		how = "trusted on first use of the witness"
	}
	fmt.Fprintf(tw, "trust root:\tblock %d, hash %X (%s)\n", used.Height, used.Hash, how)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(g.env.Stdout, "%s %s\n", what, res.Witness)
	return err
}

// verifyAccessJSON is verify --access's --json output.
type verifyAccessJSON struct {
	Verified        bool           `json:"verified"`
	Answer          api.AccessView `json:"answer"`
	HeaderHeight    int64          `json:"header_height"`
	HeaderHash      string         `json:"header_hash"`
	AppHash         string         `json:"app_hash"`
	Node            string         `json:"node"`
	Witness         string         `json:"witness"`
	TrustHeight     int64          `json:"trust_height"`
	TrustHash       string         `json:"trust_hash"`
	TrustOnFirstUse bool           `json:"trust_on_first_use"`
}
