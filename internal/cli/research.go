package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/research"
)

// NewResearchCmd builds `medchain research`: paid research data use
// (x/research).
func NewResearchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "research", Short: "Paid research data use: requests with an escrowed budget, patients' opt-ins, payments access by access"}
	cmd.AddCommand(newResearchOpenCmd(g), newResearchOptInCmd(g), newResearchRequestsCmd(g), newResearchPaymentsCmd(g), newResearchCloseCmd(g))
	return cmd
}

func newResearchOpenCmd(g *globals) *cobra.Command {
	var tf txFlags
	var budget, price uint64
	var types, codes, purpose, end string
	cmd := &cobra.Command{
		Use:   "open --from RESEARCHER --budget N --price N --types T1,T2 [--codes SYSTEM|CODE,...] --purpose CODE --end TIME",
		Short: "Open a paid data request; the budget moves into escrow; prints the request id",
		Long: `open publishes a data request: each patient who opts in and whose data (of one of --types)
you then read through the records flow is paid --price once, from the --budget escrowed
now. --codes are published eligibility criteria (system|code, e.g. http://loinc.org|4548-4)
that patients' clients match; the chain enforces the resource types. --purpose is a code.
At --end (RFC 3339 or a duration from now) opt-ins stop; after research.settle_seconds the
rest of the budget returns to you.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := &research.MsgOpen{Budget: budget, Price: price, Purpose: purpose}
			var err error
			if m.Types, err = parseTypes(types); err != nil {
				return err
			}
			slices.Sort(m.Types)
			m.Types = slices.Compact(m.Types)
			if codes != "" {
				for _, c := range strings.Split(codes, ",") {
					m.Codes = append(m.Codes, strings.TrimSpace(c))
				}
				slices.Sort(m.Codes)
				m.Codes = slices.Compact(m.Codes)
			}
			if m.End, err = parseWhen("end", end); err != nil {
				return err
			}
			return g.sendForID(cmd, tf, m, "research_opened", "request", func(res *api.TxResult) string {
				id, _ := eventAttr(res, "research_opened", "request")
				return fmt.Sprintf("request %s open: %d escrowed, %d per patient", id, budget, price)
			})
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&budget, "budget", 0, "tokens escrowed for the request (required)")
	f.Uint64Var(&price, "price", 0, "paid once to each consenting patient whose data is read (required)")
	f.StringVar(&types, "types", "", "FHIR resource types the request covers (required)")
	f.StringVar(&codes, "codes", "", "eligibility codes, system|code, comma-separated")
	f.StringVar(&purpose, "purpose", "", "purpose code (a-z, 0-9, '-', '_', '.') (required)")
	f.StringVar(&end, "end", "", "end: RFC 3339 time or a duration from now (required)")
	for _, n := range []string{"budget", "price", "types", "purpose", "end"} {
		_ = cmd.MarkFlagRequired(n)
	}
	tf.add(cmd)
	return cmd
}

func newResearchOptInCmd(g *globals) *cobra.Command {
	var patient, types string
	cmd := &cobra.Command{
		Use:   "optin --from PATIENT REQUEST [--types T1,T2] [--patient P]",
		Short: "Opt in to a request: grant the researcher a research consent scoped to it, then link it",
		Long: `optin sends two transactions signed by the patient (or a guardian with --patient): a
consent of purpose research, read only, to the request's researcher, scoped to the
request's resource types (or the subset --types) and ending at the request's end, which
also shares the keys of the covered existing records with the researcher; then
research/optin linking that consent to the request. From then on, the first time the
researcher reads one of your covered records (recorded in your audit trail) you are paid
the request's price, once; later reads are listed beside that payment. Revoke the
consent (medchain consent revoke) to stop the researcher's access.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := parseID("request", args[0])
			if err != nil {
				return err
			}
			var q api.RequestView
			if err := g.client().Get(ctx, "/v1/research/requests/"+strconv.FormatUint(id, 10), &q); err != nil {
				return err
			}
			if q.Closed != 0 || time.Now().Unix() >= q.End {
				return fmt.Errorf("request %d has ended", id)
			}
			scope := q.Types
			if types != "" {
				if scope, err = parseTypes(types); err != nil {
					return err
				}
				slices.Sort(scope)
				scope = slices.Compact(scope)
			}
			researcher, err := g.account(q.Researcher)
			if err != nil {
				return err
			}
			s, err := g.signer(ctx)
			if err != nil {
				return err
			}
			p := s.Key.Address()
			if patient != "" {
				if p, err = g.account(patient); err != nil {
					return fmt.Errorf("--patient: %w", err)
				}
			}
			grant := &consent.MsgGrant{Patient: p, Grantee: consent.Account(researcher), Actions: consent.ActRead, Types: scope,
				Purpose: consent.PurposeResearch, Until: q.End}
			if err := grant.ValidateBasic(); err != nil {
				return err
			}
			c := g.client()
			gr, err := c.Grant(ctx, s, grant)
			if err != nil {
				if gr != nil && gr.ConsentID != 0 {
					return fmt.Errorf("consent %d granted, but sharing existing records failed (revoke it or opt in with it): %w", gr.ConsentID, err)
				}
				return err
			}
			m := &research.MsgOptIn{Request: id, Patient: p, Consent: gr.ConsentID}
			res, err := c.SubmitSigned(ctx, s, m, true)
			if err != nil {
				return fmt.Errorf("consent %d granted, but the opt-in failed (revoke the consent with medchain consent revoke %d): %w", gr.ConsentID, gr.ConsentID, err)
			}
			if g.json {
				return g.printJSON(map[string]any{"request": id, "consent_id": gr.ConsentID, "shared": gr.Shared, "tx": res})
			}
			fmt.Fprintf(g.env.Stdout, "opted in to request %d with consent %d (keys of %d record versions shared); paid %d on the researcher's first read\n",
				id, gr.ConsentID, gr.Shared, q.Price)
			return nil
		},
	}
	cmd.Flags().StringVar(&patient, "patient", "", "the patient, when a guardian opts in (default: the --from account)")
	cmd.Flags().StringVar(&types, "types", "", "share only these of the request's resource types")
	return cmd
}

