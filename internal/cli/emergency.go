package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/x/consent"
)

// NewEmergencyCmd builds `medchain emergency`: break-glass access.
func NewEmergencyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "emergency", Short: "Open, review and list emergency (break-glass) accesses"}
	var tf txFlags
	var patient, reason string
	open := &cobra.Command{
		Use:   "open --from PRACTITIONER --patient PATIENT --reason CODE",
		Short: "Open a time-boxed emergency access (needs the patient's custodian consent to your organization)",
		Long: "Open a time-boxed emergency (break-glass) access to a patient's records. It needs the patient's\n" +
			"custodian consent to your organization.\n\n" +
			"--reason is a code, one of: " + strings.Join(consent.EmergencyReasons, ", ") + ".\n" +
			"Free text is not accepted: the chain stores no health data, and a clinical justification is\n" +
			"health data. Record the justification in your organization's own systems.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.account(patient)
			if err != nil {
				return fmt.Errorf("--patient: %w", err)
			}
			_, err = g.send(cmd.Context(), tf, &consent.MsgOpenEmergency{Patient: p, Reason: reason}, func(res *api.TxResult) string {
				id, _ := eventAttr(res, "emergency_opened", "id")
				exp, _ := eventAttr(res, "emergency_opened", "expires")
				sec, _ := strconv.ParseInt(exp, 10, 64)
				return fmt.Sprintf("emergency access %s open until %s; reads are flagged in the patient's trail and need a review", id, time.Unix(sec, 0).UTC().Format(time.RFC3339))
			})
			if err != nil && errors.Is(err, consent.ErrBadReasonCode) {
				return fmt.Errorf("--reason: %w", err)
			}
			return err
		},
	}
	open.Flags().StringVar(&patient, "patient", "", "the patient (required)")
	open.Flags().StringVar(&reason, "reason", "", "why, as a code (required; the patient sees it): "+strings.Join(consent.EmergencyReasons, ", ")+
		"; no free text: the chain stores no health data")
	_ = open.MarkFlagRequired("patient")
	_ = open.MarkFlagRequired("reason")
	tf.add(open)

	var outcome, review string
	var tf2 txFlags
	rev := &cobra.Command{
		Use:   "review --from ADMIN ID --outcome CODE",
		Short: "Close an emergency access of your organization with a review",
		Long: "Close an emergency access of your organization with a review.\n\n" +
			"--outcome is a code, one of: " + strings.Join(consent.ReviewOutcomes, ", ") + ".\n" +
			"Free text is not accepted: the chain stores no health data. Keep the review's narrative in your\n" +
			"organization's own systems. (--review is a deprecated alias of --outcome.)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("emergency id %q: want a number", args[0])
			}
			if cmd.Flags().Changed("review") {
				// On stderr, not through cobra's deprecation notice, which
				// goes to stdout and would spoil --json output.
				fmt.Fprintln(g.env.Stderr, "warning: --review is deprecated, use --outcome")
				outcome = review
			}
			_, err = g.send(cmd.Context(), tf2, &consent.MsgReviewEmergency{ID: id, Review: outcome}, func(*api.TxResult) string {
				return fmt.Sprintf("emergency access %d reviewed and closed", id)
			})
			if err != nil && errors.Is(err, consent.ErrBadReviewOutcome) {
				return fmt.Errorf("--outcome: %w", err)
			}
			return err
		},
	}
	rev.Flags().StringVar(&outcome, "outcome", "", "the review's outcome, as a code (required): "+strings.Join(consent.ReviewOutcomes, ", ")+
		"; no free text: the chain stores no health data")
	rev.Flags().StringVar(&review, "review", "", "deprecated alias of --outcome")
	_ = rev.Flags().MarkHidden("review")
	rev.MarkFlagsOneRequired("outcome", "review")
	rev.MarkFlagsMutuallyExclusive("outcome", "review")
	tf2.add(rev)

	var lpatient, lorg string
	list := &cobra.Command{
		Use:   "list (--patient PATIENT | --org ORG)",
		Short: "List emergency accesses of a patient or an organization",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var path string
			switch {
			case lpatient != "":
				p, err := g.account(lpatient)
				if err != nil {
					return err
				}
				path = "/v1/patients/" + p.String() + "/emergencies"
			case lorg != "":
				path = "/v1/orgs/" + lorg + "/emergencies"
			default:
				return fmt.Errorf("--patient or --org is required")
			}
			var out struct {
				Emergencies []api.EmergencyView `json:"emergencies"`
			}
			if done, err := g.getSigned(cmd.Context(), lpatient, path, &out); done || err != nil {
				return err
			}
			names := g.localNames()
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPATIENT\tPRACTITIONER\tORG\tOPENED\tEXPIRES\tSTATE\tREASON")
			for _, e := range out.Emergencies {
				state := "expired, NOT REVIEWED"
				switch {
				case e.Reviewed != nil:
					state = "reviewed"
				case e.Open:
					state = "open"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, label(names, e.Patient), label(names, e.Practitioner), e.Org,
					e.Opened.Format(time.RFC3339), e.Expires.Format(time.RFC3339), state, e.Reason)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&lpatient, "patient", "", "the patient")
	list.Flags().StringVar(&lorg, "org", "", "the organization")
	cmd.AddCommand(open, rev, list)
	return cmd
}
