package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/records"
)

// NewRecordCmd builds `medchain record`: encrypted health records.
func NewRecordCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "record", Short: "Add, read, list and erase encrypted FHIR R4 health records"}
	cmd.AddCommand(newRecordAddCmd(g), newRecordGetCmd(g), newRecordListCmd(g), newRecordShowCmd(g),
		newRecordEraseCmd(g), newRecordAccessCmd(g))
	return cmd
}

// signer loads the --from key and its chain sequence.
func (g *globals) signer(ctx context.Context) (*client.Signer, error) {
	key, err := g.signingKey()
	if err != nil {
		return nil, err
	}
	return g.client().NewSigner(ctx, key)
}

func parseRecordID(s string) (consent.RecordID, error) {
	id, err := api.ParseRecordID(s)
	if err != nil {
		return id, fmt.Errorf("record id %q: want 32 hex digits", s)
	}
	return id, nil
}

func newRecordAddCmd(g *globals) *cobra.Command {
	var patient, existing string
	cmd := &cobra.Command{
		Use:   "add --from AUTHOR --patient PATIENT FILE",
		Short: "Validate, encrypt, upload and register a FHIR R4 resource (or Bundle); prints the record id",
		Long: `add reads a FHIR R4 resource as JSON (FILE, or - for stdin), validates it, encrypts it
with a fresh data key, wraps that key for the patient and every party whose consent
covers it, uploads the ciphertext to the node and registers it on chain. The author is
the patient, a guardian, or a holder of the patient's write consent for the type.
--record ID adds a new version of an existing record.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := g.account(patient)
			if err != nil {
				return fmt.Errorf("--patient: %w", err)
			}
			data, err := readInput(g, args[0])
			if err != nil {
				return err
			}
			var ex *consent.RecordID
			if existing != "" {
				id, err := parseRecordID(existing)
				if err != nil {
					return err
				}
				ex = &id
			}
			s, err := g.signer(ctx)
			if err != nil {
				return err
			}
			res, err := g.client().AddRecord(ctx, s, p, data, ex)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(map[string]any{"id": hex.EncodeToString(res.ID[:]), "version": res.Version, "resource_type": res.Type, "tx": res.Tx})
			}
			fmt.Fprintln(g.env.Stdout, hex.EncodeToString(res.ID[:]))
			fmt.Fprintf(g.env.Stderr, "%s version %d registered in block %d (tx %s)\n", res.Type, res.Version, res.Tx.Height, res.Tx.Hash)
			return nil
		},
	}
	cmd.Flags().StringVar(&patient, "patient", "", "the patient: a key name or address (required)")
	cmd.Flags().StringVar(&existing, "record", "", "add a new version of this record id")
	_ = cmd.MarkFlagRequired("patient")
	return cmd
}

func readInput(g *globals, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(g.env.Stdin, 64<<20))
	}
	return os.ReadFile(path)
}

func newRecordGetCmd(g *globals) *cobra.Command {
	var out string
	var version uint32
	cmd := &cobra.Command{
		Use:   "get --from READER ID",
		Short: "Fetch, verify and decrypt a record (FHIR JSON to stdout, or --out FILE)",
		Long: `get asks the node for the record's ciphertext and the reader's data key with a signed
request. The node decides from the chain whether the reader may read it now (patient,
guardian, consent, organization consent or an open emergency access), records the
attempt in the audit trail either way, and refuses with the reason if not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := parseRecordID(args[0])
			if err != nil {
				return err
			}
			key, err := g.signingKey()
			if err != nil {
				return err
			}
			c := g.client()
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			pt, _, err := c.ReadRecord(ctx, key, st.ChainID, id, version)
			if err != nil {
				return err
			}
			if out != "" {
				return os.WriteFile(out, pt, 0o600)
			}
			_, err = g.env.Stdout.Write(pt)
			if err == nil && len(pt) > 0 && pt[len(pt)-1] != '\n' {
				_, err = fmt.Fprintln(g.env.Stdout)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the FHIR JSON to this file (mode 0600) instead of stdout")
	cmd.Flags().Uint32Var(&version, "version", 0, "read this version (default: the latest)")
	return cmd
}

func newRecordListCmd(g *globals) *cobra.Command {
	var patient, typ string
	cmd := &cobra.Command{
		Use:   "list --patient PATIENT",
		Short: "List a patient's records (metadata only: id, type, versions, dates)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.account(patient)
			if err != nil {
				return fmt.Errorf("--patient: %w", err)
			}
			path := "/v1/patients/" + p.String() + "/records"
			if typ != "" {
				path += "?type=" + typ
			}
			var out struct {
				Records []api.RecordView `json:"records"`
			}
			if done, err := g.get(cmd.Context(), path, &out); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tVERSION\tCREATED\tSTATE")
			for _, r := range out.Records {
				state := "current"
				if r.Erased != nil {
					state = "erased " + r.Erased.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.ID, r.Type, r.Version, r.Created.Format(time.RFC3339), state)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&patient, "patient", "", "the patient: a key name or address (required)")
	cmd.Flags().StringVar(&typ, "type", "", "only records of this FHIR resource type")
	_ = cmd.MarkFlagRequired("patient")
	return cmd
}

func newRecordShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a record's on-chain metadata: versions, authors, content hashes, key holders",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRecordID(args[0])
			if err != nil {
				return err
			}
			rec, err := g.client().Record(cmd.Context(), id, "")
			if err != nil && rec.ID == "" {
				return err
			}
			if g.json {
				return g.printJSON(rec)
			}
			names := g.localNames()
			w := g.env.Stdout
			fmt.Fprintf(w, "record    %s\npatient   %s\ntype      %s\ncreated   %s\n", rec.ID, label(names, rec.Patient), rec.Type, rec.Created.Format(time.RFC3339))
			if rec.Erased != nil {
				fmt.Fprintf(w, "erased    %s (ciphertext deleted; hashes and trail remain)\n", rec.Erased.Format(time.RFC3339))
			}
			for _, v := range rec.Versions {
				fmt.Fprintf(w, "version %d by %s at %s: %d bytes, sha256 %s\n", v.Version, label(names, v.Author), v.Created.Format(time.RFC3339), v.Size, v.ContentHash)
				for _, k := range v.Keys {
					who := k.Recipient.Address
					if k.Recipient.Kind == "org" {
						who = "org:" + k.Recipient.Org
					}
					fmt.Fprintf(w, "  key for %s\n", label(names, who))
				}
			}
			return nil
		},
	}
}

func newRecordEraseCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "erase --from PATIENT ID",
		Short: "Erase a record: a tombstone on chain; every node deletes the ciphertext",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRecordID(args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &records.MsgErase{ID: id}, func(*api.TxResult) string {
				return fmt.Sprintf("record %s erased: its ciphertext is being deleted on every node", args[0])
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newRecordAccessCmd(g *globals) *cobra.Command {
	var reader string
	var prove bool
	cmd := &cobra.Command{
		Use:   "access ID --reader ACCOUNT",
		Short: "May ACCOUNT read record ID now, and under which consent? (from chain state, with --prove proofs)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseRecordID(args[0])
			if err != nil {
				return err
			}
			r, err := g.account(reader)
			if err != nil {
				return fmt.Errorf("--reader: %w", err)
			}
			path := fmt.Sprintf("/v1/records/%x/access?reader=%s", id[:], r)
			if prove {
				path += "&prove=true"
			}
			var v api.AccessView
			if done, err := g.get(cmd.Context(), path, &v); done || err != nil {
				return err
			}
			if !v.Allowed {
				return fmt.Errorf("%s may not read %s at height %d: %s (code %d/%s)", r, v.Record, v.Height, v.Reason, v.Code, v.Codespace)
			}
			fmt.Fprintf(g.env.Stdout, "%s may read %s at height %d: basis %s", r, v.Record, v.Height, v.Basis)
			if v.ConsentID != 0 {
				fmt.Fprintf(g.env.Stdout, ", consent %d", v.ConsentID)
			}
			if v.EmergencyID != 0 {
				fmt.Fprintf(g.env.Stdout, ", emergency access %d", v.EmergencyID)
			}
			fmt.Fprintln(g.env.Stdout)
			return nil
		},
	}
	cmd.Flags().StringVar(&reader, "reader", "", "the account asking (required)")
	cmd.Flags().BoolVar(&prove, "prove", false, "include proofs of the record and consent")
	_ = cmd.MarkFlagRequired("reader")
	return cmd
}

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
	var to, actions, types, recs, purpose, until, patient string
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
			m := &consent.MsgGrant{Grantee: grantee, Purpose: purpose}
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
				m.Types = strings.Split(types, ",")
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
				raw, err := g.fetch(cmd.Context(), path+"?format=fhir")
				if err != nil {
					return err
				}
				return g.printRaw(raw)
			}
			var out struct {
				Consents []api.ConsentView `json:"consents"`
			}
			if done, err := g.get(cmd.Context(), path, &out); done || err != nil {
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
			raw, err := g.fetch(cmd.Context(), path)
			if err != nil {
				return err
			}
			return g.printRaw(raw)
		},
	}
	cmd.Flags().BoolVar(&fhir, "fhir", false, "print as a FHIR R4 Consent")
	return cmd
}

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
				if done, err := g.get(cmd.Context(), "/v1/patients/"+p.String()+"/signals", &out); done || err != nil {
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
				raw, err := g.fetch(cmd.Context(), path)
				if err != nil {
					return err
				}
				return g.printRaw(raw)
			}
			var out struct {
				Events []api.EventView `json:"events"`
			}
			if done, err := g.get(cmd.Context(), path, &out); done || err != nil {
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
				if e.ConsentID != 0 {
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
			if done, err := g.get(cmd.Context(), path, &out); done || err != nil {
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
