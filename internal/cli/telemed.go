package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/telemed"
)

// NewTelemedCmd builds `medchain telemed`: telemedicine payments through
// escrow (x/telemed).
func NewTelemedCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "telemed", Short: "Telemedicine payments: offers, bookings paid into escrow, confirmation, cancellation, disputes, no-shows"}
	cmd.AddCommand(newTelemedOfferCmd(g), newTelemedWithdrawCmd(g), newTelemedBookCmd(g))
	for _, a := range []struct{ use, short, done string }{
		{"done", "Mark a consultation done (the provider, once the slot has started); the escrow is released after telemed.release_seconds unless the patient confirms or disputes", "marked done"},
		{"confirm", "Confirm a consultation (the patient): the escrow goes to the provider", "confirmed: the escrow went to the provider"},
		{"cancel", "Cancel a booking: the patient before its cancellation window closes, the provider before it is done; the escrow returns to the patient", "cancelled: the escrow returned to the patient"},
		{"dispute", "Dispute a booking (either party, once the slot has started and before release); the arbiter organization's admin resolves it", "disputed: the arbiter resolves it"},
		{"noshow", "Claim a no-show: the provider after the slot (patient no-show, released unless disputed), the patient after the slot and grace (provider no-show, refunded)", "no-show recorded"},
	} {
		cmd.AddCommand(newTelemedActionCmd(g, a.use, a.short, a.done))
	}
	cmd.AddCommand(newTelemedResolveCmd(g), newTelemedListCmd(g), newTelemedShowCmd(g))
	return cmd
}

// parseWhen reads an RFC 3339 time or a duration from now.
func parseWhen(flag, s string) (int64, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(d).Unix(), nil
	}
	return 0, fmt.Errorf("--%s %q: want an RFC 3339 time (2027-01-31T09:00:00Z) or a duration from now (48h)", flag, s)
}

func parseID(what, s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%s id %q: want a positive number", what, s)
	}
	return id, nil
}

