package hl7

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// MLLP block characters.
const (
	StartBlock = 0x0b
	EndBlock   = 0x1c
	CR         = 0x0d
)

// ErrFrame is a byte stream that is not MLLP.
var ErrFrame = errors.New("mllp: not a frame")

// Frame wraps a message for MLLP: <VT> message <FS><CR>.
func Frame(msg []byte) []byte {
	out := make([]byte, 0, len(msg)+3)
	out = append(out, StartBlock)
	out = append(out, msg...)
	return append(out, EndBlock, CR)
}

// ReadFrame reads one MLLP frame, skipping bytes between frames (some
// senders put a newline after the trailing CR). It returns io.EOF at a
// clean end of stream.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	for {
		c, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == StartBlock {
			break
		}
		if c != '\r' && c != '\n' && c != ' ' {
			return nil, fmt.Errorf("%w: byte 0x%02x outside a frame", ErrFrame, c)
		}
	}
	var buf bytes.Buffer
	for {
		chunk, err := r.ReadSlice(EndBlock)
		if buf.Len()+len(chunk) > max+1 {
			return nil, fmt.Errorf("%w: larger than %d bytes", ErrFrame, max)
		}
		buf.Write(chunk)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		break
	}
	c, err := r.ReadByte()
	if err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	if c != CR {
		return nil, fmt.Errorf("%w: end block not followed by CR", ErrFrame)
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil
}

// Handler answers one message with its acknowledgment.
type Handler interface {
	Handle(ctx context.Context, raw []byte) []byte
}

// Server accepts MLLP connections and answers each frame with the
// handler's acknowledgment, one message at a time per connection (the
// sender waits for the ACK before the next, which keeps order).
type Server struct {
	Handler     Handler
	Log         *slog.Logger
	IdleTimeout time.Duration // a connection silent this long is closed; default 5 min
	MaxBytes    int           // default MaxMessageBytes

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// Serve accepts connections on l until ctx ends, then closes them and
// waits for their handlers.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = 5 * time.Minute
	}
	if s.MaxBytes <= 0 {
		s.MaxBytes = MaxMessageBytes
	}
	s.mu.Lock()
	s.conns = map[net.Conn]bool{}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		l.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			s.wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serveConn(ctx, c)
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	for ctx.Err() == nil {
		_ = c.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		msg, err := ReadFrame(r, s.MaxBytes)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				s.Log.Warn("mllp connection closed", "remote", c.RemoteAddr().String(), "err", err)
			}
			return
		}
		ack := s.Handler.Handle(ctx, msg)
		_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write(Frame(ack)); err != nil {
			s.Log.Warn("mllp: could not send the ACK", "remote", c.RemoteAddr().String(), "err", err)
			return
		}
	}
}

// Send sends one message over an MLLP connection and returns the
// acknowledgment (a client, for tests and for `medchain hl7 send`).
func Send(c net.Conn, r *bufio.Reader, msg []byte) ([]byte, error) {
	if _, err := c.Write(Frame(msg)); err != nil {
		return nil, err
	}
	return ReadFrame(r, MaxMessageBytes)
}
