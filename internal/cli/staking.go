package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/x/staking"
)

// NewStakingCmd builds `medchain staking`: delegation, rewards, commission
// and jail of validators.
func NewStakingCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "staking",
		Short: "Delegate to validators, withdraw rewards, manage a validator's commission and jail",
		Long: `staking bonds tokens to validators that governance approved. A validator's
voting power is its governance base power plus its bonded tokens divided by
staking.power_reduction. Each block's rewards (inflation and fees) go to the
validators that signed the last block by their power; each keeps its
commission and shares the rest with its delegators by stake. Undelegated
tokens return after staking.unbonding_seconds and stay slashable until then.

VALIDATOR is a consensus public key: 64 hex digits (medchain show-validator)
or base64.`,
	}
	cmd.AddCommand(newStakingDelegateCmd(g, true), newStakingDelegateCmd(g, false), newStakingWithdrawCmd(g),
		newStakingValidatorsCmd(g), newStakingDelegationsCmd(g), newStakingUnjailCmd(g), newStakingCommissionCmd(g))
	return cmd
}

func parseAmount(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("amount %q: want a positive integer of token units", s)
	}
	return v, nil
}

func newStakingDelegateCmd(g *globals, bond bool) *cobra.Command {
	var tf txFlags
	use, short := "delegate --from KEY VALIDATOR AMOUNT", "Bond AMOUNT of the --from account's tokens to VALIDATOR"
	if !bond {
		use, short = "undelegate --from KEY VALIDATOR AMOUNT", "Start returning AMOUNT of the --from account's stake in VALIDATOR (after the unbonding period)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			val, err := parseConsensusKey(args[0])
			if err != nil {
				return err
			}
			amount, err := parseAmount(args[1])
			if err != nil {
				return err
			}
			if bond {
				_, err = g.send(cmd.Context(), tf, &staking.MsgDelegate{Validator: val, Amount: amount}, func(*api.TxResult) string {
					return fmt.Sprintf("delegated %d to %s", amount, val)
				})
				return err
			}
			_, err = g.send(cmd.Context(), tf, &staking.MsgUndelegate{Validator: val, Amount: amount}, func(res *api.TxResult) string {
				done := ""
				if c, ok := eventAttr(res, "undelegate", "completion"); ok {
					if sec, err := strconv.ParseInt(c, 10, 64); err == nil {
						done = ", returned at " + time.Unix(sec, 0).UTC().Format(time.RFC3339)
					}
				}
				return fmt.Sprintf("undelegating %d from %s%s", amount, val, done)
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

// paid sums the amounts of a result's events of one type.
func paid(res *api.TxResult, typ string) uint64 {
	var n uint64
	for _, e := range res.Events {
		if e.Type == typ {
			v, _ := strconv.ParseUint(e.Attrs["amount"], 10, 64)
			n += v
		}
	}
	return n
}

func newStakingWithdrawCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "withdraw --from KEY [VALIDATOR]",
		Short: "Withdraw the --from account's rewards from VALIDATOR, or from every validator",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var val crypto.PubKey
			if len(args) == 1 {
				var err error
				if val, err = parseConsensusKey(args[0]); err != nil {
					return err
				}
			}
			_, err := g.send(cmd.Context(), tf, &staking.MsgWithdrawRewards{Validator: val}, func(res *api.TxResult) string {
				return fmt.Sprintf("withdrew %d in rewards", paid(res, "rewards_withdrawn"))
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newStakingUnjailCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "unjail --from ADMIN VALIDATOR",
		Short: "Return a validator jailed for downtime to the set, after its jail period (an admin of its organization)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			val, err := parseConsensusKey(args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &staking.MsgUnjail{Validator: val}, func(*api.TxResult) string {
				return fmt.Sprintf("unjailed %s; its power returns at the end of the block", val)
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newStakingCommissionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "commission",
		Short: "Set or withdraw a validator's commission (an admin of its organization)",
	}
	var setTF, wdTF txFlags
	set := &cobra.Command{
		Use:   "set --from ADMIN VALIDATOR RATE_BPS",
		Short: "Set the commission rate in basis points (bounded by staking.max_commission_bps, at most staking.max_commission_change_bps a day)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			val, err := parseConsensusKey(args[0])
			if err != nil {
				return err
			}
			rate, err := strconv.ParseUint(args[1], 10, 64)
			if err != nil {
				return fmt.Errorf("rate %q: want basis points, 0 to 10000", args[1])
			}
			_, err = g.send(cmd.Context(), setTF, &staking.MsgSetCommission{Validator: val, RateBps: rate}, func(*api.TxResult) string {
				return fmt.Sprintf("commission of %s set to %d bps", val, rate)
			})
			return err
		},
	}
	setTF.add(set)
	withdraw := &cobra.Command{
		Use:   "withdraw --from ADMIN VALIDATOR",
		Short: "Pay the validator's earned commission to the --from admin",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			val, err := parseConsensusKey(args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), wdTF, &staking.MsgWithdrawCommission{Validator: val}, func(res *api.TxResult) string {
				return fmt.Sprintf("withdrew %d in commission", paid(res, "commission_withdrawn"))
			})
			return err
		},
	}
	wdTF.add(withdraw)
	cmd.AddCommand(set, withdraw)
	return cmd
}

func newStakingValidatorsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validators",
		Short: "List validators with their stake, power, commission and jail state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Validators []api.StakingValidatorView `json:"validators"`
			}
			if done, err := g.get(cmd.Context(), "/v1/staking/validators", &out); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PUB KEY\tORG\tPOWER\tBASE\tBONDED\tCOMMISSION\tSTATE")
			for _, v := range out.Validators {
				state := "active"
				switch {
				case v.Tombstoned:
					state = "tombstoned"
				case v.Jailed:
					state = "jailed until " + time.Unix(v.JailedUntil, 0).UTC().Format(time.RFC3339)
				case !v.Approved:
					state = "removed by governance"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d bps\t%s\n", v.PubKey, v.Org, v.Power, v.BasePower, v.Tokens, v.CommissionBps, state)
			}
			return tw.Flush()
		},
	}
}

func newStakingDelegationsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delegations [KEY|ADDRESS]",
		Short: "Show an account's delegations, pending rewards and unbonding (default: --from)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			who := g.from
			if len(args) == 1 {
				who = args[0]
			}
			addr, err := g.account(who)
			if err != nil {
				return err
			}
			var out struct {
				Delegations []api.DelegationView `json:"delegations"`
				Unbonding   []api.UnbondingView  `json:"unbonding"`
			}
			if done, err := g.get(cmd.Context(), "/v1/staking/delegations/"+addr.String(), &out); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VALIDATOR\tSTAKE\tPENDING REWARDS")
			for _, d := range out.Delegations {
				fmt.Fprintf(tw, "%s\t%d\t%d\n", d.Validator, d.Tokens, d.PendingRewards)
			}
			for _, u := range out.Unbonding {
				fmt.Fprintf(tw, "%s\tunbonding %d\treturned at %s\n", u.Validator, u.Amount, time.Unix(u.Completion, 0).UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
}

// newValidatorsRevenueCmd builds `medchain validators revenue ORG`.
func newValidatorsRevenueCmd(g *globals) *cobra.Command {
	var blocks bool
	cmd := &cobra.Command{
		Use:   "revenue ORG",
		Short: "What an organization's validators earned, per day (and with --blocks per block)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Days   []api.RevenueDayView   `json:"days"`
				Blocks []api.RevenueBlockView `json:"blocks"`
			}
			if done, err := g.get(cmd.Context(), "/v1/validators/revenue/"+args[0], &out); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DAY (UTC)\tBLOCKS\tREWARDS\tCOMMISSION\tTO DELEGATORS")
			var total, comm uint64
			for _, d := range out.Days {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", d.Date, d.Blocks, d.Rewards, d.Commission, d.Delegators)
				total += d.Rewards
				comm += d.Commission
			}
			fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\n", total, comm, total-comm)
			if blocks {
				fmt.Fprintln(tw, "\nHEIGHT\t\tREWARDS\tCOMMISSION\t")
				for _, b := range out.Blocks {
					fmt.Fprintf(tw, "%d\t\t%d\t%d\t\n", b.Height, b.Rewards, b.Commission)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&blocks, "blocks", false, "also list the recent blocks' figures (distribution.revenue_block_history)")
	return cmd
}
