package bank

import (
	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
)

// TypeSend is the message type of a transfer.
const TypeSend = "bank/send"

// MsgSend moves Amount of the signer's tokens to the account To.
type MsgSend struct {
	To     crypto.Address
	Amount uint64
}

func (m *MsgSend) Type() string { return TypeSend }
func (m *MsgSend) Encode(w *codec.Writer) {
	w.Fixed(m.To[:])
	w.Uint(m.Amount)
}

func (m *MsgSend) ValidateBasic() error {
	if m.Amount == 0 {
		return sm.Wrapf(ErrAmount, "amount must be positive")
	}
	if m.To == (crypto.Address{}) {
		return sm.Wrapf(ErrNoAccount, "recipient missing")
	}
	return nil
}

func decodeSend(b []byte) (sm.Msg, error) {
	return sm.DecodeMsg(b, func(r *codec.Reader) *MsgSend {
		return &MsgSend{To: sm.ReadAddress(r, "to"), Amount: r.Uint("amount")}
	})
}
