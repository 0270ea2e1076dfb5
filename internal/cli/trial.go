package cli

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/x/trials"
)

// NewTrialCmd builds `medchain trial`: clinical-trial integrity
// (docs/trials.md).
func NewTrialCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trial",
		Short: "Register trials, record consent, enrollment and withdrawal, anchor data, lock, publish results, show timelines",
		Long: `trial keeps a clinical trial's integrity record on chain (docs/trials.md):
a sponsor registers the trial and amends its protocol; a participant (or a
guardian) consents to the current protocol version; a site enrolls consented
participants and anchors batches of case-report-form data (a Merkle root over
record hashes; the data stay off chain, encrypted); the sponsor locks the
database and publishes results, which the chain compares with the
pre-registered outcomes. timeline shows it all in order, with proof keys.`,
	}
	cmd.AddCommand(newTrialRegisterCmd(g), newTrialAmendCmd(g), newTrialConsentCmd(g), newTrialEnrollCmd(g),
		newTrialWithdrawCmd(g), newTrialAnchorCmd(g), newTrialProveCmd(g), newTrialLockCmd(g), newTrialResultsCmd(g),
		newTrialTimelineCmd(g), newTrialShowCmd(g), newTrialParticipantsCmd(g))
	return cmd
}

// outcomeFlags are --primary and --secondary "MEASURE|TIME FRAME".
type outcomeFlags struct{ primary, secondary []string }

func (o *outcomeFlags) add(cmd *cobra.Command, what string) {
	cmd.Flags().StringArrayVar(&o.primary, "primary", nil, what+` primary outcome, "MEASURE|TIME FRAME" (repeatable)`)
	cmd.Flags().StringArrayVar(&o.secondary, "secondary", nil, what+` secondary outcome, "MEASURE|TIME FRAME" (repeatable)`)
}

func (o *outcomeFlags) outcomes() ([]trials.Outcome, error) {
	var out []trials.Outcome
	for _, set := range []struct {
		typ  uint8
		flag string
		vals []string
	}{{trials.OutcomePrimary, "--primary", o.primary}, {trials.OutcomeSecondary, "--secondary", o.secondary}} {
		for _, v := range set.vals {
			i := strings.LastIndex(v, "|")
			if i <= 0 || i == len(v)-1 {
				return nil, fmt.Errorf(`%s %q: want "MEASURE|TIME FRAME"`, set.flag, v)
			}
			out = append(out, trials.Outcome{Type: set.typ, Measure: strings.TrimSpace(v[:i]), TimeFrame: strings.TrimSpace(v[i+1:])})
		}
	}
	return out, nil
}

// fileHash is the SHA-256 of a document that stays off chain.
func fileHash(flag, path string) ([32]byte, error) {
	if path == "" {
		return [32]byte{}, fmt.Errorf("%s FILE is required", flag)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}, fmt.Errorf("%s: %w", flag, err)
	}
	return sha256.Sum256(b), nil
}

