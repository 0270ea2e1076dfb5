package cli

import (
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
)

// NewOrgCmd builds `medchain org`: the consortium's organizations.
func NewOrgCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "org",
		Short: "List the consortium's organizations, show one with its members",
	}
	cmd.AddCommand(newOrgListCmd(g), newOrgShowCmd(g))
	return cmd
}

func newOrgListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the organizations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Orgs []api.OrgView `json:"orgs"`
			}
			if done, err := g.get(cmd.Context(), "/v1/orgs", &out); done || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tMEMBER\tJOINED\tNAME")
			for _, o := range out.Orgs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.ID, o.Type, yesNo(o.Member), o.Joined.UTC().Format(time.DateOnly), o.Name)
			}
			return tw.Flush()
		},
	}
}

func newOrgShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an organization and its member accounts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o api.OrgView
			done, err := g.get(cmd.Context(), "/v1/orgs/"+url.PathEscape(args[0]), &o)
			if client.IsNotFound(err) {
				return fmt.Errorf("no organization %q (see: medchain org list)", args[0])
			}
			if done || err != nil {
				return err
			}
			w := g.env.Stdout
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "id:\t%s\n", o.ID)
			fmt.Fprintf(tw, "name:\t%s\n", o.Name)
			fmt.Fprintf(tw, "type:\t%s\n", o.Type)
			fmt.Fprintf(tw, "member:\t%s\n", yesNo(o.Member))
			fmt.Fprintf(tw, "joined:\t%s\n", o.Joined.UTC().Format(time.RFC3339))
			tw.Flush()
			fmt.Fprintf(w, "members (%d):\n", len(o.Members))
			names := g.localNames()
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, m := range o.Members {
				active := "active"
				if !m.Active {
					active = "deactivated"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", label(names, m.Address), m.Role, active)
			}
			return tw.Flush()
		},
	}
}
