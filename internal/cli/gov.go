package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/gov"
)

// NewGovCmd builds `medchain gov`: consortium governance.
func NewGovCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gov",
		Short: "Propose and vote on changes to the consortium; list proposals",
		Long: `gov changes the consortium: its member organizations, its validators and its
parameters. An admin of a member organization proposes (its organization votes
yes) and admins of the others vote. A proposal passes, and takes effect in the
same block, when at least two thirds of the member organizations approve; it is
rejected when more than a third refuse.`,
	}
	cmd.AddCommand(newGovProposeCmd(g), newGovVoteCmd(g), newGovProposalsCmd(g), newGovProposalCmd(g))
	return cmd
}

func newGovProposeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "propose",
		Short: "Open a proposal (signed by --from, an admin of a member organization)",
	}
	var (
		reason string
		tf     txFlags
	)
	// propose completes a subcommand: action builds the proposal from the
	// arguments and flags.
	propose := func(c *cobra.Command, action func(args []string) (gov.Action, error)) *cobra.Command {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			a, err := action(args)
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &gov.MsgPropose{Action: a, Reason: reason}, proposed)
			return err
		}
		c.Flags().StringVar(&reason, "reason", "", fmt.Sprintf("why, for the voters (at most %d bytes)", gov.MaxReasonLen))
		tf.add(c)
		return c
	}

	var (
		orgID, orgName, orgType string
		admin                   keyFlags
	)
	addMember := propose(&cobra.Command{
		Use:   "add-member --from ADMIN --org-id ID --name NAME --type TYPE (--admin-key NAME | --admin-pub-key HEX --admin-enc-key HEX)",
		Short: "Propose that an organization join, with its first admin account",
		Args:  cobra.NoArgs,
	}, func([]string) (gov.Action, error) {
		pub, enc, err := admin.resolve(g)
		if err != nil {
			return gov.Action{}, err
		}
		return gov.Action{
			Kind: gov.KindAddMember, Org: accounts.GenesisOrg{ID: orgID, Name: orgName, Type: orgType},
			AdminPubKey: pub, AdminEncKey: enc,
		}, nil
	})
	f := addMember.Flags()
	f.StringVar(&orgID, "org-id", "", "the organization's id: 2 to 64 of a-z, 0-9, '-'")
	f.StringVar(&orgName, "name", "", "the organization's name")
	f.StringVar(&orgType, "type", "", "the organization's type: one of "+strings.Join(accounts.OrgTypes, ", "))
	for _, n := range []string{"org-id", "name", "type"} {
		_ = addMember.MarkFlagRequired(n)
	}
	admin.add(addMember, "admin-key", "admin-pub-key", "admin-enc-key", "the first admin's")

	removeMember := propose(&cobra.Command{
		Use:   "remove-member --from ADMIN ORG_ID",
		Short: "Propose that an organization leave (its validators leave the set)",
		Args:  cobra.ExactArgs(1),
	}, func(args []string) (gov.Action, error) {
		return gov.Action{Kind: gov.KindRemoveMember, OrgID: args[0]}, nil
	})

	var (
		valKey   string
		power    int64
		valOrg   string
		rmValKey string
	)
	addValidator := propose(&cobra.Command{
		Use:   "add-validator --from ADMIN --pub-key KEY --power N --org ORG_ID",
		Short: "Propose a validator, operated by a member organization",
		Long: `add-validator proposes a new validator. KEY is its ed25519 consensus public
key: 64 hex digits (as printed by "medchain show-validator --home NODE_HOME") or
the base64 of pub_key.value in the node's config/priv_validator_key.json.`,
		Args: cobra.NoArgs,
	}, func([]string) (gov.Action, error) {
		pub, err := parseConsensusKey(valKey)
		if err != nil {
			return gov.Action{}, err
		}
		return gov.Action{Kind: gov.KindAddValidator, Validator: pub, Power: power, OrgID: valOrg}, nil
	})
	f = addValidator.Flags()
	f.StringVar(&valKey, "pub-key", "", "the validator's consensus public key (hex or base64)")
	f.Int64Var(&power, "power", 10, fmt.Sprintf("voting power, 1 to %d", gov.MaxPower))
	f.StringVar(&valOrg, "org", "", "id of the member organization that operates it")
	_ = addValidator.MarkFlagRequired("pub-key")
	_ = addValidator.MarkFlagRequired("org")

	removeValidator := propose(&cobra.Command{
		Use:   "remove-validator --from ADMIN --pub-key KEY",
		Short: "Propose that a validator leave the set",
		Args:  cobra.NoArgs,
	}, func([]string) (gov.Action, error) {
		pub, err := parseConsensusKey(rmValKey)
		if err != nil {
			return gov.Action{}, err
		}
		return gov.Action{Kind: gov.KindRemoveValidator, Validator: pub}, nil
	})
	removeValidator.Flags().StringVar(&rmValKey, "pub-key", "", "the validator's consensus public key (hex or base64)")
	_ = removeValidator.MarkFlagRequired("pub-key")

	setParam := propose(&cobra.Command{
		Use:   "set-param --from ADMIN NAME VALUE",
		Short: "Propose a new value of a parameter (see: medchain params)",
		Args:  cobra.ExactArgs(2),
	}, func(args []string) (gov.Action, error) {
		v, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			return gov.Action{}, fmt.Errorf("value %q: want a non-negative integer", args[1])
		}
		return gov.Action{Kind: gov.KindSetParam, Param: args[0], Value: v}, nil
	})

	var upInfo string
	upgrade := propose(&cobra.Command{
		Use:   "upgrade --from ADMIN NAME HEIGHT [--info TEXT]",
		Short: "Propose a software upgrade: at HEIGHT, nodes stop unless their binary has the migration NAME",
		Long: `upgrade proposes a software upgrade plan. Once approved, every node stops
before executing block HEIGHT unless its binary registers a migration named NAME
(the release that brings the upgrade does); operators then install that release
and start again, and it migrates the state at HEIGHT and goes on. See
docs/operations.md, "Upgrading the network".`,
		Args: cobra.ExactArgs(2),
	}, func(args []string) (gov.Action, error) {
		h, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || h < 1 {
			return gov.Action{}, fmt.Errorf("height %q: want a positive block height", args[1])
		}
		return gov.Action{Kind: gov.KindUpgrade, Upgrade: gov.Plan{Name: args[0], Height: h, Info: upInfo}}, nil
	})
	upgrade.Flags().StringVar(&upInfo, "info", "", fmt.Sprintf("for operators: where to get the release, its checksum (at most %d bytes)", gov.MaxUpgradeInfoLen))

	cancelUpgrade := propose(&cobra.Command{
		Use:   "cancel-upgrade --from ADMIN NAME",
		Short: "Propose cancelling the pending upgrade plan NAME",
		Args:  cobra.ExactArgs(1),
	}, func(args []string) (gov.Action, error) {
		return gov.Action{Kind: gov.KindCancelUpgrade, Upgrade: gov.Plan{Name: args[0]}}, nil
	})

	cmd.AddCommand(addMember, removeMember, addValidator, removeValidator, setParam, upgrade, cancelUpgrade)
	return cmd
}

