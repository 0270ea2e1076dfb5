package cli

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/api"
)

// NewAuditCmd builds `medchain audit`: the trail of a patient's records.
func NewAuditCmd(g *globals) *cobra.Command {
	var patient, since, until, accessor string
	var fhir, signals bool
	cmd := &cobra.Command{
		Use:   "audit --from PATIENT [--since TIME] [--until TIME] [--accessor ACCOUNT] [--fhir] [--signals]",
		Short: "The audit trail of a patient's records: who read what, when, why; refusals; emergency reads flagged",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			who := patient
			if who == "" {
				who = g.from
			}
			if who == "" {
				return fmt.Errorf("--from (or --patient) is required")
			}
			p, err := g.account(who)
			if err != nil {
				return err
			}
			if signals {
				var out struct {
					Signals []api.SignalView `json:"signals"`
				}
				if done, err := g.getSigned(cmd.Context(), who, "/v1/patients/"+p.String()+"/signals", &out); done || err != nil {
					return err
				}
				names := g.localNames()
				if len(out.Signals) == 0 {
					fmt.Fprintln(g.env.Stdout, "no suspicious-access signals")
				}
				for _, s := range out.Signals {
					fmt.Fprintf(g.env.Stdout, "%s  %s  %s: %s\n", s.Time.Format(time.RFC3339), s.Kind, label(names, s.Accessor), s.Detail)
				}
				return nil
			}
			q := []string{}
			for _, kv := range [][2]string{{"from", since}, {"to", until}} {
				if kv[1] != "" {
					// Escaped: the "+" of an RFC 3339 offset would arrive as a space.
					q = append(q, kv[0]+"="+url.QueryEscape(kv[1]))
				}
			}
			if accessor != "" {
				a, err := g.account(accessor)
				if err != nil {
					return fmt.Errorf("--accessor: %w", err)
				}
				q = append(q, "accessor="+a.String())
			}
			if fhir {
				q = append(q, "format=fhir")
			}
			path := "/v1/patients/" + p.String() + "/audit"
			if len(q) > 0 {
				path += "?" + strings.Join(q, "&")
			}
			if fhir {
				raw, err := g.fetchSigned(cmd.Context(), who, path)
				if err != nil {
					return err
				}
				return g.printRaw(raw)
			}
			var out struct {
				Events []api.EventView `json:"events"`
			}
			if done, err := g.getSigned(cmd.Context(), who, path, &out); done || err != nil {
				return err
			}
			names := g.localNames()
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tACCESSOR\tRECORD\tOUTCOME\tBASIS\tNODE")
			for _, e := range out.Events {
				outcome := "served"
				if !e.Served {
					outcome = "REFUSED: " + e.Reason
				}
				basis := e.Basis
				switch {
				case e.ConsentID != 0 && e.Served && e.Condition != "":
					basis += fmt.Sprintf(" (consent %d, condition %s)", e.ConsentID, e.Condition)
				case e.ConsentID != 0 && e.Served:
					basis += fmt.Sprintf(" (consent %d)", e.ConsentID)
				}
				if e.Emergency {
					basis = fmt.Sprintf("EMERGENCY %d", e.EmergencyID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), label(names, e.Accessor), e.Record, outcome, basis, e.Node)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&patient, "patient", "", "the patient (default: --from)")
	f.StringVar(&since, "since", "", "from this time (RFC 3339 or unix seconds)")
	f.StringVar(&until, "until", "", "before this time (RFC 3339 or unix seconds)")
	f.StringVar(&accessor, "accessor", "", "only this accessor")
	f.BoolVar(&fhir, "fhir", false, "print a FHIR R4 Bundle of AuditEvent resources")
	f.BoolVar(&signals, "signals", false, "print suspicious-access signals instead")
	return cmd
}
