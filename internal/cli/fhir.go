package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/fhir"
)

// NewFHIRCmd builds `medchain fhir`: the FHIR R4 interface of a node.
func NewFHIRCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "fhir", Short: "Use a node's FHIR R4 interface (/fhir)"}
	cmd.AddCommand(newFHIRTokenCmd(g))
	return cmd
}

func newFHIRTokenCmd(g *globals) *cobra.Command {
	var scope, patient string
	var expires time.Duration
	var noDelegation bool
	cmd := &cobra.Command{
		Use:   "token --from NAME --scope SCOPES",
		Short: "Get a bearer token for the FHIR interface of --node; prints the token",
		Long: `token proves the --from key to the node (it signs the node's challenge) and asks for a
bearer token with SMART scopes, such as "patient/*.read", "user/Observation.write" or
"patient/*.read patient/*.write". It prints the token alone on stdout, for scripts:

  TOKEN=$(medchain fhir token --from doctor1 --scope 'user/*.read')
  curl -H "Authorization: Bearer $TOKEN" $NODE/fhir/Observation?patient=Patient/mc...

By default the request carries a session delegation: the key's seeds, sealed to the
organization that runs the node, which the node keeps in memory until the token expires
so that it can decrypt the records you may read and sign the records you write. With
--no-delegation the node can serve only records its organization's key opens (consents to
the organization, emergency access) and cannot write for you. See docs/fhir.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			key, err := g.signingKey()
			if err != nil {
				return err
			}
			var ctxPatient string
			if patient != "" {
				a, err := g.account(patient)
				if err != nil {
					return fmt.Errorf("--patient: %w", err)
				}
				ctxPatient = a.String()
			}
			orgKey := func(ctx context.Context, org string) (crypto.EncKey, error) {
				var o api.OrgView
				if err := g.client().Get(ctx, "/v1/orgs/"+org, &o); err != nil {
					return crypto.EncKey{}, err
				}
				return crypto.ParseEncKey(o.EncKey)
			}
			tok, err := fhir.Login(ctx, nil, strings.TrimRight(g.node, "/")+"/fhir", key, fhir.LoginOptions{
				Scope: scope, TTL: expires, Patient: ctxPatient, NoDelegation: noDelegation, OrgKey: orgKey,
			})
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(tok)
			}
			fmt.Fprintln(g.env.Stdout, tok.AccessToken)
			deleg := "with a session delegation"
			if !tok.Delegated {
				deleg = "without delegation"
			}
			fmt.Fprintf(g.env.Stderr, "token for %s, scopes %q, %s, expires in %s\n", tok.Address, tok.Scope, deleg, time.Duration(tok.ExpiresIn)*time.Second)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scope, "scope", "", `SMART scopes, space or comma separated ("patient/*.read user/Observation.write")`)
	f.DurationVar(&expires, "expires", fhir.DefaultTokenTTL, "token lifetime, at most "+fhir.MaxTokenTTL.String())
	f.StringVar(&patient, "patient", "", "patient context for patient/ scopes (a key name or address); a patient's own by default")
	f.BoolVar(&noDelegation, "no-delegation", false, "do not hand the node your keys: it can then only serve what your organization's key opens, and cannot write")
	_ = cmd.MarkFlagRequired("scope")
	cmd.PreRunE = func(*cobra.Command, []string) error {
		scope = strings.Join(strings.FieldsFunc(scope, func(r rune) bool { return r == ',' || r == ' ' }), " ")
		return nil
	}
	return cmd
}
