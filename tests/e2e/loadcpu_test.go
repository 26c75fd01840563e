package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The parts of the one process the load runs in. Each part's goroutines
// carry the label partKey (see inPart), so a CPU profile of the run splits
// its CPU time between them.
const (
	partKey       = "natsfn.part"
	partServer    = "server"
	partFunctions = "functions"
	partLoad      = "load generator"
	// partOther is CPU no part's label reached: the Go runtime's own
	// goroutines (the GC's background workers) and those timers start.
	partOther = "unattributed"
)

// parts is the order the report lists them in.
var parts = []string{partServer, partFunctions, partLoad, partOther}

// inPart runs f with the label of part; every goroutine f starts, and
// every goroutine those start, inherits it.
func inPart(part string, f func()) {
	pprof.Do(context.Background(), pprof.Labels(partKey, part), func(context.Context) { f() })
}

// partOf names the part a profile sample's labels belong to. nats-server
// replaces the labels of its stream and consumer goroutines with its own
// (account, stream, consumer: server.setGoRoutineLabels), so those count
// as the server's.
func partOf(labels map[string]string) string {
	if p, ok := labels[partKey]; ok {
		return p
	}
	if labels["account"] != "" || labels["stream"] != "" {
		return partServer
	}
	return partOther
}

// cpuProfile is a CPU profile under way.
type cpuProfile struct{ buf bytes.Buffer }

// startCPUProfile starts profiling the process at the default 100 Hz. It
// fails if a profile is already running (go test -cpuprofile).
func startCPUProfile() (*cpuProfile, error) {
	p := &cpuProfile{}
	if err := pprof.StartCPUProfile(&p.buf); err != nil {
		return nil, err
	}
	return p, nil
}

// stop ends the profile and returns its CPU time by part.
func (p *cpuProfile) stop() (map[string]time.Duration, error) {
	pprof.StopCPUProfile()
	samples, err := parseCPUProfile(p.buf.Bytes())
	if err != nil {
		return nil, err
	}
	split := map[string]time.Duration{}
	for _, s := range samples {
		split[partOf(s.labels)] += s.cpu
	}
	return split, nil
}

// profileSample is one sample of a CPU profile: its string labels and the
// CPU time it stands for.
type profileSample struct {
	labels map[string]string
	cpu    time.Duration
}

// parseCPUProfile reads the samples of a gzipped pprof CPU profile (the
// profile.proto fields it needs, with protowire, rather than a dependency
// on github.com/google/pprof for forty lines).
func parseCPUProfile(gz []byte) ([]profileSample, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	type label struct{ key, str int64 }
	type sample struct {
		values []int64
		labels []label
	}
	var (
		strs    []string
		types   []int64 // string index of each sample type's name
		samples []sample
	)
	err = eachField(raw, func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType: // sample_type: ValueType
			return eachField(b, func(num protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
				if num == 1 {
					types = append(types, int64(v))
				}
				return nil
			})
		case num == 2 && typ == protowire.BytesType: // sample
			var s sample
			err := eachField(b, func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
				switch {
				case num == 2 && typ == protowire.VarintType: // value
					s.values = append(s.values, int64(v))
				case num == 2 && typ == protowire.BytesType: // value, packed
					for len(b) > 0 {
						x, n := protowire.ConsumeVarint(b)
						if n < 0 {
							return protowire.ParseError(n)
						}
						s.values, b = append(s.values, int64(x)), b[n:]
					}
				case num == 3 && typ == protowire.BytesType: // label
					var l label
					err := eachField(b, func(num protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
						switch num {
						case 1:
							l.key = int64(v)
						case 2:
							l.str = int64(v)
						}
						return nil
					})
					s.labels = append(s.labels, l)
					return err
				}
				return nil
			})
			samples = append(samples, s)
			return err
		case num == 6 && typ == protowire.BytesType: // string_table
			strs = append(strs, string(b))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	str := func(i int64) string {
		if i < 0 || i >= int64(len(strs)) {
			return ""
		}
		return strs[i]
	}
	cpu := -1
	for i, t := range types {
		if str(t) == "cpu" {
			cpu = i
		}
	}
	if cpu < 0 {
		return nil, errors.New("cpu profile: no sample type named cpu")
	}
	out := make([]profileSample, 0, len(samples))
	for _, s := range samples {
		if cpu >= len(s.values) {
			return nil, errors.New("cpu profile: a sample has no cpu value")
		}
		ps := profileSample{labels: map[string]string{}, cpu: time.Duration(s.values[cpu])}
		for _, l := range s.labels {
			if l.str != 0 {
				ps.labels[str(l.key)] = str(l.str)
			}
		}
		out = append(out, ps)
	}
	return out, nil
}

// eachField calls f with each field of a protobuf message: its number,
// wire type, and its varint (v) or bytes (b) value.
func eachField(msg []byte, f func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		var (
			v uint64
			b []byte
		)
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(msg)
		case protowire.BytesType:
			b, n = protowire.ConsumeBytes(msg)
		default:
			n = protowire.ConsumeFieldValue(num, typ, msg)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		if err := f(num, typ, v, b); err != nil {
			return err
		}
	}
	return nil
}

func TestPartOf(t *testing.T) {
	for _, c := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{partKey: partFunctions}, partFunctions},
		{map[string]string{partKey: partLoad, "stream": "x"}, partLoad},
		{map[string]string{"account": "$G", "stream": "ORDERS", "consumer": "inventory-reserve"}, partServer},
		{map[string]string{"stream": "KV_orders"}, partServer},
		{map[string]string{}, partOther},
		{map[string]string{"other": "y"}, partOther},
	} {
		if got := partOf(c.labels); got != c.want {
			t.Errorf("partOf(%v) = %q, want %q", c.labels, got, c.want)
		}
	}
}

// TestCPUProfileSplit profiles two labelled goroutines, one doing four
// times the other's work, and reads the split back from the profile.
func TestCPUProfileSplit(t *testing.T) {
	before, err := processCPU()
	if err != nil {
		t.Fatal(err)
	}
	p, err := startCPUProfile()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var sink atomic.Uint64
	spin := func(n int) {
		defer wg.Done()
		x := uint64(88172645463325252)
		for range n {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		sink.Add(x)
	}
	wg.Add(2)
	inPart(partFunctions, func() { go spin(400_000_000) })
	inPart(partServer, func() { go spin(100_000_000) })
	wg.Wait()
	split, err := p.stop()
	if err != nil {
		t.Fatal(err)
	}
	after, err := processCPU()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("split %v, getrusage %v", split, after-before)
	fn, srv := split[partFunctions], split[partServer]
	if srv <= 0 || fn < 2*srv {
		t.Fatalf("split %v: want the functions' goroutine at about 4× the server's", split)
	}
	var sum time.Duration
	for _, d := range split {
		sum += d
	}
	// A sample stands for 10 ms; getrusage counts every nanosecond.
	if used := after - before; sum > used+20*time.Millisecond {
		t.Fatalf("profile holds %v of CPU, getrusage says %v were used", sum, used)
	}
}

func TestParseCPUProfileRejectsGarbage(t *testing.T) {
	if _, err := parseCPUProfile([]byte("not gzip")); err == nil {
		t.Fatal("no error for a profile that is not gzip")
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte{0x12, 0x05, 0x01}) // a sample field cut short
	zw.Close()
	if _, err := parseCPUProfile(buf.Bytes()); err == nil {
		t.Fatal("no error for a truncated profile")
	}
}
