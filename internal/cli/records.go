package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/fhirr4"
	"github.com/medchain/medchain/sm"
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
	s, _, err := g.client().NewAccountSigner(ctx, key)
	return s, err
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
				return withCode(err)
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

// withCode appends the stable code of a registered error that was found
// before anything was sent (a resource filed under another patient:
// subject/1); the node's errors already carry theirs.
func withCode(err error) error {
	var se *sm.Error
	var ce *client.Error
	var te *client.TxError
	if errors.As(err, &se) && !errors.As(err, &ce) && !errors.As(err, &te) {
		return fmt.Errorf("%w (code %d/%s)", err, se.Code, se.Codespace)
	}
	return err
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
			if typ != "" && !fhirr4.IsResourceType(typ) {
				return fmt.Errorf("--type: %q is not a FHIR R4 resource type (for example Observation, Condition)", typ)
			}
			if typ != "" {
				path += "?type=" + typ
			}
			var out struct {
				Records []api.RecordView `json:"records"`
			}
			if done, err := g.getSigned(cmd.Context(), patient, path, &out); done || err != nil {
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
			c, err := g.readClient("")
			if err != nil {
				return err
			}
			rec, err := c.Record(cmd.Context(), id, "")
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
			if done, err := g.getSigned(cmd.Context(), reader, path, &v); done || err != nil {
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
