package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/policy"
	"github.com/medchain/medchain/x/policy/cond"
)

// NewPolicyCmd builds `medchain policy`: CEL conditions of consents and
// automations (x/policy, docs/policies.md).
func NewPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Consent conditions (CEL) and automations: check and explain conditions, add and manage rules, record encounters"}
	condCmd := &cobra.Command{Use: "condition", Short: "Check or explain a CEL condition, offline"}
	condCmd.AddCommand(newPolicyCheckCmd(g), newPolicyExplainCmd(g))
	rule := &cobra.Command{Use: "rule", Short: "Automations: when EVENT matching CONDITION, do ACTION"}
	rule.AddCommand(newPolicyRuleAddCmd(g), newPolicyRuleListCmd(g))
	for _, a := range []struct{ use, typ, short, done string }{
		{"pause", policy.TypePauseRule, "Pause a rule: it fires no more until resumed", "paused"},
		{"resume", policy.TypeResumeRule, "Resume a paused rule", "resumed"},
		{"delete", policy.TypeDeleteRule, "Delete a rule", "deleted"},
	} {
		rule.AddCommand(newPolicyRuleActionCmd(g, a.use, a.typ, a.short, a.done))
	}
	cmd.AddCommand(condCmd, rule)
	for _, a := range []struct{ use, typ, short, done string }{
		{"admit", policy.TypeAdmit, "Record that a patient's encounter at your organization began (encounter_orgs of consent conditions)", "encounter started at your organization"},
		{"discharge", policy.TypeDischarge, "Record that a patient's encounter at your organization ended", "encounter ended"},
	} {
		cmd.AddCommand(newPolicyEncounterCmd(g, a.use, a.typ, a.short, a.done))
	}
	return cmd
}

func condKind(s string) (cond.Kind, error) {
	switch s {
	case "access", "":
		return cond.KindAccess, nil
	case "event":
		return cond.KindEvent, nil
	}
	return 0, fmt.Errorf("--kind %q: access (a consent's condition) or event (an automation's)", s)
}

