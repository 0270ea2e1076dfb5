package cli

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/epcis"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/supply"
)

// NewSupplyCmd builds `medchain supply`: drug supply-chain traceability
// (x/supply, docs/supply.md).
func NewSupplyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "supply", Short: "Drug supply chain: products, locations, trading partners, EPCIS capture, verification, quarantine, recalls"}
	cmd.AddCommand(newSupplyProductCmd(g), newSupplyLocationCmd(g), newSupplyPartnerCmd(g), newSupplyCaptureCmd(g),
		newSupplyVerifyCmd(g), newSupplyRecallCmd(g), newSupplyQuarantineCmd(g), newSupplyResolveCmd(g), newSupplyTerminateCmd(g))
	return cmd
}

func done(s string) func(*api.TxResult) string { return func(*api.TxResult) string { return s } }

func newSupplyProductCmd(g *globals) *cobra.Command {
	var tf txFlags
	var m supply.MsgProduct
	cmd := &cobra.Command{
		Use:   "product --from MANUFACTURER_ADMIN GTIN --name NAME --ndc CODE --strength CODE --form CODE --pack-size N",
		Short: "Register (or update) a product of your manufacturer organization",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			gt, err := gs1.ParseGTIN(args[0])
			if err != nil {
				return err
			}
			m.GTIN = string(gt)
			_, err = g.send(cmd.Context(), tf, &m, done("product "+m.GTIN+" registered"))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&m.Name, "name", "", "product name (required)")
	f.StringVar(&m.NDC, "ndc", "", "NDC or other national product code (required)")
	f.StringVar(&m.Strength, "strength", "", "strength, e.g. 500mg (required)")
	f.StringVar(&m.Form, "form", "", "dosage form, e.g. capsule (required)")
	f.Uint64Var(&m.PackSize, "pack-size", 0, "units per pack (required)")
	tf.add(cmd)
	return cmd
}

func newSupplyLocationCmd(g *globals) *cobra.Command {
	var tf txFlags
	var name string
	cmd := &cobra.Command{
		Use:   "location --from ADMIN GLN --name NAME",
		Short: "Register a GLN (a site, or your organization as a party) of your organization",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			gl, err := gs1.ParseGLN(args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &supply.MsgLocation{GLN: string(gl), Name: name}, done("location "+string(gl)+" registered"))
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "site name (required)")
	tf.add(cmd)
	return cmd
}

func newSupplyPartnerCmd(g *globals) *cobra.Command {
	var tf txFlags
	var remove bool
	cmd := &cobra.Command{
		Use:   "partner --from ADMIN ORG [--remove]",
		Short: "Declare an organization your trading partner (you ship to it, or receive from it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			what := "is now a trading partner"
			if remove {
				what = "is no longer a trading partner"
			}
			_, err := g.send(cmd.Context(), tf, &supply.MsgPartner{Partner: args[0], Remove: remove}, done(args[0]+" "+what))
			return err
		},
	}
	cmd.Flags().BoolVar(&remove, "remove", false, "withdraw the relation")
	tf.add(cmd)
	return cmd
}

func newSupplyCaptureCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "capture --from MEMBER FILE",
		Short: "Capture the events of an EPCIS 2.0 JSON/JSON-LD document, all or none, signed by you for your organization",
		Long: `capture reads an EPCISDocument (or one bare event), validates it, computes each event's
CBV 2.0 hash, and sends its events in one supply/capture transaction: the chain applies the
custody rules to each event in order and commits all of them or none. The refusal names the
event (index and hash) and its stable code. Prints each event's hash.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			evs, err := epcis.Parse(body)
			if err != nil {
				return err
			}
			m := &supply.MsgCapture{}
			for _, e := range evs {
				c, err := epcis.CaptureEvent(e)
				if err != nil {
					return fmt.Errorf("event %d: %w", len(m.Events), err)
				}
				m.Events = append(m.Events, c)
			}
			if len(m.Events) > supply.MaxEventsInMsg {
				return fmt.Errorf("%d events: at most %d in one capture; split the document", len(m.Events), supply.MaxEventsInMsg)
			}
			_, err = g.send(cmd.Context(), tf, m, func(*api.TxResult) string {
				var b strings.Builder
				fmt.Fprintf(&b, "%d events captured:", len(m.Events))
				for _, e := range m.Events {
					fmt.Fprintf(&b, "\n  %-16s %s", e.BizStep, e.Hash)
				}
				return b.String()
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newSupplyVerifyCmd(g *globals) *cobra.Command {
	var holder string
	var height int64
	cmd := &cobra.Command{
		Use:   "verify ID [--holder ORG]",
		Short: "Verify a unit by its Digital Link, element string or EPC: status, custodian, provenance",
		Long: `verify asks the node the DSCSA verification question for a serialised unit (an SGTIN
or SSCC) named by a GS1 Digital Link, an element string — "(01)…(21)…" or a scanner's raw
string — or an EPC URN: genuine, unknown, suspect, quarantined, recalled, dispensed or
destroyed; the signals behind the answer (never_commissioned, lot_mismatch,
custodian_mismatch, already_dispensed, …); the current custodian; and the provenance.
--holder names the organization presenting the unit. The node's answer carries ICS23 proofs;
'medchain verify --supply ID --witness RPC' checks them against a light-client header.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := g.supplyVerification(cmd, args[0], holder, height)
			if err != nil || g.json {
				return err
			}
			printSupplyVerification(g, v)
			return nil
		},
	}
	cmd.Flags().StringVar(&holder, "holder", "", "the organization presenting the unit")
	cmd.Flags().Int64Var(&height, "height", 0, "state height (default: latest)")
	return cmd
}

// supplyVerification fetches GET /v1/supply/verify (printing it with --json).
func (g *globals) supplyVerification(cmd *cobra.Command, id, holder string, height int64) (*api.Verification, error) {
	if _, err := gs1.Parse(id); err != nil {
		return nil, err
	}
	q := url.Values{"id": {id}}
	if holder != "" {
		q.Set("holder", holder)
	}
	if height > 0 {
		q.Set("height", fmt.Sprint(height))
	}
	var v api.Verification
	doneJSON, err := g.get(cmd.Context(), "/v1/supply/verify?"+q.Encode(), &v)
	if err != nil || doneJSON {
		return nil, err
	}
	return &v, nil
}

func printSupplyVerification(g *globals, v *api.Verification) {
	w := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "unit:\t%s\n", v.Key)
	fmt.Fprintf(w, "status:\t%s\n", strings.ToUpper(v.Status))
	if len(v.Signals) > 0 {
		fmt.Fprintf(w, "signals:\t%s\n", strings.Join(v.Signals, ", "))
	}
	if p := v.Product; p != nil {
		fmt.Fprintf(w, "product:\t%s (%s %s %s, pack of %d) by %s\n", p.Name, p.NDC, p.Strength, p.Form, p.PackSize, p.Org)
	}
	if u := v.Unit; u != nil {
		if u.Lot != "" {
			fmt.Fprintf(w, "lot/expiry:\t%s / %s\n", u.Lot, u.Expiry)
		}
		fmt.Fprintf(w, "custodian:\t%s (%s)\n", u.Custodian, u.Status)
		if u.ShipTo != "" {
			fmt.Fprintf(w, "shipped to:\t%s\n", u.ShipTo)
		}
		if u.Parent != "" {
			fmt.Fprintf(w, "packed in:\t%s\n", u.Parent)
		}
	}
	if r := v.Recall; r != nil {
		fmt.Fprintf(w, "recall:\tby %s (%s) at height %d\n", r.Org, r.Reason, r.Height)
	}
	if c := v.Case; c != nil {
		fmt.Fprintf(w, "investigation:\t%s (flagged by %s: %s)\n", c.State, c.FlaggedBy, c.Reason)
	}
	fmt.Fprintf(w, "provenance:\t%d events, proven at height %d (%d proofs)\n", len(v.Provenance), v.Height, len(v.Proofs))
	w.Flush()
	for _, e := range v.Provenance {
		to := ""
		if e.To != "" {
			to = " → " + e.To
		}
		fmt.Fprintf(g.env.Stdout, "  %s  %-18s %-16s%s  block %d\n", e.EventTime.Format(time.RFC3339), e.Org, e.BizStep, to, e.Height)
	}
}

