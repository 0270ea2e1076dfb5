package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/testnet"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/gov"
)

// TestGovernanceValidatorChange: a full node's consensus key, added as a
// validator by a governance proposal that five of the seven organizations
// approve, enters the state's and CometBFT's validator sets and signs
// blocks; removed by a second proposal, it leaves both and signs no more.
func TestGovernanceValidatorChange(t *testing.T) {
	needNetwork(t)
	nw := testnet.Start(t, testnet.Options{Validators: 4, FullNodes: 1})
	ctx := within(t, 3*time.Minute)
	full, observer := nw.Nodes[4], nw.Nodes[0]
	val, err := full.ValidatorKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := votingPower(ctx, full, 0); err != nil {
		t.Fatalf("before the proposal: %v", err)
	}

	added := passProposal(t, ctx, nw, gov.Action{Kind: gov.KindAddValidator, Validator: val.PubKey, Power: 10, OrgID: "dev-hospital"})
	if err := testnet.Poll(within(t, 10*time.Second), 100*time.Millisecond, func() error { return inStateValidators(ctx, observer, val.Address, true) }); err != nil {
		t.Error(err)
	}
	// A validator update of block H applies from block H+2.
	if err := testnet.Poll(within(t, 30*time.Second), 100*time.Millisecond, func() error { return votingPower(ctx, full, 10) }); err != nil {
		t.Fatalf("after the add_validator proposal passed at height %d: %v", added, err)
	}
	if err := waitSigned(ctx, observer, val.Address, added+2, 30); err != nil {
		t.Fatal(err)
	}
	if c, err := observer.Commit(ctx, added+2); err != nil {
		t.Fatal(err)
	} else if c.Validators != 5 {
		t.Errorf("commit of height %d lists %d validators, want 5", added+2, c.Validators)
	}

	removed := passProposal(t, ctx, nw, gov.Action{Kind: gov.KindRemoveValidator, Validator: val.PubKey})
	if err := testnet.Poll(within(t, 10*time.Second), 100*time.Millisecond, func() error { return inStateValidators(ctx, observer, val.Address, false) }); err != nil {
		t.Error(err)
	}
	if err := testnet.Poll(within(t, 30*time.Second), 100*time.Millisecond, func() error { return votingPower(ctx, full, 0) }); err != nil {
		t.Fatalf("after the remove_validator proposal passed at height %d: %v", removed, err)
	}
	for h := removed + 2; h < removed+7; h++ {
		if err := testnet.WaitHeight(within(t, 30*time.Second), h+1, observer); err != nil {
			t.Fatalf("the chain stalled after the validator left: %v", err)
		}
		c, err := observer.Commit(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if c.Signed(val.Address) || c.Validators != 4 {
			t.Errorf("commit of height %d: %d validators, signed by the removed one: %v", h, c.Validators, c.Signed(val.Address))
		}
	}
}

// orgAdmins are the development admins who vote, the proposer first: five
// of seven organizations, the two thirds a proposal needs.
var orgAdmins = []string{"hospital-admin", "lab-admin", "pharmacy-admin", "manufacturer-admin", "distributor-admin"}

// passProposal has the first admin propose the action and the next four
// approve it, each through a different node, and returns the height of the
// block in which the last vote passed and executed it.
func passProposal(t *testing.T, ctx context.Context, nw *testnet.Network, action gov.Action) int64 {
	t.Helper()
	var id uint64
	var last *api.TxResult
	var lastNode *testnet.Node
	for i, name := range orgAdmins {
		var msg sm.Msg = &gov.MsgVote{ProposalID: id, Approve: true}
		if i == 0 {
			msg = &gov.MsgPropose{Action: action, Reason: "e2e: " + action.Kind}
		}
		n := nw.Nodes[i%len(nw.Nodes)]
		res, err := n.Client().Send(ctx, nw.Key(t, name), msg)
		if err == nil {
			err = committedOK(res)
		}
		if err != nil {
			t.Fatalf("%s (%T) through %s: %v", name, msg, n.Name, err)
		}
		if i == 0 {
			v, ok := eventAttr(res, "proposal_created", "id")
			if id, err = strconv.ParseUint(v, 10, 64); !ok || err != nil {
				t.Fatalf("proposal result has no proposal_created id: %+v", res.Events)
			}
		}
		last, lastNode = res, n
	}
	if status, _ := eventAttr(last, "proposal_closed", "status"); status != gov.StatusPassed {
		result, _ := eventAttr(last, "proposal_closed", "result")
		t.Fatalf("proposal %d (%s) after %d approvals: status %q %s", id, action.Kind, len(orgAdmins)-1, status, result)
	}
	var p api.ProposalView // from the node that reported the deciding vote committed
	if err := lastNode.Client().Get(ctx, fmt.Sprintf("/v1/proposals/%d", id), &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != gov.StatusPassed {
		t.Fatalf("GET /v1/proposals/%d: status %q (%s), want passed", id, p.Status, p.Result)
	}
	return last.Height
}

// eventAttr finds an attribute of the first event of a type.
func eventAttr(res *api.TxResult, typ, key string) (string, bool) {
	for _, e := range res.Events {
		if e.Type == typ {
			v, ok := e.Attrs[key]
			return v, ok
		}
	}
	return "", false
}

// votingPower checks the voting power CometBFT gives node n.
func votingPower(ctx context.Context, n *testnet.Node, want int64) error {
	st, err := n.Status(ctx)
	if err != nil {
		return err
	}
	if st.VotingPower != want {
		return fmt.Errorf("%s has voting power %d at height %d, want %d", n.Name, st.VotingPower, st.Height, want)
	}
	return nil
}

// inStateValidators checks whether the state's validator set (GET
// /v1/validators) lists the address.
func inStateValidators(ctx context.Context, n *testnet.Node, addr string, want bool) error {
	var vs struct {
		Height     int64               `json:"height"`
		Validators []api.ValidatorView `json:"validators"`
	}
	if err := n.Client().Get(ctx, "/v1/validators", &vs); err != nil {
		return err
	}
	found := false
	for _, v := range vs.Validators {
		if strings.EqualFold(v.Address, addr) {
			found = true
			if v.Power != 10 || v.Org != "dev-hospital" {
				return fmt.Errorf("%s: validator %s has power %d and org %q, want 10 and dev-hospital", n.Name, addr, v.Power, v.Org)
			}
		}
	}
	if found != want {
		return fmt.Errorf("%s: /v1/validators at height %d lists %s: %v, want %v", n.Name, vs.Height, addr, found, want)
	}
	return nil
}
