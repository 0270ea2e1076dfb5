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
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/x/consent"
)

// NewConsentCmd builds `medchain consent`.
func NewConsentCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "consent", Short: "Grant, revoke and list patients' consents"}
	cmd.AddCommand(newConsentGrantCmd(g), newConsentRevokeCmd(g), newConsentListCmd(g), newConsentShowCmd(g))
	return cmd
}

// party resolves a grantee: org:ID, or an account (key name or address).
func (g *globals) party(arg string) (consent.Party, error) {
	if id, ok := strings.CutPrefix(arg, "org:"); ok {
		return consent.Org(id), nil
	}
	a, err := g.account(arg)
	if err != nil {
		return consent.Party{}, err
	}
	return consent.Account(a), nil
}

func parseUntil(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(d).Unix(), nil
	}
	return 0, fmt.Errorf("--until %q: want an RFC 3339 time (2027-01-31T00:00:00Z) or a duration from now (720h)", s)
}

func newConsentGrantCmd(g *globals) *cobra.Command {
	var to, actions, types, recs, purpose, until, patient, condition string
	cmd := &cobra.Command{
		Use:   "grant --from PATIENT --to GRANTEE --actions read[,write] [--types T1,T2 | --records ID,...] --purpose PURPOSE [--until TIME]",
		Short: "Grant a consent; prints the consent id",
		Long: `grant lets GRANTEE (a key name, an address, or org:ID for an organization) read and/or
write the patient's records: all of them, those of the --types given, or the --records
listed, for a purpose (` + strings.Join(consent.Purposes, ", ") + `), until --until
(RFC 3339, or a duration from now). For read access it then wraps the data keys of the
covered existing records for the grantee. Purpose "emergency" to an organization names
it an emergency custodian. A guardian grants for a patient with --patient.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			grantee, err := g.party(to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			m := &consent.MsgGrant{Grantee: grantee, Purpose: purpose, Condition: condition}
			for _, a := range strings.Split(actions, ",") {
				switch strings.TrimSpace(a) {
				case "read":
					m.Actions |= consent.ActRead
				case "write":
					m.Actions |= consent.ActWrite
				default:
					return fmt.Errorf("--actions: %q, want read, write or read,write", a)
				}
			}
			if types != "" {
				if m.Types, err = parseTypes(types); err != nil {
					return err
				}
				slices.Sort(m.Types)
				m.Types = slices.Compact(m.Types)
			}
			if recs != "" {
				for _, s := range strings.Split(recs, ",") {
					id, err := parseRecordID(strings.TrimSpace(s))
					if err != nil {
						return err
					}
					m.Records = append(m.Records, id)
				}
				slices.SortFunc(m.Records, func(a, b consent.RecordID) int { return strings.Compare(string(a[:]), string(b[:])) })
				m.Records = slices.Compact(m.Records)
			}
			if m.Until, err = parseUntil(until); err != nil {
				return err
			}
			s, err := g.signer(ctx)
			if err != nil {
				return err
			}
			m.Patient = s.Key.Address()
			if patient != "" {
				if m.Patient, err = g.account(patient); err != nil {
					return fmt.Errorf("--patient: %w", err)
				}
			}
			if err := m.ValidateBasic(); err != nil {
				return err
			}
			res, err := g.client().Grant(ctx, s, m)
			if err != nil {
				if res != nil && res.ConsentID != 0 {
					return fmt.Errorf("consent %d granted, but sharing existing records failed: %w", res.ConsentID, err)
				}
				return err
			}
			if g.json {
				return g.printJSON(map[string]any{"consent_id": res.ConsentID, "shared": res.Shared, "tx": res.Tx})
			}
			fmt.Fprintln(g.env.Stdout, res.ConsentID)
			fmt.Fprintf(g.env.Stderr, "consent %d granted to %s in block %d; keys of %d existing record versions shared\n", res.ConsentID, grantee, res.Tx.Height, res.Shared)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "grantee: key name, address, or org:ID (required)")
	f.StringVar(&actions, "actions", "read", "read, write or read,write")
	f.StringVar(&types, "types", "", "FHIR resource types covered (default: all records)")
	f.StringVar(&recs, "records", "", "record ids covered (instead of types)")
	f.StringVar(&purpose, "purpose", consent.PurposeTreatment, "purpose of use")
	f.StringVar(&until, "until", "", "end of validity: RFC 3339 time or a duration from now")
	f.StringVar(&patient, "patient", "", "the patient, when a guardian grants (default: the --from account)")
	f.StringVar(&condition, "condition", "", "a CEL condition every access must meet (docs/policies.md; check it with medchain policy condition check)")
	_ = cmd.MarkFlagRequired("to")
	cmd.MarkFlagsMutuallyExclusive("types", "records")
	return cmd
}

func newConsentRevokeCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "revoke --from PATIENT ID",
		Short: "Revoke a consent: from the next block the grantee gets nothing more",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("consent id %q: want a number", args[0])
			}
			_, err = g.send(cmd.Context(), tf, &consent.MsgRevoke{ID: id}, func(*api.TxResult) string {
				return fmt.Sprintf("consent %d revoked", id)
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newConsentListCmd(g *globals) *cobra.Command {
	var patient, grantee string
	var fhir bool
	cmd := &cobra.Command{
		Use:   "list (--patient PATIENT | --grantee GRANTEE) [--fhir]",
		Short: "List consents by patient or by grantee (--fhir: a Bundle of FHIR Consent resources)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var path string
			switch {
			case patient != "":
				p, err := g.account(patient)
				if err != nil {
					return fmt.Errorf("--patient: %w", err)
				}
				path = "/v1/patients/" + p.String() + "/consents"
			case grantee != "":
				p, err := g.party(grantee)
				if err != nil {
					return fmt.Errorf("--grantee: %w", err)
				}
				path = "/v1/grantees/" + p.String() + "/consents"
			default:
				return fmt.Errorf("--patient or --grantee is required")
			}
			if fhir {
				raw, err := g.fetchSigned(cmd.Context(), patient+grantee, path+"?format=fhir")
				if err != nil {
					return err
				}
				return g.printRaw(raw)
			}
			var out struct {
				Consents []api.ConsentView `json:"consents"`
			}
			if done, err := g.getSigned(cmd.Context(), patient+grantee, path, &out); done || err != nil {
				return err
			}
			printConsents(g, out.Consents)
			return nil
		},
	}
	cmd.Flags().StringVar(&patient, "patient", "", "the patient")
	cmd.Flags().StringVar(&grantee, "grantee", "", "the grantee (key name, address or org:ID)")
	cmd.Flags().BoolVar(&fhir, "fhir", false, "print a FHIR R4 Bundle of Consent resources")
	cmd.MarkFlagsMutuallyExclusive("patient", "grantee")
	return cmd
}

func partyLabel(names map[string]string, p api.PartyView) string {
	if p.Kind == "org" {
		return "org:" + p.Org
	}
	return label(names, p.Address)
}

func printConsents(g *globals, cs []api.ConsentView) {
	names := g.localNames()
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tPATIENT\tGRANTEE\tACTIONS\tSCOPE\tPURPOSE\tUNTIL")
	for _, c := range cs {
		scope := "all records"
		if len(c.Types) > 0 {
			scope = "types " + strings.Join(c.Types, ",")
		} else if len(c.Records) > 0 {
			scope = fmt.Sprintf("%d records", len(c.Records))
		}
		until := "-"
		if c.Until != nil {
			until = c.Until.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Status, label(names, c.Patient), partyLabel(names, c.Grantee),
			strings.Join(c.Actions, ","), scope, c.Purpose, until)
	}
	tw.Flush()
}

func newConsentShowCmd(g *globals) *cobra.Command {
	var fhir bool
	cmd := &cobra.Command{
		Use:   "show ID [--fhir]",
		Short: "Show one consent (--fhir: as a FHIR R4 Consent)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/consents/" + args[0]
			if fhir {
				path += "?format=fhir"
			}
			raw, err := g.fetchSigned(cmd.Context(), "", path)
			if err != nil {
				return err
			}
			return g.printRaw(raw)
		},
	}
	cmd.Flags().BoolVar(&fhir, "fhir", false, "print as a FHIR R4 Consent")
	return cmd
}

// parseTypes reads --types: comma-separated FHIR R4 resource type names,
// spelt exactly as R4 defines them (google/fhir/go's list).
func parseTypes(s string) ([]string, error) {
	types := strings.Split(s, ",")
	for i, t := range types {
		t = strings.TrimSpace(t)
		if !fhirr4.IsResourceType(t) {
			hint := ""
			for _, r := range fhirr4.ResourceTypes() {
				if strings.EqualFold(r, t) {
					hint = fmt.Sprintf(" (did you mean %s?)", r)
				}
			}
			return nil, fmt.Errorf("--types: %q is not a FHIR R4 resource type%s; examples: Observation, Condition, AllergyIntolerance, MedicationRequest", t, hint)
		}
		types[i] = t
	}
	return types, nil
}
