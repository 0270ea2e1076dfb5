package cli

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/x/fees"
)

// NewFeesCmd builds `medchain fees`: prices and sponsorship (x/fees,
// docs/token.md).
func NewFeesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "fees", Short: "Fees: prices, and fee allowances an organization grants so that its patients and staff need no tokens"}
	cmd.AddCommand(newFeesGrantCmd(g), newFeesRevokeCmd(g), newFeesShowCmd(g), newFeesPriceCmd(g))
	return cmd
}

func newFeesGrantCmd(g *globals) *cobra.Command {
	var tf txFlags
	var limit, periodLimit uint64
	var period time.Duration
	var expires string
	var types []string
	cmd := &cobra.Command{
		Use:   "grant --from ADMIN GRANTEE [--limit N] [--period 720h --period-limit N] [--expires 8760h] [--types a/b,c/d]",
		Short: "Pay the fees of GRANTEE (an account, or the address of a key that will register) from your balance, within limits",
		Long: `grant sets your fee allowance to GRANTEE, replacing any earlier one: transactions GRANTEE
signs with --fee-payer YOU have their fee taken from your balance. Give a total --limit, a
--period with its --period-limit, or both; --expires (an RFC 3339 time or a duration from
now) ends it; --types limits it to message types. Only an active admin of an active
organization may grant.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			to, err := g.account(args[0])
			if err != nil {
				return err
			}
			m := &fees.MsgGrant{Grantee: to, Limit: limit, Period: int64(period / time.Second), PeriodLimit: periodLimit}
			if expires != "" {
				if m.Expiry, err = parseWhen("expires", expires); err != nil {
					return err
				}
			}
			m.Types = slices.Clone(types)
			slices.Sort(m.Types)
			m.Types = slices.Compact(m.Types)
			_, err = g.send(cmd.Context(), tf, m, func(*api.TxResult) string { return fmt.Sprintf("fee allowance granted to %s", to) })
			return err
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&limit, "limit", 0, "total fees you pay over the allowance's life (0: no total limit)")
	f.DurationVar(&period, "period", 0, "length of a period with its own limit")
	f.Uint64Var(&periodLimit, "period-limit", 0, "fees you pay per period")
	f.StringVar(&expires, "expires", "", "end: RFC 3339 time or a duration from now")
	f.StringSliceVar(&types, "types", nil, "message types covered (default all)")
	tf.add(cmd)
	return cmd
}

func newFeesRevokeCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "revoke --from ADMIN GRANTEE",
		Short: "End your fee allowance to GRANTEE",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			to, err := g.account(args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &fees.MsgRevoke{Grantee: to}, func(*api.TxResult) string { return fmt.Sprintf("fee allowance to %s revoked", to) })
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newFeesShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show [ACCOUNT] --from KEY",
		Short: "Show the fee allowances an account granted and holds (a signed read by the account or a guardian)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			who := g.from
			if len(args) == 1 {
				who = args[0]
			}
			if who == "" {
				return fmt.Errorf("name an ACCOUNT or --from")
			}
			a, err := g.account(who)
			if err != nil {
				return err
			}
			var out struct {
				Granted  []api.AllowanceView `json:"granted"`
				Received []api.AllowanceView `json:"received"`
			}
			as := ""
			if len(args) == 1 && g.from == "" {
				as = args[0]
			}
			if done, err := g.getSigned(cmd.Context(), as, "/v1/accounts/"+a.String()+"/allowances", &out); done || err != nil {
				return err
			}
			names := g.localNames()
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DIRECTION\tGRANTER\tGRANTEE\tSPENT/LIMIT\tPERIOD\tEXPIRES\tTYPES")
			row := func(dir string, v api.AllowanceView) {
				lim := "∞"
				if v.Limit != 0 {
					lim = fmt.Sprint(v.Limit)
				}
				per := "-"
				if v.Period != 0 {
					per = fmt.Sprintf("%d/%d per %s", v.PeriodSpent, v.PeriodLimit, time.Duration(v.Period)*time.Second)
				}
				exp := "never"
				if v.Expiry != 0 {
					exp = time.Unix(v.Expiry, 0).UTC().Format(time.RFC3339)
				}
				ty := "all"
				if len(v.Types) > 0 {
					ty = strings.Join(v.Types, ",")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%s\t%s\t%s\t%s\n", dir, label(names, v.Granter), label(names, v.Grantee), v.Spent, lim, per, exp, ty)
			}
			for _, v := range out.Granted {
				row("granted", v)
			}
			for _, v := range out.Received {
				row("received", v)
			}
			return tw.Flush()
		},
	}
}

func newFeesPriceCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "price [TYPE]",
		Short: "Show the smallest fee transactions (or one message type) may carry now",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v api.FeePricesView
			if done, err := g.get(cmd.Context(), "/v1/fees", &v); done || err != nil {
				return err
			}
			w := g.env.Stdout
			if len(args) == 1 {
				p, ok := v.Types[args[0]]
				if !ok {
					return fmt.Errorf("unknown message type %q", args[0])
				}
				_, err := fmt.Fprintf(w, "%s: %d\n", args[0], p)
				return err
			}
			market := "off"
			if v.MarketEnabled {
				market = fmt.Sprintf("on, base fee %d", v.BaseFee)
			}
			fmt.Fprintf(w, "tx.min_fee %d; fee market %s (height %d)\n", v.MinFee, market, v.Height)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tMIN FEE")
			for _, t := range slices.Sorted(func(yield func(string) bool) {
				for t := range v.Types {
					if !yield(t) {
						return
					}
				}
			}) {
				fmt.Fprintf(tw, "%s\t%d\n", t, v.Types[t])
			}
			return tw.Flush()
		},
	}
}