func newTelemedOfferCmd(g *globals) *cobra.Command {
	var tf txFlags
	var service, arbiter string
	var price uint64
	var duration, cancelBefore, grace time.Duration
	cmd := &cobra.Command{
		Use:   "offer --from PRACTITIONER --service CODE --price N --duration 30m --arbiter ORG [--cancel-before 24h] [--grace 15m]",
		Short: "Publish a telemedicine offer; prints the offer id",
		Long: `offer publishes a consultation patients can book: a service code (a-z, 0-9, '-', '_', '.', ':',
never free text), its price, its duration and an arbiter organization (not your own) whose
admin splits the escrow of a disputed booking. A patient may cancel with a full refund until
--cancel-before ahead of the start; after the slot's end plus --grace, a booking you neither
marked done nor claimed as a patient no-show can be reclaimed by the patient.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := &telemed.MsgOffer{Service: service, Price: price, Duration: int64(duration / time.Second), Arbiter: arbiter,
				CancelBefore: int64(cancelBefore / time.Second), Grace: int64(grace / time.Second)}
			return g.sendForID(cmd, tf, m, "telemed_offer", "offer", func(res *api.TxResult) string {
				id, _ := eventAttr(res, "telemed_offer", "offer")
				return "offer " + id + " published"
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&service, "service", "", "service code (required)")
	f.Uint64Var(&price, "price", 0, "price in the smallest token unit (required)")
	f.DurationVar(&duration, "duration", 30*time.Minute, "length of a slot")
	f.StringVar(&arbiter, "arbiter", "", "arbiter organization id (required)")
	f.DurationVar(&cancelBefore, "cancel-before", 0, "how long before the start the patient's free cancellation closes")
	f.DurationVar(&grace, "grace", 15*time.Minute, "after the slot's end, how long before the patient may call a provider no-show")
	_ = cmd.MarkFlagRequired("service")
	_ = cmd.MarkFlagRequired("price")
	_ = cmd.MarkFlagRequired("arbiter")
	tf.add(cmd)
	return cmd
}

func newTelemedWithdrawCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "withdraw --from PRACTITIONER OFFER",
		Short: "Withdraw an offer (existing bookings run their course)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("offer", args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &telemed.MsgWithdraw{Offer: id}, func(*api.TxResult) string { return fmt.Sprintf("offer %d withdrawn", id) })
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newTelemedBookCmd(g *globals) *cobra.Command {
	var tf txFlags
	var start string
	cmd := &cobra.Command{
		Use:   "book --from PATIENT OFFER --start TIME",
		Short: "Book a slot of an offer and pay its price into escrow; prints the booking id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("offer", args[0])
			if err != nil {
				return err
			}
			at, err := parseWhen("start", start)
			if err != nil {
				return err
			}
			return g.sendForID(cmd, tf, &telemed.MsgBook{Offer: id, Start: at}, "telemed_booked", "booking", func(res *api.TxResult) string {
				b, _ := eventAttr(res, "telemed_booked", "booking")
				amt, _ := eventAttr(res, "telemed_booked", "escrow")
				return fmt.Sprintf("booking %s: %s paid into escrow for the slot at %s", b, amt, time.Unix(at, 0).UTC().Format(time.RFC3339))
			})
		},
	}
	cmd.Flags().StringVar(&start, "start", "", "slot start: RFC 3339 time or a duration from now (required)")
	_ = cmd.MarkFlagRequired("start")
	tf.add(cmd)
	return cmd
}

func newTelemedActionCmd(g *globals, use, short, done string) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   use + " --from ACCOUNT BOOKING",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("booking", args[0])
			if err != nil {
				return err
			}
			msg := &telemed.MsgBookingAction{Action: "telemed/" + use, Booking: id}
			_, err = g.send(cmd.Context(), tf, msg, func(res *api.TxResult) string {
				if out, ok := eventAttr(res, "telemed_closed", "outcome"); ok {
					p, _ := eventAttr(res, "telemed_closed", "to_provider")
					q, _ := eventAttr(res, "telemed_closed", "to_patient")
					return fmt.Sprintf("booking %d closed (%s): %s to the provider, %s to the patient", id, out, p, q)
				}
				return fmt.Sprintf("booking %d %s", id, done)
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newTelemedResolveCmd(g *globals) *cobra.Command {
	var tf txFlags
	var toProvider, toPatient uint64
	cmd := &cobra.Command{
		Use:   "resolve --from ARBITER_ADMIN BOOKING --to-provider N --to-patient M",
		Short: "Resolve a disputed booking (an admin of its arbiter organization): split the escrow; the parts must sum to it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("booking", args[0])
			if err != nil {
				return err
			}
			_, err = g.send(cmd.Context(), tf, &telemed.MsgResolve{Booking: id, ToProvider: toProvider, ToPatient: toPatient}, func(*api.TxResult) string {
				return fmt.Sprintf("booking %d resolved: %d to the provider, %d to the patient", id, toProvider, toPatient)
			})
			return err
		},
	}
	cmd.Flags().Uint64Var(&toProvider, "to-provider", 0, "the provider's part")
	cmd.Flags().Uint64Var(&toPatient, "to-patient", 0, "the patient's part")
	tf.add(cmd)
	return cmd
}

func newTelemedListCmd(g *globals) *cobra.Command {
	var provider, bookings, disputes string
	var all bool
	cmd := &cobra.Command{
		Use:   "list [--provider P] [--all] | list --bookings ACCOUNT | list --disputes ORG",
		Short: "List offers (public), an account's bookings or an arbiter's open disputes (signed reads)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			names := g.localNames()
			switch {
			case bookings != "" || disputes != "":
				var path, as string
				if bookings != "" {
					a, err := g.account(bookings)
					if err != nil {
						return fmt.Errorf("--bookings: %w", err)
					}
					path, as = "/v1/accounts/"+a.String()+"/bookings", bookings
				} else {
					path = "/v1/orgs/" + disputes + "/disputes"
				}
				var out struct {
					Bookings []api.BookingView `json:"bookings"`
					Disputes []api.BookingView `json:"disputes"`
				}
				if done, err := g.getSigned(ctx, as, path, &out); done || err != nil {
					return err
				}
				return printBookings(g, names, append(out.Bookings, out.Disputes...))
			}
			path := "/v1/telemed/offers"
			sep := "?"
			if provider != "" {
				a, err := g.account(provider)
				if err != nil {
					return fmt.Errorf("--provider: %w", err)
				}
				path += "?provider=" + a.String()
				sep = "&"
			}
			if all {
				path += sep + "all=true"
			}
			var out struct {
				Offers []api.OfferView `json:"offers"`
			}
			if done, err := g.get(ctx, path, &out); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "OFFER\tPROVIDER\tORG\tSERVICE\tPRICE\tDURATION\tARBITER\tSTATE")
			for _, o := range out.Offers {
				state := "open"
				if o.Withdrawn != 0 {
					state = "withdrawn"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", o.ID, label(names, o.Provider), o.Org, o.Service, o.Price,
					time.Duration(o.Duration)*time.Second, o.Arbiter, state)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&provider, "provider", "", "only this provider's offers")
	f.BoolVar(&all, "all", false, "include withdrawn offers")
	f.StringVar(&bookings, "bookings", "", "list the bookings of this patient or provider (signed with --from, else that key)")
	f.StringVar(&disputes, "disputes", "", "list the open disputes this organization arbitrates (signed by its admin, --from)")
	cmd.MarkFlagsMutuallyExclusive("bookings", "disputes", "provider")
	return cmd
}

func printBookings(g *globals, names map[string]string, bs []api.BookingView) error {
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BOOKING\tOFFER\tPATIENT\tPROVIDER\tSTART\tPRICE\tHELD\tSTATE\tOUTCOME")
	for _, b := range bs {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", b.ID, b.Offer, label(names, b.Patient), label(names, b.Provider),
			time.Unix(b.Start, 0).UTC().Format(time.RFC3339), b.Price, b.Held, b.State, b.Outcome)
	}
	return tw.Flush()
}

func newTelemedShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show --from ACCOUNT BOOKING",
		Short: "Show a booking and its escrow (a signed read by a party or the arbiter's admin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("booking", args[0])
			if err != nil {
				return err
			}
			var b api.BookingView
			if done, err := g.getSigned(cmd.Context(), "", "/v1/telemed/bookings/"+strconv.FormatUint(id, 10), &b); done || err != nil {
				return err
			}
			names := g.localNames()
			w := g.env.Stdout
			ts := func(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }
			fmt.Fprintf(w, "booking %d of offer %d: %s\n", b.ID, b.Offer, b.State)
			fmt.Fprintf(w, "patient   %s\nprovider  %s\narbiter   %s\n", label(names, b.Patient), label(names, b.Provider), b.Arbiter)
			fmt.Fprintf(w, "slot      %s to %s\n", ts(b.Start), ts(b.End))
			fmt.Fprintf(w, "escrow    %s holds %d of %d\n", b.Escrow, b.Held, b.Price)
			fmt.Fprintf(w, "patient may cancel until %s; may reclaim a provider no-show from %s\n", ts(b.CancelBy), ts(b.ReclaimAt))
			if b.ReleaseAt != 0 {
				fmt.Fprintf(w, "released to the provider at %s unless confirmed or disputed\n", ts(b.ReleaseAt))
			}
			if b.DisputedBy != "" {
				fmt.Fprintf(w, "disputed by %s\n", label(names, b.DisputedBy))
			}
			if b.Closed != 0 {
				fmt.Fprintf(w, "closed %s (%s): %d to the provider, %d to the patient\n", ts(b.Closed), b.Outcome, b.ToProvider, b.ToPatient)
			}
			return nil
		},
	}
}

// sendForID is send for a transaction that creates something: the
// transaction's report goes to stderr and the new id (attribute key of the
// event typ) alone to stdout, for scripts; with --json, the result as send
// prints it.
func (g *globals) sendForID(cmd *cobra.Command, tf txFlags, msg sm.Msg, typ, key string, outcome func(*api.TxResult) string) error {
	if g.json {
		_, err := g.send(cmd.Context(), tf, msg, outcome)
		return err
	}
	out := g.env.Stdout
	g.env.Stdout = g.env.Stderr
	res, err := g.send(cmd.Context(), tf, msg, outcome)
	g.env.Stdout = out
	if err != nil {
		return err
	}
	id, _ := eventAttr(res, typ, key)
	_, err = fmt.Fprintln(out, id)
	return err
}
