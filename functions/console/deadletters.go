package console

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// deadLetter is one entry of `<fn>.dlq.list`.
type deadLetter struct {
	// Seq is the entry's sequence in the DEADLETTER stream; replay takes it.
	Seq        uint64          `json:"seq"`
	Handler    string          `json:"handler"`
	Consumer   string          `json:"consumer"`
	Subject    string          `json:"subject"`
	Stream     string          `json:"stream"`
	StreamSeq  uint64          `json:"stream_seq"`
	Deliveries int             `json:"deliveries"`
	Reason     string          `json:"reason"`
	Time       time.Time       `json:"time"`
	Data       json.RawMessage `json:"data"`
}

// deadLetterList are one function's dead letters.
type deadLetterList struct {
	Function string `json:"function"`
	// Count is how many there are; Entries lists the oldest of them.
	Count   int          `json:"count"`
	Entries []deadLetter `json:"entries"`
	// Problem says why they could not be listed.
	Problem string `json:"problem,omitempty"`
}

// replayed is the reply of `<fn>.dlq.replay`.
type replayed struct {
	Function string   `json:"function"`
	Replayed []uint64 `json:"replayed"`
}

func (c *Console) deadLetters(ctx context.Context, fn string) (deadLetterList, error) {
	d := deadLetterList{Function: fn}
	if !fnName.MatchString(fn) {
		return d, errorf(http.StatusBadRequest, "%q is not a function name", fn)
	}
	err := c.call(ctx, fn+".dlq.list", struct{}{}, &d)
	d.Function = fn
	return d, err
}

func (c *Console) replay(ctx context.Context, fn string, seq uint64) (replayed, error) {
	r := replayed{Function: fn}
	if !fnName.MatchString(fn) {
		return r, errorf(http.StatusBadRequest, "%q is not a function name", fn)
	}
	if seq == 0 {
		return r, errorf(http.StatusBadRequest, "give the dead letter's seq")
	}
	err := c.call(ctx, fn+".dlq.replay", struct {
		Seq uint64 `json:"seq"`
	}{seq}, &r)
	r.Function = fn
	return r, err
}
