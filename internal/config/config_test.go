package config

import (
	"strings"
	"testing"
)

// TestDefaultValidates: the documented defaults are a valid configuration,
// with loopback exempt from rate limits and TLS off.
func TestDefaultValidates(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ps, err := c.API.RateLimit.Prefixes()
	if err != nil || len(ps) != 2 || ps[0].String() != "127.0.0.0/8" {
		t.Fatalf("exempt prefixes %v, %v", ps, err)
	}
	if c.API.TLS.Enabled() {
		t.Fatal("TLS on by default")
	}
}

func TestRateLimitValidation(t *testing.T) {
	tests := []struct {
		name string
		edit func(*RateLimit)
		want string
	}{
		{"negative rate", func(r *RateLimit) { r.PerKey = -1 }, "must not be negative"},
		{"zero burst", func(r *RateLimit) { r.PerAddressBurst = 0 }, "burst"},
		{"bad prefix", func(r *RateLimit) { r.Exempt = []string{"localhost"} }, "not a CIDR"},
		{"negative tracking", func(r *RateLimit) { r.MaxTracked = -1 }, "max_tracked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(&c.API.RateLimit)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error about %q", err, tc.want)
			}
		})
	}
	c := Default()
	c.API.RateLimit.PerAddress, c.API.RateLimit.PerAddressBurst = 0, 0 // off
	if err := c.Validate(); err != nil {
		t.Fatalf("a limit turned off: %v", err)
	}
}

// state.block_cache_bytes (0 sizes the cache from the machine) and
// state.read_cache_bytes (0 is the default): a size is at least 8 MiB; a
// negative one is refused (neither cache is turned off from the config).
func TestStateCacheSizesValidation(t *testing.T) {
	for name, field := range map[string]func(*Config) *int64{
		"state.block_cache_bytes": func(c *Config) *int64 { return &c.State.BlockCacheBytes },
		"state.read_cache_bytes":  func(c *Config) *int64 { return &c.State.ReadCacheBytes },
	} {
		for v, ok := range map[int64]bool{0: true, 8 << 20: true, 1 << 30: true, 1 << 20: false, -1: false} {
			c := Default()
			*field(&c) = v
			err := c.Validate()
			if ok && err != nil {
				t.Errorf("%s %d: %v", name, v, err)
			}
			if !ok && (err == nil || !strings.Contains(err.Error(), name)) {
				t.Errorf("%s %d: %v, want an error about %s", name, v, err, name)
			}
		}
	}
}
