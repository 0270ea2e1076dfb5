package cli

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/api"
)

// NewStatusCmd builds `medchain status`.
func NewStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the node's chain, height and peers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st api.Status
			if done, err := g.get(cmd.Context(), "/v1/status", &st); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "chain id:\t%s\n", st.ChainID)
			fmt.Fprintf(tw, "height:\t%d\n", st.Height)
			fmt.Fprintf(tw, "block time:\t%s\n", st.LatestBlockTime.UTC().Format(time.RFC3339))
			fmt.Fprintf(tw, "app hash:\t%s\n", st.AppHash)
			fmt.Fprintf(tw, "catching up:\t%s\n", yesNo(st.CatchingUp))
			fmt.Fprintf(tw, "node id:\t%s\n", st.NodeID)
			fmt.Fprintf(tw, "moniker:\t%s\n", st.Moniker)
			fmt.Fprintf(tw, "validator:\t%s (power %d)\n", st.Validator, st.VotingPower)
			fmt.Fprintf(tw, "peers:\t%d\n", st.Peers)
			fmt.Fprintf(tw, "version:\t%s\n", st.Version)
			return tw.Flush()
		},
	}
}

// NewValidatorsCmd builds `medchain validators`.
func NewValidatorsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validators",
		Short: "List the validator set",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Height     int64               `json:"height"`
				Validators []api.ValidatorView `json:"validators"`
			}
			if done, err := g.get(cmd.Context(), "/v1/validators", &out); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PUB KEY\tPOWER\tORG\tADDRESS")
			for _, v := range out.Validators {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", v.PubKey, v.Power, v.Org, v.Address)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(newValidatorsRevenueCmd(g))
	return cmd
}

// NewParamsCmd builds `medchain params`.
func NewParamsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "params",
		Short: "List the governance parameters and their values",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Params []struct {
					Name  string `json:"name"`
					Value uint64 `json:"value"`
					Min   uint64 `json:"min"`
					Max   uint64 `json:"max"`
					Doc   string `json:"doc"`
				} `json:"params"`
			}
			if done, err := g.get(cmd.Context(), "/v1/params", &out); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVALUE\tRANGE\tDESCRIPTION")
			for _, p := range out.Params {
				fmt.Fprintf(tw, "%s\t%d\t%d..%d\t%s\n", p.Name, p.Value, p.Min, p.Max, p.Doc)
			}
			return tw.Flush()
		},
	}
}

// NewBlockCmd builds `medchain block [HEIGHT]`.
func NewBlockCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "block [HEIGHT]",
		Short: "Show a block and its transactions (default: the latest)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/blocks/latest"
			if len(args) == 1 {
				h, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil || h < 1 {
					return fmt.Errorf("height %q: want a positive integer", args[0])
				}
				path = "/v1/blocks/" + strconv.FormatInt(h, 10)
			}
			var b api.Block
			if done, err := g.get(cmd.Context(), path, &b); done || err != nil {
				return err
			}
			w := g.env.Stdout
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "height:\t%d\n", b.Height)
			fmt.Fprintf(tw, "hash:\t%s\n", b.Hash)
			fmt.Fprintf(tw, "time:\t%s\n", b.Time.UTC().Format(time.RFC3339Nano))
			fmt.Fprintf(tw, "proposer:\t%s\n", b.Proposer)
			fmt.Fprintf(tw, "app hash:\t%s (state after block %d)\n", b.AppHash, b.Height-1)
			fmt.Fprintf(tw, "txs:\t%d\n", b.NumTxs)
			tw.Flush()
			if len(b.Txs) > 0 {
				printTxTable(w, b.Txs)
			}
			return nil
		},
	}
}

func printTxTable(w io.Writer, txs []api.TxResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HEIGHT\tHASH\tTYPE\tSIGNER\tRESULT")
	for _, t := range txs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", t.Height, t.Hash, t.Type, t.Signer, txOutcome(&t))
	}
	tw.Flush()
}

func txOutcome(t *api.TxResult) string {
	if t.Code == 0 {
		return "ok"
	}
	return fmt.Sprintf("code %d/%s", t.Code, t.Codespace)
}

// NewTxCmd builds `medchain tx HASH`.
func NewTxCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tx HASH",
		Short: "Show a committed transaction and its events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if b, err := hex.DecodeString(args[0]); err != nil || len(b) != 32 {
				return fmt.Errorf("transaction hash %q: want 64 hex digits", args[0])
			}
			var t api.TxResult
			get := g.get
			if g.from != "" { // the signer sees a patient-scoped transaction's events
				get = func(ctx context.Context, path string, out any) (bool, error) { return g.getSigned(ctx, "", path, out) }
			}
			if done, err := get(cmd.Context(), "/v1/txs/"+args[0], &t); done || err != nil {
				return err
			}
			w := g.env.Stdout
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "hash:\t%s\n", t.Hash)
			fmt.Fprintf(tw, "block:\t%d (index %d)\n", t.Height, t.Index)
			fmt.Fprintf(tw, "type:\t%s\n", t.Type)
			fmt.Fprintf(tw, "signer:\t%s\n", t.Signer)
			fmt.Fprintf(tw, "sequence:\t%d\n", t.Sequence)
			fmt.Fprintf(tw, "result:\t%s\n", txOutcome(&t))
			if t.Log != "" {
				fmt.Fprintf(tw, "log:\t%s\n", t.Log)
			}
			if t.Redacted {
				fmt.Fprintf(tw, "events:	left out: they name patient data (sign with --from as the transaction's signer to see them)\n")
			}
			tw.Flush()
			printEvents(w, t.Events)
			return nil
		},
	}
}

func printEvents(w io.Writer, evs []api.Event) {
	if len(evs) == 0 {
		return
	}
	fmt.Fprintln(w, "events:")
	for _, e := range evs {
		fmt.Fprintf(w, "  %s", e.Type)
		keys := make([]string, 0, len(e.Attrs))
		for k := range e.Attrs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, " %s=%s", k, e.Attrs[k])
		}
		fmt.Fprintln(w)
	}
}
