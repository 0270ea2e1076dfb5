package cli

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/linkkey"
	"github.com/medchain/medchain/x/links"
)

// NewLinkCmd builds `medchain link`: an organization's patient identifiers
// (MRNs) linked to patient accounts, as keyed MACs only (x/links).
func NewLinkCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Link an organization's patient identifiers (MRN system + value) to patient accounts; the chain holds only keyed MACs",
		Long: `link manages the patient index of an organization (x/links). An identifier (system and
value, such as an MRN) becomes on chain only HMAC-SHA256 under the organization's link key,
a secret in HOME/config/link_key.json (link keygen) that its nodes and tools share. A link
needs the patient's approval: an approval the patient signs (link approve), or an active
consent of the patient to the organization. FHIR imports on the organization's node then
resolve Patient.identifier through the links (docs/fhir.md).`,
	}
	cmd.AddCommand(newLinkKeygenCmd(g), newLinkMACCmd(g), newLinkApproveCmd(g), newLinkAddCmd(g), newLinkRemoveCmd(g),
		newLinkShowCmd(g), newLinkListCmd(g))
	return cmd
}

// idFlags name an identifier: by its MAC, or by system and value with the
// organization's key file.
type idFlags struct {
	mac, system, value, keyFile, org string
}

func (f *idFlags) add(cmd *cobra.Command, withMAC bool) {
	fl := cmd.Flags()
	if withMAC {
		fl.StringVar(&f.mac, "mac", "", "the identifier's MAC (64 hex digits), instead of --system and --value")
	}
	fl.StringVar(&f.system, "system", "", "identifier system (for example an MRN's urn:oid:…)")
	fl.StringVar(&f.value, "value", "", "identifier value; '-' reads it from stdin (keeps it out of the process list and shell history)")
	fl.StringVar(&f.keyFile, "key-file", "", "the organization's link key file (default HOME/config/link_key.json)")
	fl.StringVar(&f.org, "org", "", "organization id (default: the key file's)")
}

func (g *globals) linkResolver(f *idFlags) (*links.Resolver, error) {
	path := f.keyFile
	if path == "" {
		path = linkkey.Path(g.home)
	}
	r, err := linkkey.Load(path)
	if err != nil {
		return nil, fmt.Errorf("link key: %w (make one with: medchain link keygen --org ORG)", err)
	}
	if f.org != "" && f.org != r.Org {
		return nil, fmt.Errorf("--org %s, but %s is the key of %s", f.org, path, r.Org)
	}
	return r, nil
}

// resolve returns the organization and the MAC the flags name.
func (g *globals) resolveID(f *idFlags) (string, links.MAC, error) {
	if f.mac != "" {
		if f.system != "" || f.value != "" {
			return "", links.MAC{}, errors.New("give --mac, or --system and --value, not both")
		}
		m, err := links.ParseMAC(f.mac)
		if err != nil {
			return "", m, err
		}
		org := f.org
		if org == "" {
			if r, err := g.linkResolver(f); err == nil {
				org = r.Org
			} else {
				return "", m, errors.New("--org is required with --mac when there is no link key file")
			}
		}
		return org, m, nil
	}
	if f.system == "" || f.value == "" {
		return "", links.MAC{}, errors.New("name the identifier: --system and --value (or --mac)")
	}
	value := f.value
	if value == "-" {
		line, err := bufio.NewReader(g.env.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", links.MAC{}, err
		}
		value = strings.TrimRight(line, "\r\n")
		if value == "" {
			return "", links.MAC{}, errors.New("--value -: nothing on stdin")
		}
	}
	r, err := g.linkResolver(f)
	if err != nil {
		return "", links.MAC{}, err
	}
	return r.Org, r.MAC(f.system, value), nil
}

func newLinkKeygenCmd(g *globals) *cobra.Command {
	var org, file string
	cmd := &cobra.Command{
		Use:   "keygen --org ORG [--key-file FILE]",
		Short: "Make the organization's link key (once; copy the file to each of its nodes and tools)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				file = linkkey.Path(g.home)
			}
			if _, err := linkkey.Generate(file, org); err != nil {
				return err
			}
			_, err := fmt.Fprintf(g.env.Stdout, "link key of %s written to %s (mode 0600): keep it secret, back it up, copy it to each node of %s\n", org, file, org)
			return err
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization id (required)")
	cmd.Flags().StringVar(&file, "key-file", "", "where to write it (default HOME/config/link_key.json)")
	_ = cmd.MarkFlagRequired("org")
	return cmd
}

func newLinkMACCmd(g *globals) *cobra.Command {
	var f idFlags
	cmd := &cobra.Command{
		Use:   "mac --system S --value V [--key-file FILE]",
		Short: "Print an identifier's MAC under the organization's link key (what a patient approves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, m, err := g.resolveID(&f)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(g.env.Stdout, m)
			return err
		},
	}
	f.add(cmd, false)
	return cmd
}

// approvalJSON is a signed approval as `link approve` prints it and `link
// add --approval` reads it.
type approvalJSON struct {
	Org       string `json:"org"`
	MAC       string `json:"mac"`
	Patient   string `json:"patient"`
	Approver  string `json:"approver"`
	Expires   int64  `json:"expires"`
	Signature string `json:"signature"` // base64url
}

