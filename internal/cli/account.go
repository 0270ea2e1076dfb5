package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/lightproof"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
)

// NewAccountCmd builds `medchain account`.
func NewAccountCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Register as a patient, show an account and its transactions",
		Long: `account registers the --from key as a patient and reads accounts.
Wherever a command takes ACCOUNT, it accepts the name of a key in the keystore
or an address (mc followed by 40 hex digits).`,
	}
	cmd.AddCommand(newAccountRegisterCmd(g), newAccountShowCmd(g), newAccountTxsCmd(g), newAccountRotateKeysCmd(g))
	return cmd
}

func newAccountRegisterCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "register --from NAME",
		Short: "Register the --from key as a patient account (self-registration)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, err := g.fromInfo()
			if err != nil {
				return err
			}
			msg := &accounts.MsgRegisterPatient{EncKey: info.EncKey}
			_, err = g.send(cmd.Context(), tf, msg, func(*api.TxResult) string {
				return fmt.Sprintf("registered patient %s", info.Address)
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newAccountShowCmd(g *globals) *cobra.Command {
	var prove bool
	cmd := &cobra.Command{
		Use:   "show ACCOUNT",
		Short: "Show an account",
		Long: `show prints an account's state. With --prove the node sends an ICS23 proof of
the account's stored value, which is checked against the app hash in the
header of the next block (as served by the same node) before printing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			addr, err := g.account(args[0])
			if err != nil {
				return err
			}
			path := "/v1/accounts/" + addr.String()
			if prove {
				path += "?prove=true"
			}
			// Signed when the key is local (--from, else the account's
			// own): a patient's guardians are shown only to the patient
			// or a guardian.
			var raw json.RawMessage
			if _, kerr := g.keyInfo(args[0]); g.from != "" || kerr == nil {
				raw, err = g.fetchSigned(ctx, args[0], path)
			}
			if raw == nil && (err == nil || client.IsForbidden(err)) {
				// No local key, or one the chain no longer takes (a
				// rotated key): the public view, guardians withheld.
				raw, err = g.fetch(ctx, path)
			}
			if client.IsNotFound(err) {
				return fmt.Errorf("account %s does not exist on the chain", addr)
			}
			if err != nil {
				return err
			}
			var a api.AccountView
			if err := json.Unmarshal(raw, &a); err != nil {
				return err
			}
			var provenAt int64
			if prove {
				if provenAt, err = verifyAccountProof(ctx, g.client(), addr, &a); err != nil {
					return fmt.Errorf("proof of account %s: %w", addr, err)
				}
			}
			if g.json {
				return g.printRaw(raw)
			}
			printAccount(g, &a, provenAt)
			return nil
		},
	}
	cmd.Flags().BoolVar(&prove, "prove", false, "fetch and check a proof of the account against the chain's app hash")
	return cmd
}

func printAccount(g *globals, a *api.AccountView, provenAt int64) {
	names := g.localNames()
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "address:\t%s\n", label(names, a.Address))
	fmt.Fprintf(tw, "kind:\t%s\n", a.Kind)
	if a.Org != "" {
		fmt.Fprintf(tw, "org:\t%s\n", a.Org)
		fmt.Fprintf(tw, "role:\t%s\n", a.Role)
	}
	fmt.Fprintf(tw, "active:\t%s\n", yesNo(a.Active))
	fmt.Fprintf(tw, "sequence:\t%d\n", a.Sequence)
	fmt.Fprintf(tw, "balance:\t%d\n", a.Balance)
	fmt.Fprintf(tw, "created:\t%s\n", a.Created.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "pub_key:\t%s\n", a.PubKey)
	fmt.Fprintf(tw, "enc_key:\t%s\n", a.EncKey)
	for i, gd := range a.Guardians {
		head := ""
		if i == 0 {
			head = "guardians:"
		}
		fmt.Fprintf(tw, "%s\t%s\n", head, label(names, gd))
	}
	if a.GuardiansWithheld {
		fmt.Fprintf(tw, "guardians:\twithheld (shown to the patient or a guardian: --from)\n")
	}
	fmt.Fprintf(tw, "as of height:\t%d\n", a.Height)
	if provenAt > 0 {
		fmt.Fprintf(tw, "proof:\tverified against the app hash in block %d\n", provenAt)
	}
	tw.Flush()
}

// verifyAccountProof checks the proof sent with an account against the app
// hash in the header of the block after the account's height, and that the
// proven value is the account shown. It returns that block's height.
func verifyAccountProof(ctx context.Context, c *client.Client, addr crypto.Address, a *api.AccountView) (int64, error) {
	p := a.Proof
	if p == nil {
		return 0, errors.New("the node sent no proof")
	}
	if !p.Exists {
		return 0, errors.New("the proof is not a membership proof of this account")
	}
	// The app hash of the state at height H is in the header of block H+1.
	next := p.Height + 1
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := c.WaitHeight(wctx, next); err != nil {
		return 0, err
	}
	var b api.Block
	if err := c.Get(ctx, "/v1/blocks/"+strconv.FormatInt(next, 10), &b); err != nil {
		return 0, err
	}
	root, err := hex.DecodeString(b.AppHash)
	if err != nil {
		return 0, fmt.Errorf("block %d app hash: %w", next, err)
	}
	if err := lightproof.VerifyAgainstHeader(root, p, accounts.AccountKey(addr), p.Value); err != nil {
		return 0, err
	}
	acct, err := accounts.DecodeAccount(p.Value)
	if err != nil {
		return 0, fmt.Errorf("proven value: %w", err)
	}
	if acct.Address != addr || acct.PubKey.String() != a.PubKey || acct.EncKey.String() != a.EncKey ||
		acct.Kind.String() != a.Kind || acct.Org != a.Org || acct.Role != a.Role || acct.Active != a.Active ||
		acct.Sequence != a.Sequence || acct.Balance != a.Balance {
		return 0, errors.New("the proven account differs from the account the node showed")
	}
	return next, nil
}

func newAccountTxsCmd(g *globals) *cobra.Command {
	var page, perPage int
	cmd := &cobra.Command{
		Use:   "txs ACCOUNT",
		Short: "List the transactions an account signed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := g.account(args[0])
			if err != nil {
				return err
			}
			q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)}}
			var out struct {
				Txs   []api.TxResult `json:"txs"`
				Total int            `json:"total"`
			}
			if done, err := g.getSignedIfLocal(cmd.Context(), args[0], "/v1/accounts/"+addr.String()+"/txs?"+q.Encode(), &out); done || err != nil {
				return err
			}
			noun := "transactions"
			if out.Total == 1 {
				noun = "transaction"
			}
			fmt.Fprintf(g.env.Stdout, "%d %s signed by %s (page %d, %d per page)\n", out.Total, noun, addr, page, perPage)
			if len(out.Txs) > 0 {
				printTxTable(g.env.Stdout, out.Txs)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&page, "page", 1, "page number, from 1")
	cmd.Flags().IntVar(&perPage, "per-page", 30, "transactions per page, 1 to 100")
	return cmd
}

// NewMemberCmd builds `medchain member`: an admin's management of its
// organization's member accounts.
func NewMemberCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "member",
		Short: "Register and deactivate member accounts of the --from admin's organization",
	}
	cmd.AddCommand(newMemberAddCmd(g), newMemberDeactivateCmd(g))
	return cmd
}

func newMemberAddCmd(g *globals) *cobra.Command {
	var tf txFlags
	var role string
	var kf keyFlags
	cmd := &cobra.Command{
		Use:   "add --from ADMIN --role ROLE (--key NAME | --pub-key HEX --enc-key HEX)",
		Short: "Register a member account in the admin's organization",
		Long: `add registers a member of the --from admin's organization with a role (one of
` + fmt.Sprint(accounts.Roles) + `). The new member's public keys come from a local
key file (--key, no passphrase needed) or are given in hex.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, enc, err := kf.resolve(g)
			if err != nil {
				return err
			}
			msg := &accounts.MsgRegisterMember{PubKey: pub, EncKey: enc, Role: role}
			_, err = g.send(cmd.Context(), tf, msg, func(res *api.TxResult) string {
				org, _ := eventAttr(res, "account_registered", "org")
				return fmt.Sprintf("registered %s as %s of %s", pub.Address(), role, org)
			})
			return err
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "member role: one of "+fmt.Sprint(accounts.Roles))
	_ = cmd.MarkFlagRequired("role")
	kf.add(cmd, "key", "pub-key", "enc-key", "the new member's")
	tf.add(cmd)
	return cmd
}

func newMemberDeactivateCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "deactivate --from ADMIN ACCOUNT",
		Short: "Deactivate a member account of the admin's organization",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := g.account(args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &accounts.MsgDeactivateMember{Address: addr}, func(*api.TxResult) string {
				return fmt.Sprintf("deactivated member %s", addr)
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

// NewGuardianCmd builds `medchain guardian`: a patient's delegations.
func NewGuardianCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guardian",
		Short: "Let another account act for the --from patient, or stop it",
	}
	set := func(use, short string, mk func(crypto.Address) sm.Msg, done string) *cobra.Command {
		var tf txFlags
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				addr, err := g.account(args[0])
				if err != nil {
					return err
				}
				_, err = g.send(cmd.Context(), tf, mk(addr), func(*api.TxResult) string { return fmt.Sprintf(done, addr) })
				return err
			},
		}
		tf.add(c)
		return c
	}
	cmd.AddCommand(
		set("set --from PATIENT ACCOUNT", "Make ACCOUNT a guardian of the patient",
			func(a crypto.Address) sm.Msg { return &accounts.MsgSetGuardian{Guardian: a} }, "%s is now a guardian"),
		set("revoke --from PATIENT ACCOUNT", "End ACCOUNT's guardianship of the patient",
			func(a crypto.Address) sm.Msg { return &accounts.MsgRevokeGuardian{Guardian: a} }, "%s is no longer a guardian"),
	)
	return cmd
}