func newTrialRegisterCmd(g *globals) *cobra.Command {
	var tf txFlags
	var of outcomeFlags
	var id, title, protocol, sap string
	var sites []string
	var planned uint64
	var lateAfter time.Duration
	c := &cobra.Command{
		Use:   "register --from SPONSOR_ADMIN --id NCTxxxxxxxx --title TITLE --site ORG... --protocol FILE --sap FILE --primary 'MEASURE|TIME FRAME'... --planned N",
		Short: "Register a trial (an admin of a research_sponsor organization)",
		Long: `register records a trial and its protocol version 1. The protocol and the
statistical analysis plan stay off chain: the chain holds their SHA-256
(of the file as given; for a confidential document, encrypt it first and give
the ciphertext). Sites are member organizations; outcomes are pre-registered
here, each a measure and a time frame. --late-after sets when an anchored
batch counts as late (its earliest claimed collection time older than this).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ph, err := fileHash("--protocol", protocol)
			if err != nil {
				return err
			}
			sh, err := fileHash("--sap", sap)
			if err != nil {
				return err
			}
			outs, err := of.outcomes()
			if err != nil {
				return err
			}
			slices.Sort(sites)
			m := &trials.MsgRegister{ID: id, Title: title, Sites: slices.Compact(sites), ProtocolHash: ph, SAPHash: sh, Outcomes: outs,
				Planned: planned, LateAfter: int64(lateAfter / time.Second)}
			_, err = g.send(cmd.Context(), tf, m, func(*api.TxResult) string {
				return fmt.Sprintf("trial %s registered, protocol version 1 (protocol %x, SAP %x)", id, ph[:8], sh[:8])
			})
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&id, "id", "", "registry id: NCT and 8 digits (required)")
	f.StringVar(&title, "title", "", "the trial's title (required)")
	f.StringSliceVar(&sites, "site", nil, "a site organization id (repeatable, required)")
	f.StringVar(&protocol, "protocol", "", "the protocol document (hashed; required)")
	f.StringVar(&sap, "sap", "", "the statistical analysis plan (hashed; required)")
	f.Uint64Var(&planned, "planned", 0, "planned enrollment (required)")
	f.DurationVar(&lateAfter, "late-after", 7*24*time.Hour, "an anchor whose earliest collection time is older than this is late (1h to 8784h)")
	of.add(c, "a pre-registered")
	for _, r := range []string{"id", "title", "site", "protocol", "sap", "planned"} {
		_ = c.MarkFlagRequired(r)
	}
	tf.add(c)
	return c
}

func newTrialAmendCmd(g *globals) *cobra.Command {
	var tf txFlags
	var of outcomeFlags
	var protocol, sap, reason string
	var reconsent bool
	c := &cobra.Command{
		Use:   "amend ID --from SPONSOR_ADMIN --protocol FILE --sap FILE --primary ... --reason TEXT [--reconsent]",
		Short: "Amend a trial's protocol: the next version, with the complete outcome set in force",
		Long: `amend records the next protocol version. The outcomes given replace the
set in force (give them all, changed or not); the change is shown in the
trial's timeline. --reconsent pauses the data capture of every enrolled
participant until they consent to this version. The reason is about the
protocol, never about a participant: no health data goes on chain.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ph, err := fileHash("--protocol", protocol)
			if err != nil {
				return err
			}
			sh, err := fileHash("--sap", sap)
			if err != nil {
				return err
			}
			outs, err := of.outcomes()
			if err != nil {
				return err
			}
			m := &trials.MsgAmend{ID: args[0], ProtocolHash: ph, SAPHash: sh, Outcomes: outs, Reconsent: reconsent, Reason: reason}
			_, err = g.send(cmd.Context(), tf, m, func(res *api.TxResult) string {
				v, _ := eventAttr(res, "trial_amended", "version")
				s := fmt.Sprintf("trial %s amended: protocol version %s", args[0], v)
				if reconsent {
					s += "; enrolled participants' data capture pauses until they re-consent"
				}
				return s
			})
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&protocol, "protocol", "", "the amended protocol document (hashed; required)")
	f.StringVar(&sap, "sap", "", "the statistical analysis plan in force (hashed; required)")
	f.StringVar(&reason, "reason", "", "why the protocol changes (required; no participant data)")
	f.BoolVar(&reconsent, "reconsent", false, "participants must re-consent before further data capture")
	of.add(c, "an")
	_ = c.MarkFlagRequired("reason")
	tf.add(c)
	return c
}

