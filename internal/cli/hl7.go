package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/fhir"
	"github.com/medchain/medchain/internal/hl7"
	"github.com/medchain/medchain/internal/lightproof"
	"github.com/medchain/medchain/internal/linkkey"
	"github.com/medchain/medchain/x/links"
	"github.com/medchain/medchain/x/session"
)

// NewHL7Cmd builds `medchain hl7`: HL7 v2 feeds over MLLP.
func NewHL7Cmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "hl7", Short: "Take HL7 v2 feeds (MLLP) into a node's FHIR interface"}
	cmd.AddCommand(newHL7ListenCmd(g), newHL7SendCmd(g))
	return cmd
}

// tokenSource keeps a FHIR token of the integration account fresh: a new
// one (and a new on-chain session) before the current one ends.
type tokenSource struct {
	mu      sync.Mutex
	tok     string
	expires time.Time
	login   func(context.Context) (*fhir.TokenResponse, error)
}

func (t *tokenSource) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != "" && time.Until(t.expires) > 10*time.Minute {
		return t.tok, nil
	}
	r, err := t.login(ctx)
	if err != nil {
		return "", err
	}
	t.tok, t.expires = r.AccessToken, time.Now().Add(time.Duration(r.ExpiresIn)*time.Second)
	return t.tok, nil
}