func newLinkApproveCmd(g *globals) *cobra.Command {
	var org, mac, patient string
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "approve --from PATIENT --org ORG --mac MAC [--patient P] [--expires 24h]",
		Short: "Sign, as the patient (or a guardian, with --patient), an approval for the organization to link one identifier; prints it as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := links.ParseMAC(mac)
			if err != nil {
				return err
			}
			key, err := g.signingKey()
			if err != nil {
				return err
			}
			p := key.Address()
			if patient != "" {
				if p, err = g.account(patient); err != nil {
					return err
				}
			}
			st, err := g.client().Status(cmd.Context())
			if err != nil {
				return err
			}
			a := links.Approve(key, st.ChainID, org, m, p, time.Now().Add(expires).Unix())
			return json.NewEncoder(g.env.Stdout).Encode(approvalJSON{Org: org, MAC: m.String(), Patient: p.String(), Approver: a.Approver.String(),
				Expires: a.Expires, Signature: base64.RawURLEncoding.EncodeToString(a.Signature[:])})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "the organization that may link (required)")
	cmd.Flags().StringVar(&mac, "mac", "", "the identifier's MAC, as the organization gives it (required)")
	cmd.Flags().StringVar(&patient, "patient", "", "the patient, when you sign as a guardian")
	cmd.Flags().DurationVar(&expires, "expires", 24*time.Hour, "how long the approval may be used (at most 720h)")
	_ = cmd.MarkFlagRequired("org")
	_ = cmd.MarkFlagRequired("mac")
	return cmd
}

func (g *globals) readApproval(arg string) (*approvalJSON, error) {
	var b []byte
	var err error
	if arg == "-" {
		b, err = io.ReadAll(io.LimitReader(g.env.Stdin, 1<<16))
	} else {
		b, err = os.ReadFile(arg)
	}
	if err != nil {
		return nil, fmt.Errorf("--approval: %w", err)
	}
	var a approvalJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("--approval: %w", err)
	}
	return &a, nil
}

func newLinkAddCmd(g *globals) *cobra.Command {
	var tf txFlags
	var f idFlags
	var patient, approval string
	cmd := &cobra.Command{
		Use:   "add --from MEMBER --patient P (--system S --value V | --mac MAC) [--approval FILE|-]",
		Short: "Link an identifier of your organization to a patient (an admin, staff or gateway member), with the patient's signed approval or under their consent to the organization",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.account(patient)
			if err != nil {
				return err
			}
			org, m, err := g.resolveID(&f)
			if err != nil {
				return err
			}
			msg := &links.MsgLink{Org: org, MAC: m, Patient: p}
			if approval != "" {
				a, err := g.readApproval(approval)
				if err != nil {
					return err
				}
				if a.Org != org || a.MAC != m.String() || a.Patient != p.String() {
					return fmt.Errorf("--approval is for %s %s of %s, not this link (%s %s of %s)", a.Org, a.MAC, a.Patient, org, m, p)
				}
				approver, err := crypto.ParseAddress(a.Approver)
				if err != nil {
					return fmt.Errorf("--approval: approver: %w", err)
				}
				sig, err := base64.RawURLEncoding.DecodeString(a.Signature)
				if err != nil || len(sig) != crypto.SignatureSize {
					return errors.New("--approval: signature: want 64 bytes, base64url")
				}
				msg.Approval = &links.Approval{Approver: approver, Expires: a.Expires}
				copy(msg.Approval.Signature[:], sig)
			}
			_, err = g.send(cmd.Context(), tf, msg, func(*api.TxResult) string { return fmt.Sprintf("linked %s %s to %s", org, m, p) })
			return err
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&patient, "patient", "", "the patient account (address or key name; required)")
	cmd.Flags().StringVar(&approval, "approval", "", "the patient's approval (JSON of link approve; '-' for stdin); without it, the patient's consent to the organization")
	_ = cmd.MarkFlagRequired("patient")
	tf.add(cmd)
	return cmd
}

func newLinkRemoveCmd(g *globals) *cobra.Command {
	var tf txFlags
	var f idFlags
	cmd := &cobra.Command{
		Use:   "remove --from ACCOUNT (--system S --value V | --mac MAC --org ORG)",
		Short: "Remove a link (the organization's admins, staff or gateway; the patient or a guardian)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			org, m, err := g.resolveID(&f)
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &links.MsgUnlink{Org: org, MAC: m}, func(*api.TxResult) string { return fmt.Sprintf("unlinked %s %s", org, m) })
			return err
		},
	}
	f.add(cmd, true)
	tf.add(cmd)
	return cmd
}

func newLinkShowCmd(g *globals) *cobra.Command {
	var f idFlags
	cmd := &cobra.Command{
		Use:   "show --from ACCOUNT (--system S --value V | --mac MAC --org ORG)",
		Short: "Show the patient an identifier is linked to (a signed read: a member of the organization, or care grounds on the patient)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			org, m, err := g.resolveID(&f)
			if err != nil {
				return err
			}
			var v api.LinkView
			if done, err := g.getSigned(cmd.Context(), "", "/v1/orgs/"+org+"/links/"+m.String(), &v); done || err != nil {
				return err
			}
			return printLinks(g, []api.LinkView{v})
		},
	}
	f.add(cmd, true)
	return cmd
}

func newLinkListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list --from ACCOUNT PATIENT",
		Short: "List a patient's links: organizations and MACs (a signed read with care grounds)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.account(args[0])
			if err != nil {
				return err
			}
			var out struct {
				Links []api.LinkView `json:"links"`
			}
			if done, err := g.getSigned(cmd.Context(), "", "/v1/patients/"+p.String()+"/links", &out); done || err != nil {
				return err
			}
			return printLinks(g, out.Links)
		},
	}
}

func printLinks(g *globals, ls []api.LinkView) error {
	names := g.localNames()
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORG\tMAC\tPATIENT\tAPPROVAL\tLINKED BY\tCREATED")
	for _, l := range ls {
		basis := "consent " + fmt.Sprint(l.ConsentID)
		if l.Approver != "" {
			basis = "signed by " + label(names, l.Approver)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Org, l.MAC, label(names, l.Patient), basis, label(names, l.Linker),
			time.Unix(l.Created, 0).UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}