// publicTrial fetches GET /v1/trials/{id}.
func (g *globals) publicTrial(cmd *cobra.Command, id string) (*api.TrialView, error) {
	var t api.TrialView
	if err := g.client().Get(cmd.Context(), "/v1/trials/"+id, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

func newTrialConsentCmd(g *globals) *cobra.Command {
	var tf txFlags
	var participant string
	var version uint32
	c := &cobra.Command{
		Use:   "consent ID --from PATIENT_OR_GUARDIAN [--participant PATIENT] [--version N]",
		Short: "Consent to take part in a trial, under its current protocol version (the participant or a guardian)",
		Long: `consent records the participant's research consent to a protocol version,
which must be the trial's current one (--version, default: the current
version, printed). A site enrolls a participant only after this; after an
amendment that requires re-consent, the participant's data capture resumes
only after a consent to the new version.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.participant(participant)
			if err != nil {
				return err
			}
			if version == 0 {
				t, err := g.publicTrial(cmd, args[0])
				if err != nil {
					return err
				}
				version = t.Version
			}
			_, err = g.send(cmd.Context(), tf, &trials.MsgConsent{ID: args[0], Participant: p, Version: version}, func(*api.TxResult) string {
				return fmt.Sprintf("%s consented to trial %s, protocol version %d", p, args[0], version)
			})
			return err
		},
	}
	c.Flags().StringVar(&participant, "participant", "", "the participant (default: the --from account)")
	c.Flags().Uint32Var(&version, "version", 0, "the protocol version consented to (default: the current one)")
	tf.add(c)
	return c
}

// participant is --participant, else the --from account.
func (g *globals) participant(arg string) (crypto.Address, error) {
	if arg == "" {
		arg = g.from
	}
	if arg == "" {
		return crypto.Address{}, errors.New("--participant or --from is required")
	}
	return g.account(arg)
}

func newTrialEnrollCmd(g *globals) *cobra.Command {
	var tf txFlags
	c := &cobra.Command{
		Use:   "enroll ID PARTICIPANT --from SITE_MEMBER",
		Short: "Enroll a consented participant at your site (a practitioner or researcher of a site)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.account(args[1])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &trials.MsgEnroll{ID: args[0], Participant: p}, func(res *api.TxResult) string {
				site, _ := eventAttr(res, "trial_enrolled", "site")
				return fmt.Sprintf("%s enrolled in trial %s at %s", p, args[0], site)
			})
			return err
		},
	}
	tf.add(c)
	return c
}

func newTrialWithdrawCmd(g *globals) *cobra.Command {
	var tf txFlags
	var participant string
	c := &cobra.Command{
		Use:   "withdraw ID --from PATIENT_OR_GUARDIAN [--participant PATIENT]",
		Short: "Withdraw from a trial: no further data capture or use (no reason is asked or recorded)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.participant(participant)
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &trials.MsgWithdraw{ID: args[0], Participant: p}, func(*api.TxResult) string {
				return fmt.Sprintf("%s withdrew from trial %s; the sponsor sees the withdrawal, not its reason", p, args[0])
			})
			return err
		},
	}
	c.Flags().StringVar(&participant, "participant", "", "the participant (default: the --from account)")
	tf.add(c)
	return c
}

// BatchItem is one datum of a batch file: a record of a participant, by
// the SHA-256 of its ciphertext, with its collection time.
type BatchItem struct {
	Participant string `json:"participant"` // address or local key name
	RecordHash  string `json:"record_hash"` // 64 hex digits
	Collected   string `json:"collected"`   // RFC 3339
}

// Batch is the file `trial anchor` and `trial prove` read.
type Batch struct {
	Items []BatchItem `json:"items"`
}

// parsedBatch is a batch with its leaves in file order.
type parsedBatch struct {
	data   []trials.Datum
	leaves [][]byte
}

func (g *globals) readBatch(id, path string) (*parsedBatch, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--batch: %w", err)
	}
	var f Batch
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("--batch %s: %w", path, err)
	}
	if len(f.Items) == 0 || len(f.Items) > trials.MaxLeaves {
		return nil, fmt.Errorf("--batch %s: 1 to %d items", path, trials.MaxLeaves)
	}
	pb := &parsedBatch{}
	for i, it := range f.Items {
		p, err := g.account(it.Participant)
		if err != nil {
			return nil, fmt.Errorf("--batch item %d: participant: %w", i, err)
		}
		h, err := hex.DecodeString(it.RecordHash)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("--batch item %d: record_hash: want 64 hex digits", i)
		}
		at, err := time.Parse(time.RFC3339, it.Collected)
		if err != nil {
			return nil, fmt.Errorf("--batch item %d: collected: %w", i, err)
		}
		d := trials.Datum{Participant: p, Collected: at.Unix()}
		copy(d.RecordHash[:], h)
		pb.data = append(pb.data, d)
		pb.leaves = append(pb.leaves, trials.LeafHash(id, d))
	}
	return pb, nil
}

// anchorMsg is the anchor of a parsed batch.
func (pb *parsedBatch) anchorMsg(id string) *trials.MsgAnchor {
	m := &trials.MsgAnchor{ID: id, Root: trials.Root(pb.leaves), Leaves: uint64(len(pb.leaves))}
	for i, d := range pb.data {
		if !slices.Contains(m.Participants, d.Participant) {
			m.Participants = append(m.Participants, d.Participant)
		}
		if i == 0 || d.Collected < m.CollectedFrom {
			m.CollectedFrom = d.Collected
		}
		m.CollectedTo = max(m.CollectedTo, d.Collected)
	}
	slices.SortFunc(m.Participants, func(a, b crypto.Address) int { return bytes.Compare(a[:], b[:]) })
	return m
}

func newTrialAnchorCmd(g *globals) *cobra.Command {
	var tf txFlags
	var batch string
	c := &cobra.Command{
		Use:   "anchor ID --from SITE_MEMBER --batch FILE",
		Short: "Anchor a batch of case-report-form data: the Merkle root of its record hashes",
		Long: `anchor reads a batch file, JSON {"items": [{"participant": ADDRESS_OR_KEY,
"record_hash": HEX, "collected": RFC3339}, ...]}, builds the RFC 6962 Merkle
tree of its items (leaf encoding in docs/trials.md) and anchors its root with
the participants the batch concerns and the collection period. The data stay
off chain (records are registered and encrypted as usual; record_hash is the
SHA-256 of a record's ciphertext). Keep the batch file: 'medchain trial prove'
makes the inclusion proof of any item from it.

The chain refuses the anchor for a participant who is not enrolled at your
site, withdrew, or owes a re-consent, for data claimed collected before the
participant's first consent or after the block, and after the lock. An
anchor whose earliest collection is older than the trial's late-after
threshold is accepted and flagged late.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pb, err := g.readBatch(args[0], batch)
			if err != nil {
				return err
			}
			m := pb.anchorMsg(args[0])
			_, err = g.send(cmd.Context(), tf, m, func(res *api.TxResult) string {
				seq, _ := eventAttr(res, "trial_anchor", "seq")
				late, _ := eventAttr(res, "trial_anchor", "late")
				s := fmt.Sprintf("anchor %s of trial %s: root %x, %d leaves, %d participants", seq, args[0], m.Root, m.Leaves, len(m.Participants))
				if late == "true" {
					s += "; LATE (collected more than the trial's late-after threshold before anchoring)"
				}
				return s
			})
			return err
		},
	}
	c.Flags().StringVar(&batch, "batch", "", "the batch file (required)")
	_ = c.MarkFlagRequired("batch")
	tf.add(c)
	return c
}

// InclusionProof is the file `trial prove` writes and `verify --inclusion`
// reads: one datum of an anchored batch and its RFC 6962 audit path.
type InclusionProof struct {
	Trial       string   `json:"trial"`
	Anchor      uint64   `json:"anchor"`
	Participant string   `json:"participant"`
	RecordHash  string   `json:"record_hash"`
	Collected   string   `json:"collected"` // RFC 3339
	Index       uint64   `json:"index"`
	Size        uint64   `json:"size"`
	Path        []string `json:"path"` // hex, leaf to root
}

func newTrialProveCmd(g *globals) *cobra.Command {
	var batch, record string
	var anchor uint64
	var index int
	c := &cobra.Command{
		Use:   "prove ID --batch FILE --anchor SEQ (--record HASH | --index N)",
		Short: "Make the inclusion proof of one datum of an anchored batch (for medchain verify --inclusion)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pb, err := g.readBatch(args[0], batch)
			if err != nil {
				return err
			}
			if record != "" {
				index = -1
				for i, d := range pb.data {
					if hex.EncodeToString(d.RecordHash[:]) == strings.ToLower(record) {
						index = i
						break
					}
				}
				if index < 0 {
					return fmt.Errorf("--record %s is not in the batch", record)
				}
			}
			path, err := trials.InclusionProof(pb.leaves, index)
			if err != nil {
				return err
			}
			d := pb.data[index]
			p := InclusionProof{Trial: args[0], Anchor: anchor, Participant: d.Participant.String(), RecordHash: hex.EncodeToString(d.RecordHash[:]),
				Collected: time.Unix(d.Collected, 0).UTC().Format(time.RFC3339), Index: uint64(index), Size: uint64(len(pb.leaves)), Path: []string{}}
			for _, n := range path {
				p.Path = append(p.Path, hex.EncodeToString(n))
			}
			return g.printJSON(p)
		},
	}
	c.Flags().StringVar(&batch, "batch", "", "the batch file that was anchored (required)")
	c.Flags().Uint64Var(&anchor, "anchor", 0, "the anchor's sequence number in the trial (required)")
	c.Flags().StringVar(&record, "record", "", "the datum's record hash")
	c.Flags().IntVar(&index, "index", 0, "the datum's position in the batch (from 0)")
	_ = c.MarkFlagRequired("batch")
	_ = c.MarkFlagRequired("anchor")
	c.MarkFlagsMutuallyExclusive("record", "index")
	return c
}

func newTrialLockCmd(g *globals) *cobra.Command {
	var tf txFlags
	c := &cobra.Command{
		Use:   "lock ID --from SPONSOR_ADMIN",
		Short: "Lock the trial's database: nothing but the results follows",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := g.send(cmd.Context(), tf, &trials.MsgLock{ID: args[0]}, func(res *api.TxResult) string {
				return fmt.Sprintf("trial %s locked at block %d", args[0], res.Height)
			})
			return err
		},
	}
	tf.add(c)
	return c
}

