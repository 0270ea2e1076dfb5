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
		height      int64
		trustHeight int64
		trustHash   string
		trustPeriod time.Duration
		timeout     time.Duration
	}
	cmd := &cobra.Command{
		Use:   "verify (--key HEX | --account ACCOUNT) --witness RPC_URL",
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
--key takes any raw state key in hex. Exits non-zero when the proof does not
verify.`,
		Example: `  medchain verify --account doctor1 --witness http://127.0.0.1:26667
  medchain verify --node http://127.0.0.1:8081 --witness http://127.0.0.1:26657 --key 01ab... --height 40`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (f.key == "") == (f.account == "") {
				return errors.New("give exactly one of --key HEX and --account ACCOUNT")
			}
			if f.witness == "" {
				return errors.New("--witness is required: the CometBFT RPC URL of a node other than --node (env MEDCHAIN_WITNESS)")
			}
			root, err := trustRoot(f.trustHeight, f.trustHash, f.trustPeriod)
			if err != nil {
				return err
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
			_, err = fmt.Fprintf(g.env.Stdout, "verified against a light-client header from %s\n", res.Witness)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.witness, "witness", envOr(g.env.Getenv, "MEDCHAIN_WITNESS", ""), "CometBFT RPC URL of a node other than --node, e.g. http://127.0.0.1:26667 (env MEDCHAIN_WITNESS)")
	fl.StringVar(&f.key, "key", "", "raw state key, in hex")
	fl.StringVar(&f.account, "account", "", "an account's address, or the name of a local key")
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