func newPolicyCheckCmd(g *globals) *cobra.Command {
	var kind string
	var maxCost uint64
	cmd := &cobra.Command{
		Use:   "check [--kind access|event] [--max-cost N] EXPR",
		Short: "Parse, type-check and cost-estimate a condition as registration would (offline)",
		Long: `check compiles a CEL expression against the declared variables (docs/policies.md) and prints
its hash (how events and the access trail name it), CEL's cost estimate and the variables it
reads. It exits with the stable error (policy/N) registration would return. --max-cost is the
governance bound to check against (consent.max_condition_cost or policy.max_rule_cost; default
their default, 5000).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := condKind(kind)
			if err != nil {
				return err
			}
			p, err := cond.Compile(k, args[0], maxCost)
			if err != nil {
				return err
			}
			uses := slices.Sorted(func(yield func(string) bool) {
				for v := range p.Uses {
					if !yield(v) {
						return
					}
				}
			})
			if g.json {
				return g.printJSON(map[string]any{"hash": cond.Hash(p.Expr), "cost_min": p.CostMin, "cost_max": p.CostMax, "uses": uses})
			}
			fmt.Fprintf(g.env.Stdout, "ok: condition %s, estimated cost %d to %d (limit %d), reads %s\n",
				cond.Hash(p.Expr), p.CostMin, p.CostMax, maxCost, strings.Join(uses, ", "))
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "access", "access (a consent's condition) or event (an automation's)")
	cmd.Flags().Uint64Var(&maxCost, "max-cost", 5000, "the estimated-cost bound to check against")
	return cmd
}

func newPolicyExplainCmd(g *globals) *cobra.Command {
	var in cond.Access
	var at, codes, encounters, event, attrs, owner string
	var kind string
	cmd := &cobra.Command{
		Use:   "explain [--kind access|event] EXPR [--role R --org-type T --resource-type T --codes a,b --at TIME --encounter-orgs a,b --emergency ...]",
		Short: "Evaluate a condition on a request you describe, and say whether it allows it (offline)",
		Long: `explain evaluates a condition as the chain would for the access (or event) described by the
flags, and prints the outcome, the runtime cost and, when refused, why. --at is the block time
(RFC 3339; default now). Nothing is sent.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := condKind(kind)
			if err != nil {
				return err
			}
			p, err := cond.Compile(k, args[0], cond.MaxRegisteredCost)
			if err != nil {
				return err
			}
			now := time.Now().Unix()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return fmt.Errorf("--at: %w", err)
				}
				now = t.Unix()
			}
			var o cond.Outcome
			if k == cond.KindAccess {
				in.BlockTime = now
				in.EncounterOrgs = splitList(encounters)
				if cmd.Flags().Changed("codes") {
					in.Codes, in.CodesKnown = splitList(codes), true
				}
				o = p.EvalAccess(&in)
			} else {
				ev := &cond.Event{Name: event, Owner: owner, BlockTime: now, Attrs: map[string]string{}}
				for _, kv := range splitList(attrs) {
					k, v, ok := strings.Cut(kv, "=")
					if !ok {
						return fmt.Errorf("--attrs %q: want key=value,...", kv)
					}
					ev.Attrs[k] = v
				}
				o = p.EvalEvent(ev)
			}
			if g.json {
				out := map[string]any{"hash": cond.Hash(p.Expr), "allowed": o.Allowed, "cost": o.Cost}
				if o.Err != nil {
					out["why"] = o.Err.Error()
				}
				return g.printJSON(out)
			}
			if o.Allowed {
				fmt.Fprintf(g.env.Stdout, "allowed: condition %s holds (cost %d)\n", cond.Hash(p.Expr), o.Cost)
				return nil
			}
			fmt.Fprintf(g.env.Stdout, "refused: %v (cost %d)\n", o.Err, o.Cost)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "access", "access or event")
	f.StringVar(&in.Accessor, "accessor", "", "accessor address")
	f.StringVar(&in.AccessorOrg, "org", "", "accessor's organization")
	f.StringVar(&in.AccessorOrgType, "org-type", "", "accessor's organization type (hospital, clinic, lab, ...)")
	f.StringVar(&in.Role, "role", "", "accessor's role (practitioner, admin, ..., patient)")
	f.StringVar(&in.Purpose, "purpose", consent.PurposeTreatment, "the consent's purpose")
	f.StringVar(&in.Action, "action", "read", "read or write")
	f.StringVar(&in.Patient, "patient", "", "patient address")
	f.StringVar(&in.ResourceType, "resource-type", "", "FHIR resource type")
	f.StringVar(&codes, "codes", "", "codes of the access, system|code,... (given: codes_known is true)")
	f.StringVar(&encounters, "encounter-orgs", "", "organizations where the patient has an encounter in progress")
	f.BoolVar(&in.EmergencyActive, "emergency", false, "an emergency access to the patient is open")
	f.StringVar(&at, "at", "", "block time, RFC 3339 (default now)")
	f.StringVar(&event, "event", "", "event name (--kind event)")
	f.StringVar(&attrs, "attrs", "", "event attributes key=value,... (--kind event)")
	f.StringVar(&owner, "owner", "", "rule owner (--kind event)")
	return cmd
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func newPolicyRuleAddCmd(g *globals) *cobra.Command {
	var tf txFlags
	var org, event, when, action, to, actions, types, purpose, topic, reason string
	var lasts time.Duration
	var consentID uint64
	cmd := &cobra.Command{
		Use:   "add --from KEY --event EVENT [--if EXPR] --action ACTION [action flags] [--org ORG]",
		Short: "Register an automation; prints the rule id",
		Long: `add registers "when EVENT matching CONDITION, do ACTION", owned by the --from account (a
patient), or with --org by that organization (signed by its admin). Events: ` + strings.Join(policy.Events, ", ") + `.
Actions:
  grant_consent   --to PARTY [--actions read] [--types T,...] [--purpose P] --for DURATION
                  (a consent from the event's patient, or the owner, lasting DURATION)
  revoke_consent  --consent ID
  release_escrow  (confirm the event's consultation: its escrow goes to the provider)
  notify          --to PARTY --topic CODE   (an on-chain notification event)
  open_quarantine --reason CODE   (event unit_received, --org only: flag the received unit,
                  quarantining it and its contents, as the organization's admin could)
The action runs with the owner's authority only: what the owner could not do, it cannot.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := &policy.MsgAddRule{Org: org, Event: event, Condition: when, Action: policy.Action{Kind: action}}
			switch action {
			case policy.ActionGrantConsent:
				p, err := g.party(to)
				if err != nil {
					return fmt.Errorf("--to: %w", err)
				}
				m.Action.Grantee, m.Action.Purpose, m.Action.Seconds = p, purpose, int64(lasts/time.Second)
				for _, a := range splitList(actions) {
					switch a {
					case "read":
						m.Action.Actions |= consent.ActRead
					case "write":
						m.Action.Actions |= consent.ActWrite
					default:
						return fmt.Errorf("--actions: %q, want read, write or read,write", a)
					}
				}
				m.Action.Types = splitList(types)
				slices.Sort(m.Action.Types)
				m.Action.Types = slices.Compact(m.Action.Types)
			case policy.ActionRevokeConsent:
				m.Action.ConsentID = consentID
			case policy.ActionNotify:
				p, err := g.party(to)
				if err != nil {
					return fmt.Errorf("--to: %w", err)
				}
				m.Action.To, m.Action.Topic = p, topic
			case policy.ActionOpenQuarantine:
				m.Action.Reason = reason
			}
			if err := m.ValidateBasic(); err != nil {
				return err
			}
			return g.sendForID(cmd, tf, m, "policy_rule_added", "rule", func(res *api.TxResult) string {
				id, _ := eventAttr(res, "policy_rule_added", "rule")
				return "rule " + id + " added"
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&org, "org", "", "the organization owning the rule (signed by its admin)")
	f.StringVar(&event, "event", "", "the event (required)")
	f.StringVar(&when, "if", "", "CEL condition over event, attrs, owner, block_time")
	f.StringVar(&action, "action", "", "the action (required)")
	f.StringVar(&to, "to", "", "grantee or notified party: key name, address, or org:ID")
	f.StringVar(&actions, "actions", "read", "grant_consent: read, write or read,write")
	f.StringVar(&types, "types", "", "grant_consent: resource types (default all)")
	f.StringVar(&purpose, "purpose", consent.PurposeTreatment, "grant_consent: purpose of use")
	f.DurationVar(&lasts, "for", 0, "grant_consent: how long the consent lasts")
	f.Uint64Var(&consentID, "consent", 0, "revoke_consent: the consent id")
	f.StringVar(&topic, "topic", "", "notify: a topic code")
	f.StringVar(&reason, "reason", "", "open_quarantine: the flag's reason code (counterfeit, diverted, stolen, tampered, unfit, fraudulent_transaction, other)")
	_ = cmd.MarkFlagRequired("event")
	_ = cmd.MarkFlagRequired("action")
	tf.add(cmd)
	return cmd
}

func newPolicyRuleListCmd(g *globals) *cobra.Command {
	var owner string
	cmd := &cobra.Command{
		Use:   "list [--owner ACCOUNT] --from KEY",
		Short: "List the rules an account owns (a signed read)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			as := owner
			if as == "" {
				as = g.from
			}
			if as == "" {
				return errors.New("--owner or --from: whose rules")
			}
			a, err := g.account(as)
			if err != nil {
				return err
			}
			var out struct {
				Rules []api.RuleView `json:"rules"`
			}
			if done, err := g.getSigned(cmd.Context(), as, "/v1/accounts/"+a.String()+"/rules", &out); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RULE\tOWNER\tEVENT\tCONDITION\tACTION\tSTATE\tFIRED")
			for _, r := range out.Rules {
				state, c, owner := "active", "-", r.Owner
				if r.Paused {
					state = "paused"
					if r.PauseReason != "" {
						state += " (" + r.PauseReason + ")"
					}
				}
				if r.ConditionHash != "" {
					c = r.ConditionHash
				}
				if r.Org != "" {
					owner = "org:" + r.Org
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\n", r.ID, owner, r.Event, c, r.Action.Kind, state, r.Fired)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&owner, "owner", "", "the owner (default the --from account)")
	return cmd
}

func newPolicyRuleActionCmd(g *globals, use, typ, short, done string) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   use + " --from KEY RULE",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("rule", args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &policy.MsgRuleAction{Action: typ, ID: id}, func(*api.TxResult) string { return fmt.Sprintf("rule %d %s", id, done) })
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newPolicyEncounterCmd(g *globals, use, typ, short, done string) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   use + " --from PRACTITIONER PATIENT",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.account(args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &policy.MsgEncounter{Action: typ, Patient: p}, func(*api.TxResult) string { return p.String() + ": " + done })
			return err
		},
	}
	tf.add(cmd)
	return cmd
}