func newHL7ListenCmd(g *globals) *cobra.Command {
	var addr, journal, app, facility, linkKeyFile, witness, trustHash string
	var ttl, trustPeriod time.Duration
	var trustHeight int64
	cmd := &cobra.Command{
		Use:   "listen --from INTEGRATION-ACCOUNT [--addr 127.0.0.1:2575]",
		Short: "Accept HL7 v2 messages over MLLP and store them through --node's FHIR interface",
		Long: `listen accepts HL7 v2 messages over MLLP (TCP, <VT>message<FS><CR>) and answers each
with an ACK: AA once applied, AE (an application error: unknown patient, no consent;
send again once fixed) or AR (rejected: malformed, unsupported type or event), with
MSA and ERR saying why. ADT^A01/A04/A08 create or update the patient's Patient
resource (and an Encounter for A01/A04); ORU^R01 results become Observations and
DiagnosticReports. Each message is one FHIR transaction: all of it is stored or
none. docs/integration.md maps every field.

Writes are made by the --from account (a member of the organization running the
node, such as its integration or gateway-side account) through a FHIR session
with user/*.read user/*.write scopes, renewed before it ends: each write is
decided by the patient's write consent to the organization, encrypted and
audited like any other.

Patients are found by a PID-3 identifier with assigning authority MEDCHAIN (the
address itself), or through the organization's links (x/links) with its link key
(--link-key, by default HOME/config/link_key.json when it exists).
A journal (--journal, default HOME/hl7/journal) records each message by sending
application, facility and control id: a resent message is acknowledged again and
not stored twice, across restarts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			key, err := g.signingKey()
			if err != nil {
				return err
			}
			c := g.client()
			s, account, err := c.NewAccountSigner(ctx, key)
			if err != nil {
				return err
			}
			acct, err := c.Account(ctx, account)
			if err != nil {
				return err
			}
			if acct.Kind != "member" || acct.Org == "" {
				return fmt.Errorf("%s is not a member of an organization: HL7 feeds are written by an organization's account", account)
			}
			root, err := trustRoot(trustHeight, trustHash, trustPeriod)
			if err != nil {
				return err
			}
			if witness == "" {
				witness = defaultWitness(g.home, g.node)
			}
			base := strings.TrimRight(g.node, "/") + "/fhir"
			ts := &tokenSource{login: func(ctx context.Context) (*fhir.TokenResponse, error) {
				return fhir.Login(ctx, nil, base, key, fhir.LoginOptions{
					Scope: "user/*.read user/*.write", TTL: ttl, Account: account,
					OrgKey: func(ctx context.Context, org string) (crypto.EncKey, error) {
						return provenOrgKey(ctx, g, c, s.ChainID, witness, root, org)
					},
					Delegate: func(ctx context.Context, sk *crypto.PrivKey, l session.Limits) error {
						_, err := c.StartSession(ctx, s, account, sk, l)
						return err
					},
				})
			}}
			if _, err := ts.get(ctx); err != nil {
				return fmt.Errorf("FHIR login as %s: %w", account, err)
			}
			var resolver hl7.Resolver = hl7.AddressResolver{}
			var r *links.Resolver
			if linkKeyFile != "" {
				r, err = linkkey.Load(linkKeyFile)
			} else {
				r, err = linkkey.LoadIfExists(linkkey.Path(g.home))
			}
			if err != nil {
				return fmt.Errorf("link key: %w", err)
			}
			if r != nil {
				if r.Org != acct.Org {
					return fmt.Errorf("the link key is %s's, but %s is a member of %s", r.Org, account, acct.Org)
				}
				resolver = hl7.NodeLinks(ctx, c.As(key, s.ChainID), r)
			}
			if journal == "" {
				journal = filepath.Join(g.home, "hl7", "journal")
			}
			if err := os.MkdirAll(filepath.Dir(journal), 0o700); err != nil {
				return err
			}
			j, err := hl7.OpenJournal(journal)
			if err != nil {
				return err
			}
			defer j.Close()
			log := slog.New(slog.NewTextHandler(g.env.Stderr, nil))
			sink := &hl7.FHIRSink{Base: base, HTTP: &http.Client{Timeout: 2 * time.Minute}, Token: func() string {
				t, err := ts.get(ctx)
				if err != nil {
					log.Error("FHIR token renewal failed", "err", err)
				}
				return t
			}}
			proc := &hl7.Processor{Sink: sink, Resolver: resolver, Journal: j, App: app, Facility: facility, Log: log}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stderr, "hl7: MLLP on %s for %s (organization %s), journal %s (%d messages known)\n", l.Addr(), account, acct.Org, journal, j.Len())
			return (&hl7.Server{Handler: proc, Log: log}).Serve(ctx, l)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:2575", "MLLP listen address (loopback by default: put TLS or a VPN in front for remote senders)")
	f.StringVar(&journal, "journal", "", "message journal file (default HOME/hl7/journal)")
	f.StringVar(&app, "app", "MEDCHAIN", "this receiver's application name in ACKs (MSH-3)")
	f.StringVar(&facility, "facility", "", "this receiver's facility in ACKs (MSH-4); default: the message's MSH-6")
	f.StringVar(&linkKeyFile, "link-key", "", "the organization's link key file (x/links; default HOME/config/link_key.json when it exists): resolve PID-3 identifiers through its links")
	f.DurationVar(&ttl, "session", fhir.MaxTokenTTL, "lifetime of each FHIR session (renewed 10 minutes before it ends)")
	f.StringVar(&witness, "witness", envOr(g.env.Getenv, "MEDCHAIN_WITNESS", ""), "CometBFT RPC URL whose light-client header proves the organization's key (see medchain fhir token)")
	f.Int64Var(&trustHeight, "trust-height", 0, "height of the light client's trusted header (with --trust-hash)")
	f.StringVar(&trustHash, "trust-hash", "", "hash of the trusted header, in hex (with --trust-height)")
	f.DurationVar(&trustPeriod, "trust-period", lightproof.DefaultTrustPeriod, "trusting period: how old the trusted header may be")
	return cmd
}

func newHL7SendCmd(g *globals) *cobra.Command {
	var addr string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "send FILE... [--addr 127.0.0.1:2575]",
		Short: "Send HL7 v2 messages (one a file) over MLLP and print each ACK",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := net.DialTimeout("tcp", addr, timeout)
			if err != nil {
				return err
			}
			defer conn.Close()
			r := bufio.NewReader(conn)
			failed := 0
			for _, name := range args {
				raw, err := os.ReadFile(name)
				if err != nil {
					return err
				}
				_ = conn.SetDeadline(time.Now().Add(timeout))
				ack, err := hl7.Send(conn, r, []byte(strings.TrimRight(strings.ReplaceAll(string(raw), "\n", "\r"), "\r")+"\r"))
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				fmt.Fprintf(g.env.Stdout, "%s\n%s\n", name, strings.ReplaceAll(strings.TrimRight(string(ack), "\r"), "\r", "\n"))
				if m, err := hl7.Parse(ack); err != nil || m.Segment("MSA") == nil || m.Segment("MSA").Value(1) != hl7.AA {
					failed++
				}
			}
			if failed > 0 {
				return errors.New(fmt.Sprint(failed, " message(s) not accepted"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:2575", "MLLP address")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for each ACK")
	return cmd
}