func newResearchRequestsCmd(g *globals) *cobra.Command {
	var researcher string
	var all bool
	cmd := &cobra.Command{
		Use:   "requests [ID] [--researcher R] [--all]",
		Short: "List open data requests (public), or show one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var out struct {
				Requests []api.RequestView `json:"requests"`
			}
			if len(args) == 1 {
				id, err := parseID("request", args[0])
				if err != nil {
					return err
				}
				var q api.RequestView
				if done, err := g.get(ctx, "/v1/research/requests/"+strconv.FormatUint(id, 10), &q); done || err != nil {
					return err
				}
				out.Requests = append(out.Requests, q)
			} else {
				path, sep := "/v1/research/requests", "?"
				if researcher != "" {
					a, err := g.account(researcher)
					if err != nil {
						return fmt.Errorf("--researcher: %w", err)
					}
					path += "?researcher=" + a.String()
					sep = "&"
				}
				if all {
					path += sep + "all=true"
				}
				if done, err := g.get(ctx, path, &out); done || err != nil {
					return err
				}
			}
			names := g.localNames()
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REQUEST\tRESEARCHER\tPURPOSE\tTYPES\tPRICE\tHELD\tPAID\tPATIENTS\tEND\tSTATE")
			for _, q := range out.Requests {
				state := "open"
				if q.Closed != 0 {
					state = fmt.Sprintf("closed, %d returned", q.Returned)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d/%d paid\t%s\t%s\n", q.ID, label(names, q.Researcher), q.Purpose, strings.Join(q.Types, ","),
					q.Price, q.Held, q.Paid, q.PaidCount, q.Patients, time.Unix(q.End, 0).UTC().Format(time.RFC3339), state)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&researcher, "researcher", "", "only this researcher's requests")
	cmd.Flags().BoolVar(&all, "all", false, "include closed requests")
	return cmd
}

func newResearchPaymentsCmd(g *globals) *cobra.Command {
	var patient string
	var request uint64
	cmd := &cobra.Command{
		Use:   "payments --from PATIENT [--patient P] | payments --from RESEARCHER --request ID",
		Short: "What each research payment bought, access by access: a patient's payments, or a request's participants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var path, as string
			if request != 0 {
				path = "/v1/research/requests/" + strconv.FormatUint(request, 10) + "/participants"
			} else {
				who := patient
				if who == "" {
					who = g.from
				}
				if who == "" {
					return fmt.Errorf("--from (the patient or a guardian) is required")
				}
				a, err := g.account(who)
				if err != nil {
					return err
				}
				path, as = "/v1/patients/"+a.String()+"/research", who
			}
			var out struct {
				Participations []api.ParticipationView `json:"participations"`
				Participants   []api.ParticipationView `json:"participants"`
				Total          uint64                  `json:"total_paid"`
			}
			if done, err := g.getSigned(cmd.Context(), as, path, &out); done || err != nil {
				return err
			}
			names := g.localNames()
			w := g.env.Stdout
			for _, p := range append(out.Participations, out.Participants...) {
				paid := "not paid yet (no recorded read)"
				if p.Amount != 0 {
					paid = fmt.Sprintf("paid %d at %s", p.Amount, time.Unix(p.PaidAt, 0).UTC().Format(time.RFC3339))
				}
				fmt.Fprintf(w, "request %d, patient %s, consent %d: %s\n", p.Request, label(names, p.Patient), p.Consent, paid)
				for i, a := range p.Accesses {
					what := "also read"
					if i == 0 {
						what = "paid for"
					}
					fmt.Fprintf(w, "  %-9s  audit #%d  record %s v%d  read %s via %s\n", what, a.Seq, a.Record, a.Version,
						time.Unix(a.Time, 0).UTC().Format(time.RFC3339), a.Node)
				}
				if p.More != 0 {
					fmt.Fprintf(w, "  and %d more reads\n", p.More)
				}
			}
			if request == 0 {
				fmt.Fprintf(w, "total paid: %d\n", out.Total)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&patient, "patient", "", "the patient, when a guardian asks (default: the --from account)")
	cmd.Flags().Uint64Var(&request, "request", 0, "list this request's participants instead (its researcher)")
	cmd.MarkFlagsMutuallyExclusive("patient", "request")
	return cmd
}

func newResearchCloseCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "close --from RESEARCHER REQUEST",
		Short: "End a request now; reads before now are still paid as they are logged, then the rest of the budget returns",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("request", args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &research.MsgClose{Request: id}, func(res *api.TxResult) string {
				at, _ := eventAttr(res, "research_ended", "closes")
				sec, _ := strconv.ParseInt(at, 10, 64)
				return fmt.Sprintf("request %d ended; the rest of its budget returns at %s", id, time.Unix(sec, 0).UTC().Format(time.RFC3339))
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}