// proposed is the outcome line of a committed proposal.
func proposed(res *api.TxResult) string {
	id, _ := eventAttr(res, "proposal_created", "id")
	kind, _ := eventAttr(res, "proposal_created", "kind")
	return fmt.Sprintf("created proposal %s (%s), %s", id, kind, closedStatus(res))
}

// closedStatus reports how a vote left its proposal.
func closedStatus(res *api.TxResult) string {
	st, ok := eventAttr(res, "proposal_closed", "status")
	if !ok {
		return "open for votes"
	}
	if r, _ := eventAttr(res, "proposal_closed", "result"); r != "" {
		return st + ": " + r
	}
	return st
}

// parseConsensusKey reads an ed25519 consensus public key: 64 hex digits or
// the base64 of its 32 bytes (CometBFT's priv_validator_key.json).
func parseConsensusKey(s string) (crypto.PubKey, error) {
	var pub crypto.PubKey
	s = strings.TrimSpace(s)
	b, err := hex.DecodeString(s)
	if err != nil || len(s) != 2*crypto.PubKeySize {
		b, err = base64.StdEncoding.DecodeString(s)
	}
	if err != nil || len(b) != crypto.PubKeySize {
		return pub, fmt.Errorf("consensus key %q: want 64 hex digits or the base64 of 32 bytes", s)
	}
	copy(pub[:], b)
	return pub, nil
}

func newGovVoteCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "vote --from ADMIN ID yes|no",
		Short: "Cast the vote of the --from admin's organization on a proposal",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("proposal id %q: want a number", args[0])
			}
			var approve bool
			switch args[1] {
			case "yes":
				approve = true
			case "no":
			default:
				return fmt.Errorf("vote %q: want yes or no", args[1])
			}
			_, err = g.send(cmd.Context(), tf, &gov.MsgVote{ProposalID: id, Approve: approve}, func(res *api.TxResult) string {
				return fmt.Sprintf("voted %s on proposal %d; proposal %s", args[1], id, closedStatus(res))
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newGovProposalsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "proposals",
		Short: "List the proposals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Proposals []api.ProposalView `json:"proposals"`
			}
			if done, err := g.get(cmd.Context(), "/v1/proposals", &out); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tBY\tYES/NO\tEXPIRES")
			for _, p := range out.Proposals {
				yes, no := tally(p.Votes)
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d/%d\t%s\n", p.ID, p.Kind, p.Status, p.Org, yes, no, p.Expires.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
}

// actionValue renders a JSON value of a proposal's action: strings
// unquoted, anything else as compact JSON.
func actionValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func tally(votes map[string]bool) (yes, no int) {
	for _, v := range votes {
		if v {
			yes++
		} else {
			no++
		}
	}
	return yes, no
}

func newGovProposalCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "proposal ID",
		Short: "Show a proposal and its votes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := strconv.ParseUint(args[0], 10, 64); err != nil {
				return fmt.Errorf("proposal id %q: want a number", args[0])
			}
			// Action values stay raw JSON so that large integers print exactly.
			var p struct {
				api.ProposalView
				Action map[string]json.RawMessage `json:"action"`
			}
			done, err := g.get(cmd.Context(), "/v1/proposals/"+args[0], &p)
			if client.IsNotFound(err) {
				return errors.New("no proposal " + args[0] + " (see: medchain gov proposals)")
			}
			if done || err != nil {
				return err
			}
			w := g.env.Stdout
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "id:\t%d\n", p.ID)
			fmt.Fprintf(tw, "kind:\t%s\n", p.Kind)
			fmt.Fprintf(tw, "status:\t%s\n", p.Status)
			if p.Result != "" {
				fmt.Fprintf(tw, "result:\t%s\n", p.Result)
			}
			fmt.Fprintf(tw, "proposer:\t%s of %s\n", p.Proposer, p.Org)
			if p.Reason != "" {
				fmt.Fprintf(tw, "reason:\t%s\n", p.Reason)
			}
			fmt.Fprintf(tw, "created:\t%s\n", p.Created.UTC().Format(time.RFC3339))
			fmt.Fprintf(tw, "expires:\t%s\n", p.Expires.UTC().Format(time.RFC3339))
			for _, k := range slices.Sorted(maps.Keys(p.Action)) {
				fmt.Fprintf(tw, "%s:\t%s\n", k, actionValue(p.Action[k]))
			}
			tw.Flush()
			yes, no := tally(p.Votes)
			fmt.Fprintf(w, "votes (%d yes, %d no):\n", yes, no)
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, org := range slices.Sorted(maps.Keys(p.Votes)) {
				fmt.Fprintf(tw, "  %s\t%s\n", org, yesNo(p.Votes[org]))
			}
			return tw.Flush()
		},
	}
}