func newSupplyRecallCmd(g *globals) *cobra.Command {
	var tf txFlags
	var reason string
	cmd := &cobra.Command{
		Use:   "recall --from MEMBER GTIN LOT --reason CODE",
		Short: "Recall a lot (the GTIN's manufacturer or a regulator): its units are no longer dispensed",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			gt, err := gs1.ParseGTIN(args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &supply.MsgRecall{GTIN: string(gt), Lot: args[1], Reason: reason},
				done(fmt.Sprintf("lot %s of %s recalled; holders: medchain state get /v1/supply/recalls/%s/%s", args[1], gt, gt, url.PathEscape(args[1]))))
			return err
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "one of "+strings.Join(supply.RecallReasons, ", "))
	tf.add(cmd)
	return cmd
}

// unitKey reads a unit named in any GS1 form as its element-string key.
func unitKey(s string) (string, error) {
	d, err := gs1.Parse(s)
	if err != nil {
		return "", err
	}
	if sg, ok := d.SGTIN(); ok {
		return sg.String(), nil
	}
	if d.SSCC != "" {
		return "(00)" + string(d.SSCC), nil
	}
	return "", errors.New("name a serialised unit: a GTIN with a serial (AI 21), or an SSCC")
}

func unitMsgCmd(g *globals, use, short string, build func(unit string) (sm.Msg, string), flags func(cmd *cobra.Command)) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := unitKey(args[0])
			if err != nil {
				return err
			}
			m, outcome := build(k)
			_, err = g.send(cmd.Context(), tf, m, done(outcome))
			return err
		},
	}
	if flags != nil {
		flags(cmd)
	}
	tf.add(cmd)
	return cmd
}

func newSupplyQuarantineCmd(g *globals) *cobra.Command {
	var reason string
	return unitMsgCmd(g, "quarantine --from MEMBER ID --reason CODE",
		"Flag a unit as suspect: it (and everything packed in it) is quarantined until the investigation closes",
		func(k string) (sm.Msg, string) {
			return &supply.MsgFlag{Unit: k, Reason: reason}, k + " quarantined"
		}, func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&reason, "reason", "", "one of "+strings.Join(supply.FlagReasons, ", "))
		})
}

func newSupplyResolveCmd(g *globals) *cobra.Command {
	var illegitimate, cleared bool
	return unitMsgCmd(g, "resolve --from MEMBER ID (--cleared | --illegitimate)",
		"Close an investigation (the manufacturer, the custodian or a regulator): cleared lifts the quarantine; illegitimate notifies the regulators and trading partners",
		func(k string) (sm.Msg, string) {
			if illegitimate {
				return &supply.MsgResolve{Unit: k, Illegitimate: true}, k + " declared illegitimate: regulators and trading partners notified"
			}
			return &supply.MsgResolve{Unit: k}, k + " cleared"
		}, func(cmd *cobra.Command) {
			cmd.Flags().BoolVar(&illegitimate, "illegitimate", false, "the product is illegitimate")
			cmd.Flags().BoolVar(&cleared, "cleared", false, "the product is cleared")
			cmd.MarkFlagsOneRequired("illegitimate", "cleared")
			cmd.MarkFlagsMutuallyExclusive("illegitimate", "cleared")
		})
}

func newSupplyTerminateCmd(g *globals) *cobra.Command {
	return unitMsgCmd(g, "terminate --from REGULATOR_MEMBER ID",
		"Terminate an illegitimate-product notification (a regulator)",
		func(k string) (sm.Msg, string) {
			return &supply.MsgTerminate{Unit: k}, "notification of " + k + " terminated"
		}, nil)
}