func newTrialResultsCmd(g *globals) *cobra.Command {
	var tf txFlags
	var of outcomeFlags
	var report string
	c := &cobra.Command{
		Use:   "results ID --from SPONSOR_ADMIN --report FILE --primary 'MEASURE|TIME FRAME'... [--secondary ...]",
		Short: "Publish results (after the lock): the report's hash and the outcomes it reports",
		Long: `results records the results report's hash and the outcomes it reports. The
chain compares them with the outcomes pre-registered in the protocol version
in force and publishes the outcomes added, dropped and changed (same
measure, another time frame or type), printed here and in the timeline.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rh, err := fileHash("--report", report)
			if err != nil {
				return err
			}
			outs, err := of.outcomes()
			if err != nil {
				return err
			}
			if _, err := g.send(cmd.Context(), tf, &trials.MsgResults{ID: args[0], ReportHash: rh, Outcomes: outs}, func(res *api.TxResult) string {
				a, _ := eventAttr(res, "trial_results", "added")
				d, _ := eventAttr(res, "trial_results", "dropped")
				c, _ := eventAttr(res, "trial_results", "changed")
				return fmt.Sprintf("results of trial %s published; against the pre-registered outcomes: %s added, %s dropped, %s changed", args[0], a, d, c)
			}); err != nil || g.json {
				return err
			}
			t, err := g.publicTrial(cmd, args[0])
			if err != nil || t.Results == nil {
				return err
			}
			printSwitching(g, "outcome switching", t.Results.Switching)
			return nil
		},
	}
	c.Flags().StringVar(&report, "report", "", "the results report (hashed; required)")
	of.add(c, "a reported")
	_ = c.MarkFlagRequired("report")
	tf.add(c)
	return c
}

func outcomeString(o api.OutcomeView) string {
	return fmt.Sprintf("%s: %s (%s)", o.Type, o.Measure, o.TimeFrame)
}

func printSwitching(g *globals, title string, s api.SwitchingView) {
	w := g.env.Stdout
	if len(s.Added)+len(s.Dropped)+len(s.Changed) == 0 {
		fmt.Fprintf(w, "%s: none\n", title)
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	for _, o := range s.Added {
		fmt.Fprintf(w, "  ADDED    %s\n", outcomeString(o))
	}
	for _, o := range s.Dropped {
		fmt.Fprintf(w, "  DROPPED  %s\n", outcomeString(o))
	}
	for _, c := range s.Changed {
		fmt.Fprintf(w, "  CHANGED  %s -> %s\n", outcomeString(c.Registered), outcomeString(c.Reported))
	}
}

func newTrialShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a trial: registration, protocol versions and outcomes, counts, lock, results (public)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t api.TrialView
			if done, err := g.get(cmd.Context(), "/v1/trials/"+args[0], &t); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "trial:\t%s\n", t.ID)
			fmt.Fprintf(tw, "title:\t%s\n", t.Title)
			fmt.Fprintf(tw, "status:\t%s\n", t.Status)
			fmt.Fprintf(tw, "sponsor:\t%s\n", t.Sponsor)
			fmt.Fprintf(tw, "sites:\t%s\n", strings.Join(t.Sites, ", "))
			fmt.Fprintf(tw, "registered:\tblock %d, %s\n", t.Registered.Height, t.Registered.Time.Format(time.RFC3339))
			if t.ReconsentVersion > 0 {
				fmt.Fprintf(tw, "protocol version:\t%d (re-consent required since version %d)\n", t.Version, t.ReconsentVersion)
			} else {
				fmt.Fprintf(tw, "protocol version:\t%d\n", t.Version)
			}
			fmt.Fprintf(tw, "planned enrollment:\t%d\n", t.Planned)
			c := t.Counts
			fmt.Fprintf(tw, "counts:\t%d consents, %d enrolled, %d withdrawn, %d anchors (%d late)\n", c.Consents, c.Enrolled, c.Withdrawn, c.Anchors, c.LateAnchors)
			if t.Locked != nil {
				fmt.Fprintf(tw, "locked:\tblock %d, %s\n", t.Locked.Height, t.Locked.Time.Format(time.RFC3339))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			w := g.env.Stdout
			for _, v := range t.Versions {
				fmt.Fprintf(w, "version %d (block %d, %s) protocol %s…, SAP %s…", v.Number, v.At.Height, v.At.Time.Format(time.RFC3339), v.ProtocolHash[:16], v.SAPHash[:16])
				if v.Reason != "" {
					fmt.Fprintf(w, ", reason: %s", v.Reason)
				}
				if v.Reconsent {
					fmt.Fprint(w, ", re-consent required")
				}
				fmt.Fprintln(w)
				for _, o := range v.Outcomes {
					fmt.Fprintf(w, "  %s\n", outcomeString(o))
				}
				if v.OutcomeChanges != nil {
					printSwitching(g, "  outcome changes against version "+strconv.FormatUint(uint64(v.Number-1), 10), *v.OutcomeChanges)
				}
			}
			if r := t.Results; r != nil {
				fmt.Fprintf(w, "results (block %d, %s), report %s, compared with version %d\n", r.At.Height, r.At.Time.Format(time.RFC3339), r.ReportHash, r.AgainstVersion)
				printSwitching(g, "outcome switching", r.Switching)
			}
			return nil
		},
	}
}

func newTrialTimelineCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "timeline ID --from OVERSEER",
		Short: "The trial's verifiable ordered timeline (signed: sponsor, regulator or site members)",
		Long: `timeline lists the trial's events in order — registration, amendments (with
outcome changes), consents, enrollments, anchors (late ones flagged),
withdrawals, lock and results with the outcome-switching report — each with
its block height and time and its proof reference: the state key whose value
records it. Check any of them against a light-client header with
'medchain verify --key KEY --height H --from OVERSEER --witness RPC'.
It names participants, so the request is signed (--from): members of the
sponsor or of a regulator see every site, a site's members their own.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var tl api.Timeline
			if done, err := g.getSigned(cmd.Context(), "", "/v1/trials/"+args[0]+"/timeline", &tl); done || err != nil {
				return err
			}
			w := g.env.Stdout
			names := g.localNames()
			scope := "all sites"
			if tl.Site != "" {
				scope = "site " + tl.Site
			}
			fmt.Fprintf(w, "trial %s (%s), state height %d, %s; prove an item with: medchain verify --key KEY --height %d\n", tl.Trial, tl.Status, tl.Height, scope, tl.Height)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HEIGHT\tTIME\tEVENT\tDETAIL\tKEY")
			for _, it := range tl.Items {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", it.Height, it.Time.Format(time.RFC3339), it.Kind, timelineDetail(names, it), it.Key)
			}
			return tw.Flush()
		},
	}
}

