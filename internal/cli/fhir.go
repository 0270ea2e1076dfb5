package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/fhir"
	"github.com/medchain/medchain/internal/lightproof"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/session"
)

// NewFHIRCmd builds `medchain fhir`: the FHIR R4 interface of a node.
func NewFHIRCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "fhir", Short: "Use a node's FHIR R4 interface (/fhir)"}
	cmd.AddCommand(newFHIRTokenCmd(g), newFHIRRevokeCmd(g))
	return cmd
}

// defaultWitness is the CometBFT RPC of the node whose home is --home, when
// there is one (on ` + "`medchain dev`" + ` the node itself serves the light-client
// header), else port 26657 of the --node host.
func defaultWitness(home, node string) string {
	if cfg, err := config.Load(home); err == nil && cfg.RPC.Listen != "" {
		hp := strings.TrimPrefix(cfg.RPC.Listen, "tcp://")
		if host, port, err := net.SplitHostPort(hp); err == nil {
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			return "http://" + net.JoinHostPort(host, port)
		}
	}
	u, err := url.Parse(node)
	if err != nil || u.Hostname() == "" {
		return "http://127.0.0.1:26657"
	}
	return "http://" + net.JoinHostPort(u.Hostname(), "26657")
}

func newFHIRTokenCmd(g *globals) *cobra.Command {
	var scope, patient, witness, trustHash string
	var expires, trustPeriod time.Duration
	var trustHeight int64
	var noDelegation bool
	cmd := &cobra.Command{
		Use:   "token --from NAME --scope SCOPES",
		Short: "Get a bearer token for the FHIR interface of --node; prints the token",
		Long: `token proves the --from key to the node and asks for a bearer token with SMART
scopes, such as "patient/*.read", "user/Observation.write" or
"patient/*.read patient/*.write". It prints the token alone on stdout, for scripts:

  TOKEN=$(medchain fhir token --from doctor1 --scope 'user/*.read')
  curl -H "Authorization: Bearer $TOKEN" $NODE/fhir/Observation?patient=Patient/mc...

By default it opens a session: it makes a fresh session key on this machine, signs
an on-chain delegation to it (session/delegate) limited to the scopes' resource
types, to records/add and records/erase only if a scope writes or deletes, and to
the token's lifetime in block time, and registers the data keys you hold for
those types wrapped to the session key (records/session_keys). It then hands the
node the session key, never yours, sealed to the key of the organization that runs
the node; that key is checked with a proof against a light-client header from
--witness, not taken from the node's word. When the session expires, or is
revoked (session/revoke), the chain refuses the session key from the next block.
With --no-delegation nothing is delegated: the node can serve only records its
organization's key opens (consents to the organization, emergency access) and
cannot write for you. See docs/fhir.md.`,
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
			c := g.client()
			s, account, err := c.NewAccountSigner(ctx, key)
			if err != nil {
				return err
			}
			root, err := trustRoot(trustHeight, trustHash, trustPeriod)
			if err != nil {
				return err
			}
			if witness == "" {
				witness = defaultWitness(g.home, g.node)
			}
			orgKey := func(ctx context.Context, org string) (crypto.EncKey, error) {
				return provenOrgKey(ctx, g, c, s.ChainID, witness, root, org)
			}
			var also []crypto.Address
			if ctxPatient != "" {
				p, _ := crypto.ParseAddress(ctxPatient)
				also = append(also, p) // a guardian's ward: no consent lists it
			}
			delegate := func(ctx context.Context, sk *crypto.PrivKey, l session.Limits) error {
				n, err := c.StartSession(ctx, s, account, sk, l, also...)
				if err == nil {
					fmt.Fprintf(g.env.Stderr, "session %s delegated on chain, %d data keys wrapped to it\n", sk.PubKey(), n)
				}
				return err
			}
			tok, err := fhir.Login(ctx, nil, strings.TrimRight(g.node, "/")+"/fhir", key, fhir.LoginOptions{
				Scope: scope, TTL: expires, Patient: ctxPatient, Account: account, NoDelegation: noDelegation,
				OrgKey: orgKey, Delegate: delegate,
			})
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(tok)
			}
			fmt.Fprintln(g.env.Stdout, tok.AccessToken)
			deleg := "session " + tok.Session
			if !tok.Delegated {
				deleg = "without delegation"
			}
			fmt.Fprintf(g.env.Stderr, "token for %s, scopes %q, %s, expires in %s\n", tok.Address, tok.Scope, deleg, time.Duration(tok.ExpiresIn)*time.Second)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scope, "scope", "", `SMART scopes, space or comma separated ("patient/*.read user/Observation.write")`)
	f.DurationVar(&expires, "expires", fhir.DefaultTokenTTL, "token and session lifetime, at most "+fhir.MaxTokenTTL.String())
	f.StringVar(&patient, "patient", "", "patient context for patient/ scopes (a key name or address); a patient's own by default")
	f.BoolVar(&noDelegation, "no-delegation", false, "open no session: the node can then only serve what your organization's key opens, and cannot write")
	f.StringVar(&witness, "witness", envOr(g.env.Getenv, "MEDCHAIN_WITNESS", ""), "CometBFT RPC URL whose light-client header proves the organization's key (default: the RPC of the node whose home is --home, else port 26657 of the --node host; env MEDCHAIN_WITNESS)")
	f.Int64Var(&trustHeight, "trust-height", 0, "height of the light client's trusted header (with --trust-hash)")
	f.StringVar(&trustHash, "trust-hash", "", "hash of the trusted header, in hex (with --trust-height)")
	f.DurationVar(&trustPeriod, "trust-period", lightproof.DefaultTrustPeriod, "trusting period: how old the trusted header may be")
	_ = cmd.MarkFlagRequired("scope")
	cmd.PreRunE = func(*cobra.Command, []string) error {
		scope = strings.Join(strings.FieldsFunc(scope, func(r rune) bool { return r == ',' || r == ' ' }), " ")
		return nil
	}
	return cmd
}

