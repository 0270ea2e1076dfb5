package sm

import (
	"fmt"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
)

// Limits of the transaction format.
const (
	MaxTxBytes     = 64 << 10 // a whole encoded transaction
	MaxChainIDLen  = 50
	MaxTypeLen     = 64
	TxFormatV1     = 0x01
	signDomainV1   = "medchain/tx/v1"
	hashDomainBody = "medchain/txbody/v1"
)

// Body is the signed part of a transaction.
type Body struct {
	ChainID  string
	Signer   crypto.PubKey
	Sequence uint64
	Fee      uint64
	Type     string // message type, "module/action"
	Msg      []byte // canonical encoding of the message
	// FeePayer, when not zero, is the account that pays the fee under a fee
	// allowance it granted the signer (x/fees). It is encoded only when set,
	// after Msg, so bodies without a sponsor keep their bytes.
	FeePayer crypto.Address
}

func (b Body) Encode(w *codec.Writer) {
	w.String(b.ChainID)
	w.Fixed(b.Signer[:])
	w.Uint(b.Sequence)
	w.Uint(b.Fee)
	w.String(b.Type)
	w.Blob(b.Msg)
	if b.FeePayer != (crypto.Address{}) {
		w.Fixed(b.FeePayer[:])
	}
}

// Tx is a decoded transaction.
type Tx struct {
	Body      Body
	BodyBytes []byte // exactly as signed
	Sig       []byte
}

// Signer is the address of the signing key.
func (t *Tx) Signer() crypto.Address { return t.Body.Signer.Address() }

// SignBytes are the bytes an Ed25519 signature covers: a domain tag that no
// other medchain message starts with, a zero byte, then the body (which
// begins with the chain id, so a signature is only valid on one chain).
func SignBytes(body []byte) []byte {
	out := make([]byte, 0, len(signDomainV1)+1+len(body))
	out = append(out, signDomainV1...)
	out = append(out, 0)
	return append(out, body...)
}

// EncodeTx assembles the wire form: version byte, body (length-prefixed), signature.
func EncodeTx(body []byte, sig []byte) []byte {
	w := codec.NewWriter(len(body) + 80)
	w.Fixed([]byte{TxFormatV1})
	w.Blob(body)
	w.Fixed(sig)
	return w.Bytes()
}

// SignTx builds and signs a transaction.
func SignTx(key *crypto.PrivKey, chainID string, seq, fee uint64, msg Msg) []byte {
	return SignTxPaidBy(key, chainID, seq, fee, crypto.Address{}, msg)
}

// SignTxPaidBy builds and signs a transaction whose fee payer (zero: none)
// pays its fee under a fee allowance.
func SignTxPaidBy(key *crypto.PrivKey, chainID string, seq, fee uint64, payer crypto.Address, msg Msg) []byte {
	body := codec.Marshal(Body{
		ChainID: chainID, Signer: key.PubKey(), Sequence: seq, Fee: fee,
		Type: msg.Type(), Msg: codec.Marshal(msg), FeePayer: payer,
	})
	return EncodeTx(body, key.Sign(SignBytes(body)))
}

// DecodeTx strictly decodes a transaction. It checks the format only; the
// signature, chain id and sequence are checked by the caller.
func DecodeTx(b []byte) (*Tx, error) {
	if len(b) > MaxTxBytes {
		return nil, Wrapf(ErrTxTooLarge, "%d bytes, limit %d", len(b), MaxTxBytes)
	}
	r := codec.NewReader(b)
	v := r.Fixed("version", 1)
	if r.Err() == nil && v[0] != TxFormatV1 {
		return nil, Wrapf(ErrTxDecode, "unknown format version %d", v[0])
	}
	bodyBytes := r.Blob("body", MaxTxBytes)
	sig := r.Fixed("signature", crypto.SignatureSize)
	if err := r.Done(); err != nil {
		return nil, Wrapf(ErrTxDecode, "%v", err)
	}
	body, err := DecodeBody(bodyBytes)
	if err != nil {
		return nil, err
	}
	return &Tx{Body: body, BodyBytes: bodyBytes, Sig: sig}, nil
}

// DecodeBody strictly decodes a transaction body.
func DecodeBody(b []byte) (Body, error) {
	r := codec.NewReader(b)
	var body Body
	body.ChainID = r.String("chain_id", MaxChainIDLen)
	r.Into("signer", body.Signer[:])
	body.Sequence = r.Uint("sequence")
	body.Fee = r.Uint("fee")
	body.Type = r.String("type", MaxTypeLen)
	body.Msg = r.Blob("msg", MaxTxBytes)
	if r.Err() == nil && r.Remaining() > 0 {
		r.Into("fee_payer", body.FeePayer[:])
		if r.Err() == nil && body.FeePayer == (crypto.Address{}) {
			return Body{}, Wrapf(ErrTxDecode, "body: fee_payer: a zero fee payer is written as no fee payer")
		}
	}
	if err := r.Done(); err != nil {
		return Body{}, Wrapf(ErrTxDecode, "body: %v", err)
	}
	return body, nil
}

// TxHash is the SHA-256 of the whole encoded transaction, as CometBFT hashes it.
func TxHash(tx []byte) [32]byte { return codec.Hash(tx) }

func (t *Tx) String() string {
	return fmt.Sprintf("tx{%s seq=%d type=%s}", t.Signer(), t.Body.Sequence, t.Body.Type)
}
