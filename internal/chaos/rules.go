package chaos

import (
	"fmt"
	"strings"
)

// Rule drops packets from node From to node To: all of them (Percent 100, a
// cut link) or a random Percent of them (packet loss). A rule is one way;
// a partition is a rule in each direction.
type Rule struct {
	From, To int
	Percent  int
}

// nftScript is the nftables script that replaces the hub bridge's table
// "chaos" with one dropping what rules say, between the nodes at ips. The
// table is created empty first so that the delete never fails.
func nftScript(ips []string, rules []Rule) (string, error) {
	var b strings.Builder
	b.WriteString("table bridge chaos\ndelete table bridge chaos\ntable bridge chaos {\n")
	b.WriteString("  chain forward {\n    type filter hook forward priority 0; policy accept;\n")
	for _, r := range rules {
		if r.From < 0 || r.From >= len(ips) || r.To < 0 || r.To >= len(ips) || r.From == r.To || r.Percent <= 0 || r.Percent > 100 {
			return "", fmt.Errorf("chaos: bad rule %+v for %d nodes", r, len(ips))
		}
		match := fmt.Sprintf("ip saddr %s ip daddr %s", ips[r.From], ips[r.To])
		if r.Percent == 100 {
			fmt.Fprintf(&b, "    %s drop\n", match)
		} else {
			fmt.Fprintf(&b, "    %s numgen random mod 100 < %d drop\n", match, r.Percent)
		}
	}
	b.WriteString("  }\n}\n")
	return b.String(), nil
}
