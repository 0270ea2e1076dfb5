package cli

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/lightproof"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
)

// NewBankCmd builds `medchain bank`: token transfers, balances and the
// supply (x/bank, docs/token.md).
func NewBankCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "bank", Short: "The native token: transfers, balances (with proofs) and the supply"}
	cmd.AddCommand(newBankSendCmd(g), newBankBalanceCmd(g), newBankSupplyCmd(g))
	return cmd
}

func newBankSendCmd(g *globals) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "send --from KEY TO AMOUNT",
		Short: "Send tokens (in the smallest unit) to a registered account",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			to, err := g.account(args[0])
			if err != nil {
				return err
			}
			amount, err := strconv.ParseUint(args[1], 10, 64)
			if err != nil || amount == 0 {
				return fmt.Errorf("amount %q: want a positive whole number of the smallest unit", args[1])
			}
			_, err = g.send(cmd.Context(), tf, &bank.MsgSend{To: to, Amount: amount}, func(*api.TxResult) string {
				return fmt.Sprintf("sent %d to %s", amount, to)
			})
			return err
		},
	}
	tf.add(cmd)
	return cmd
}

func newBankBalanceCmd(g *globals) *cobra.Command {
	var prove bool
	cmd := &cobra.Command{
		Use:   "balance ACCOUNT [--prove]",
		Short: "Show the balance of an account (address or key name) or module pool",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := g.account(args[0])
			if err != nil {
				return err
			}
			path := "/v1/bank/balances/" + addr.String()
			if prove {
				path += "?prove=true"
			}
			var v api.BalanceView
			raw, err := g.fetch(cmd.Context(), path)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			var at int64
			if prove {
				if at, err = verifyBalance(cmd.Context(), g.client(), addr, &v); err != nil {
					return fmt.Errorf("proof of the balance of %s: %w", addr, err)
				}
			}
			if g.json {
				return g.printRaw(raw)
			}
			kind := "account"
			if !v.Account {
				kind = "module pool"
			}
			fmt.Fprintf(g.env.Stdout, "%s (%s): %d at height %d\n", label(g.localNames(), v.Address), kind, v.Balance, v.Height)
			if at > 0 {
				fmt.Fprintf(g.env.Stdout, "proof: verified against the app hash in block %d\n", at)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&prove, "prove", false, "fetch and check proofs of the balance against the chain's app hash")
	return cmd
}

func newBankSupplyCmd(g *globals) *cobra.Command {
	var prove bool
	cmd := &cobra.Command{
		Use:   "supply [--prove]",
		Short: "Show the token supply (genesis supply plus minted less burned)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/v1/bank/supply"
			if prove {
				path += "?prove=true"
			}
			raw, err := g.fetch(cmd.Context(), path)
			if err != nil {
				return err
			}
			var v api.SupplyView
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			var at int64
			if prove {
				if v.Proof == nil || !v.Proof.Exists || len(v.Proof.Value) != 8 || binary.BigEndian.Uint64(v.Proof.Value) != v.Supply {
					return errors.New("proof of the supply: the node sent no proof of the supply it showed")
				}
				if at, err = proveAtNextHeader(cmd.Context(), g.client(), v.Proof, bank.SupplyKey()); err != nil {
					return fmt.Errorf("proof of the supply: %w", err)
				}
			}
			if g.json {
				return g.printRaw(raw)
			}
			fmt.Fprintf(g.env.Stdout, "supply %d at height %d\n", v.Supply, v.Height)
			if at > 0 {
				fmt.Fprintf(g.env.Stdout, "proof: verified against the app hash in block %d\n", at)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&prove, "prove", false, "fetch and check a proof of the supply against the chain's app hash")
	return cmd
}

// verifyBalance checks the proofs of a balance: the account's membership
// with that balance, or the account's absence and the pool's value.
func verifyBalance(ctx context.Context, c *client.Client, addr crypto.Address, v *api.BalanceView) (int64, error) {
	if v.Proof == nil {
		return 0, errors.New("the node sent no proof")
	}
	at, err := proveAtNextHeader(ctx, c, v.Proof, accounts.AccountKey(addr))
	if err != nil {
		return 0, err
	}
	if v.Account {
		if !v.Proof.Exists {
			return 0, errors.New("the proof is not a membership proof of the account")
		}
		a, err := accounts.DecodeAccount(v.Proof.Value)
		if err != nil {
			return 0, fmt.Errorf("proven value: %w", err)
		}
		if a.Address != addr || a.Balance != v.Balance {
			return 0, errors.New("the proven account's balance differs from the balance the node showed")
		}
		return at, nil
	}
	if v.Proof.Exists || v.PoolProof == nil {
		return 0, errors.New("the node sent no proof of the pool")
	}
	if _, err := proveAtNextHeader(ctx, c, v.PoolProof, bank.PoolKey(addr)); err != nil {
		return 0, err
	}
	var got uint64
	if v.PoolProof.Exists {
		if len(v.PoolProof.Value) != 8 {
			return 0, errors.New("proven pool value is not 8 bytes")
		}
		got = binary.BigEndian.Uint64(v.PoolProof.Value)
	}
	if got != v.Balance {
		return 0, errors.New("the proven pool balance differs from the balance the node showed")
	}
	return at, nil
}

// proveAtNextHeader checks p (of key, at height H) against the app hash in
// the header of block H+1, and returns H+1.
func proveAtNextHeader(ctx context.Context, c *client.Client, p *api.Proof, key []byte) (int64, error) {
	next := p.Height + 1
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := c.WaitHeight(wctx, next); err != nil {
		return 0, err
	}
	var b api.Block
	if err := c.Get(ctx, "/v1/blocks/"+strconv.FormatInt(next, 10), &b); err != nil {
		return 0, err
	}
	root, err := hex.DecodeString(b.AppHash)
	if err != nil {
		return 0, fmt.Errorf("block %d app hash: %w", next, err)
	}
	var want []byte
	if p.Exists {
		want = p.Value
	}
	if err := lightproof.VerifyAgainstHeader(root, p, key, want); err != nil {
		return 0, err
	}
	return next, nil
}