// provenOrgKey reads an organization's encryption key with a proof checked
// against a light-client header from witness.
func provenOrgKey(ctx context.Context, g *globals, c *client.Client, chainID, witness string, root lightproof.TrustRoot, org string) (crypto.EncKey, error) {
	key := accounts.OrgKey(org)
	p, err := c.Proof(ctx, key, 0)
	if err != nil {
		return crypto.EncKey{}, fmt.Errorf("proof of organization %s: %w", org, err)
	}
	v, err := lightproof.NewVerifier(ctx, chainID, witness, root)
	if err != nil {
		return crypto.EncKey{}, fmt.Errorf("light client (--witness %s): %w", witness, err)
	}
	res, err := v.Verify(ctx, p, key, nil)
	if err != nil {
		return crypto.EncKey{}, fmt.Errorf("organization key NOT proven: %w", err)
	}
	if !res.Exists {
		return crypto.EncKey{}, fmt.Errorf("organization %s does not exist on chain (absence proven)", org)
	}
	o, err := accounts.DecodeOrg(p.Value)
	if err != nil {
		return crypto.EncKey{}, fmt.Errorf("proven organization: %w", err)
	}
	if o.ID != org || !o.Active || o.EncKey == (crypto.EncKey{}) {
		return crypto.EncKey{}, errors.New("the proven organization is not active with an encryption key")
	}
	if st, err := c.Status(ctx); err == nil && res.WitnessNodeID != "" && res.WitnessNodeID == st.NodeID {
		fmt.Fprintf(g.env.Stderr, "note: the light-client header comes from the node itself (node %s); give --witness another node's RPC for an independent check\n", st.NodeID)
	}
	return o.EncKey, nil
}

func newFHIRRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke [--] TOKEN|-",
		Short: "End a FHIR token at once (POST /fhir/auth/revoke); '-' reads it from stdin. Its on-chain session lives on until it expires or is revoked (session/revoke)",
		Long: "End a FHIR token at once (POST /fhir/auth/revoke). Its on-chain session lives on until it expires or is revoked (session/revoke).\n\n" +
			"A token may begin with '-': write \"medchain fhir revoke -- TOKEN\", or pass it on stdin with \"-\".",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok := args[0]
			if tok == "-" {
				b, err := io.ReadAll(io.LimitReader(g.env.Stdin, 4096))
				if err != nil {
					return err
				}
				tok = strings.TrimSpace(string(b))
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, strings.TrimRight(g.node, "/")+"/fhir/auth/revoke", nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("revoke: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
			}
			_, err = fmt.Fprintln(g.env.Stdout, "token revoked")
			return err
		},
	}
}
