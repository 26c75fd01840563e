package fntest

import (
	"bytes"
	"fmt"
	"testing"
)

// TestLogTailKeepsTheLastLines: after three times its size in lines, a
// logTail holds at most logTailBytes, starting at a line's start and
// ending with the last line written.
func TestLogTailKeepsTheLastLines(t *testing.T) {
	var l logTail
	n, written := 0, 0
	for written < 3*logTailBytes {
		k, _ := fmt.Fprintf(&l, "line %d\n", n)
		n, written = n+1, written+k
		if len(l.buf) > 2*logTailBytes {
			t.Fatalf("the tail grew to %d bytes", len(l.buf))
		}
	}
	b := l.bytes()
	if len(b) > logTailBytes {
		t.Fatalf("%d bytes, want at most %d", len(b), logTailBytes)
	}
	if !bytes.HasPrefix(b, []byte("line ")) {
		t.Fatalf("does not start at a line: %q", b[:20])
	}
	if want := fmt.Sprintf("line %d\n", n-1); !bytes.HasSuffix(b, []byte(want)) {
		t.Fatalf("does not end with %q: %q", want, b[len(b)-20:])
	}
	if len(b) < logTailBytes/2 {
		t.Fatalf("only %d bytes kept", len(b))
	}
}