func timelineDetail(names map[string]string, it api.TimelineItem) string {
	switch it.Kind {
	case "registered":
		return fmt.Sprintf("protocol version %d", it.Version)
	case "amended":
		s := fmt.Sprintf("protocol version %d: %s", it.Version, it.Reason)
		if it.Reconsent {
			s += "; RE-CONSENT REQUIRED"
		}
		if c := it.OutcomeChanges; c != nil && len(c.Added)+len(c.Dropped)+len(c.Changed) > 0 {
			s += fmt.Sprintf("; outcomes %d added, %d dropped, %d changed", len(c.Added), len(c.Dropped), len(c.Changed))
		}
		return s
	case "consent":
		return fmt.Sprintf("%s to version %d", label(names, it.Participant), it.Version)
	case "enrolled", "withdrawn":
		return fmt.Sprintf("%s at %s", label(names, it.Participant), it.Site)
	case "anchor":
		a := it.Anchor
		s := fmt.Sprintf("#%d by %s: %d leaves, %d participants, root %s…, collected %s…%s", a.Seq, a.Site, a.Leaves, len(a.Participants), a.Root[:16],
			a.CollectedFrom.Format(time.RFC3339), a.CollectedTo.Format(time.RFC3339))
		if a.Late {
			s += fmt.Sprintf(" LATE (%s after collection)", time.Duration(a.DelaySeconds)*time.Second)
		}
		return s
	case "results":
		if !it.OutcomeSwitching {
			return fmt.Sprintf("against version %d: outcomes as pre-registered", it.Version)
		}
		sw := it.Switching
		return fmt.Sprintf("against version %d: OUTCOME SWITCHING: %d added, %d dropped, %d changed", it.Version, len(sw.Added), len(sw.Dropped), len(sw.Changed))
	}
	return ""
}

func newTrialParticipantsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "participants ID --from OVERSEER",
		Short: "A trial's participants and their states (signed: sponsor, regulator or site members)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Site         string                `json:"site"`
				Participants []api.ParticipantView `json:"participants"`
			}
			if done, err := g.getSigned(cmd.Context(), "", "/v1/trials/"+args[0]+"/participants", &out); done || err != nil {
				return err
			}
			names := g.localNames()
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PARTICIPANT\tSTATE\tCONSENTED VERSION\tSITE\tENROLLED\tWITHDRAWN")
			for _, p := range out.Participants {
				at := func(s *api.StampView) string {
					if s == nil {
						return "-"
					}
					return fmt.Sprintf("block %d", s.Height)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", label(names, p.Participant), p.State, p.ConsentedVersion, cmp.Or(p.Site, "-"), at(p.Enrolled), at(p.Withdrawn))
			}
			return tw.Flush()
		},
	}
}
