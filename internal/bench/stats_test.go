package bench

import (
	"math"
	"slices"
	"testing"
	"time"
)

func msList(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{name: "no values", sorted: nil, q: 0.5, want: 0},
		{name: "one value, any quantile", sorted: msList(7), q: 0.99, want: 7 * time.Millisecond},
		{name: "median of four is the second", sorted: msList(1, 2, 3, 4), q: 0.5, want: 2 * time.Millisecond},
		{name: "p0 is the minimum", sorted: msList(1, 2, 3), q: 0, want: time.Millisecond},
		{name: "p100 is the maximum", sorted: msList(1, 2, 3), q: 1, want: 3 * time.Millisecond},
		{name: "p95 of 1..100", sorted: hundred, q: 0.95, want: 95 * time.Millisecond},
		{name: "p99 of 1..100", sorted: hundred, q: 0.99, want: 99 * time.Millisecond},
		{name: "p99 of ten is the maximum", sorted: msList(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), q: 0.99, want: 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.q); got != tc.want {
				t.Fatalf("Percentile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	lat := msList(30, 10, 20, 40)
	s := Summarize(lat)
	want := Latency{Count: 4, Mean: 25, P50: 20, P95: 40, P99: 40, Max: 40}
	if s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	if !slices.IsSorted(lat) {
		t.Fatal("Summarize did not sort its input")
	}
	if (Summarize(nil) != Latency{}) {
		t.Fatal("empty summary not zero")
	}
	if got := Summarize([]time.Duration{1500 * time.Microsecond}); got.P50 != 1.5 {
		t.Fatalf("sub-millisecond precision lost: %v", got.P50)
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    Mix
		wantErr bool
	}{
		{name: "default", in: DefaultMix, want: Mix{KindRegister: 1, KindGrant: 1, KindRevoke: 1, KindGuardian: 1, KindRecord: 4, KindAudit: 2, KindBook: 1, KindCancel: 1, KindTransfer: 1}},
		{name: "spaces and fractions", in: " record = 2.5 , audit=0.5 ", want: Mix{KindRecord: 2.5, KindAudit: 0.5}},
		{name: "zero weights allowed beside a positive one", in: "record=1,grant=0", want: Mix{KindRecord: 1, KindGrant: 0}},
		{name: "unknown kind", in: "mining=1", wantErr: true},
		{name: "missing weight", in: "record", wantErr: true},
		{name: "negative weight", in: "record=-1", wantErr: true},
		{name: "not a number", in: "record=lots", wantErr: true},
		{name: "NaN", in: "record=NaN", wantErr: true},
		{name: "listed twice", in: "record=1,record=2", wantErr: true},
		{name: "all zero", in: "record=0", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMix(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && !mapsEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func mapsEqual(a, b Mix) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestMixStringRoundTrips(t *testing.T) {
	m, err := ParseMix(DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	if m.String() != DefaultMix {
		t.Fatalf("%q != %q", m.String(), DefaultMix)
	}
}

func TestMixPick(t *testing.T) {
	m := Mix{KindRegister: 1, KindRecord: 3, KindAudit: 0}
	for _, tc := range []struct {
		u    float64
		want Kind
	}{
		{0, KindRegister}, {0.2499, KindRegister}, {0.25, KindRecord}, {0.9999, KindRecord}, {math.Nextafter(1, 0), KindRecord},
	} {
		if got := m.Pick(tc.u); got != tc.want {
			t.Errorf("Pick(%v) = %s, want %s", tc.u, got, tc.want)
		}
	}
	if s := m.Share(KindRecord); s != 0.75 {
		t.Errorf("share %v", s)
	}
}

func TestApportion(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		w    []float64
		want []int
	}{
		{name: "proportional", n: 10, w: []float64{4, 2, 4}, want: []int{4, 2, 4}},
		{name: "every positive weight gets one", n: 3, w: []float64{100, 1, 1}, want: []int{1, 1, 1}},
		{name: "zero weight gets none", n: 5, w: []float64{1, 0, 1}, want: []int{3, 0, 2}},
		{name: "fewer accounts than roles", n: 1, w: []float64{1, 1}, want: []int{1, 0}},
		{name: "nothing to share", n: 0, w: []float64{1}, want: []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := apportion(tc.n, tc.w)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			sum := 0
			for _, x := range got {
				sum += x
			}
			if tc.n > 0 && sum != tc.n {
				t.Fatalf("sum %d != %d", sum, tc.n)
			}
		})
	}
}

func TestParseGauge(t *testing.T) {
	text := "# HELP cometbft_mempool_size x\ncometbft_mempool_size_bytes{chain_id=\"c\"} 99\ncometbft_mempool_size{chain_id=\"c\"} 1234\n"
	if n, ok := parseGauge(text, "cometbft_mempool_size"); !ok || n != 1234 {
		t.Fatalf("got %d %v", n, ok)
	}
	if _, ok := parseGauge("nothing 1\n", "cometbft_mempool_size"); ok {
		t.Fatal("found a gauge that is not there")
	}
}
