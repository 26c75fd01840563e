package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// record is what a key holds: the last message stored under it.
type record struct {
	data []byte
	// rev is the sequence of the key's last message, a tombstone's
	// included; 0 when the key has none. A write conditioned on it is
	// checked by the server against exactly this.
	rev uint64
	// live is false when the key holds no value: never written, deleted,
	// purged or expired.
	live bool
	// id is the Nats-Msg-Id of the write that stored the message.
	id string
}

// recordOf reads a stored message, telling values from tombstones as
// nats.go's KeyValue does.
func recordOf(m *jetstream.RawStreamMsg) record {
	r := record{data: m.Data, rev: m.Sequence, live: true, id: m.Header.Get(nats.MsgIdHdr)}
	switch m.Header.Get(hdrOperation) {
	case opDel, opPurge:
		r.live = false
	}
	if m.Header.Get(hdrMarker) != "" {
		r.live = false
	}
	return r
}

// read returns key's record through a direct get, which any replica that
// is nearly caught up may answer (see the package doc).
func (e *engine) read(ctx context.Context, key string) (record, error) {
	var r record
	err := e.policy.Do(ctx, func(ctx context.Context) error {
		m, err := e.stream.GetLastMsgForSubject(ctx, e.prefix+key)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			r = record{}
			return nil
		case err != nil:
			return err
		}
		r = recordOf(m)
		return nil
	})
	if err != nil {
		return record{}, fmt.Errorf("kv %s/%s: read: %w", e.bucket, key, err)
	}
	return r, nil
}

// fresh returns key's record as of now: from the stream leader when the
// bucket is replicated, since a replica may lag; through a direct get
// otherwise, which is cheaper and as fresh with one server.
func (e *engine) fresh(ctx context.Context, key string) (record, error) {
	if e.replicas > 1 {
		return e.readLeader(ctx, key)
	}
	return e.read(ctx, key)
}

// msgGetRequest and msgGetResponse are the JetStream API's STREAM.MSG.GET.
type msgGetRequest struct {
	LastFor string `json:"last_by_subj"`
}

type msgGetResponse struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Message *struct {
		Subject  string `json:"subject"`
		Sequence uint64 `json:"seq"`
		Header   []byte `json:"hdrs,omitempty"`
		Data     []byte `json:"data,omitempty"`
	} `json:"message,omitempty"`
}

// codeNoMessage is the API's "no message found".
const codeNoMessage = jetstream.JSErrCodeMessageNotFound

// readLeader returns key's record from the stream leader, which answers
// STREAM.MSG.GET only once it has applied every write it acknowledged.
// nats.go uses a direct get whenever the stream allows them, so the
// request is made here.
func (e *engine) readLeader(ctx context.Context, key string) (record, error) {
	req, _ := json.Marshal(msgGetRequest{LastFor: e.prefix + key}) // a struct of a string always encodes
	subject := e.api + "STREAM.MSG.GET." + e.stream.CachedInfo().Config.Name
	var r record
	err := e.policy.Do(ctx, func(ctx context.Context) error {
		msg, err := e.js.Conn().RequestWithContext(ctx, subject, req)
		if err != nil {
			return err
		}
		var resp msgGetResponse
		if err := json.Unmarshal(msg.Data, &resp); err != nil {
			return fmt.Errorf("%w: %v", jetstream.ErrInvalidJetStreamResponse, err)
		}
		switch {
		case resp.Error != nil && resp.Error.ErrorCode == codeNoMessage:
			r = record{}
			return nil
		case resp.Error != nil:
			return resp.Error
		case resp.Message == nil:
			return jetstream.ErrInvalidJetStreamResponse
		}
		m := &jetstream.RawStreamMsg{Subject: resp.Message.Subject, Sequence: resp.Message.Sequence, Data: resp.Message.Data}
		if len(resp.Message.Header) > 0 {
			if m.Header, err = nats.DecodeHeadersMsg(resp.Message.Header); err != nil {
				return fmt.Errorf("%w: %v", jetstream.ErrInvalidJetStreamResponse, err)
			}
		}
		r = recordOf(m)
		return nil
	})
	if err != nil {
		return record{}, fmt.Errorf("kv %s/%s: read from the leader: %w", e.bucket, key, err)
	}
	return r, nil
}

// readMany returns the records of keys as one state of the bucket: a
// direct multi-last get, which the server answers holding the stream's
// read lock, so that no atomic batch is ever half in it. Keys holding
// nothing are absent from the map.
//
// orbit.go's jetstreamext.GetLastMsgsFor would do, but its iterator ends
// without an error when the request times out (natsext.RequestMany returns
// on DeadlineExceeded), which would read as keys being absent; and it
// cannot tell a 404 after some messages (a store error) from "nothing".
func (e *engine) readMany(ctx context.Context, keys []string) (map[string]record, error) {
	subjects := make([]string, len(keys))
	for i, k := range keys {
		subjects[i] = e.prefix + k
	}
	req, err := json.Marshal(multiLastRequest{Subjects: subjects})
	if err != nil {
		return nil, err
	}
	subject := e.api + "DIRECT.GET." + e.stream.CachedInfo().Config.Name
	var out map[string]record
	err = e.policy.Do(ctx, func(ctx context.Context) error {
		out = make(map[string]record, len(keys))
		return e.multiLast(ctx, subject, req, len(keys), out)
	})
	if err != nil {
		return nil, fmt.Errorf("kv %s: read %d keys: %w", e.bucket, len(keys), err)
	}
	return out, nil
}

type multiLastRequest struct {
	Subjects []string `json:"multi_last"`
}

// Status headers of direct get replies.
const (
	hdrStatus      = "Status"
	hdrDescription = "Description"
	hdrNumPending  = "Nats-Num-Pending"
)

// multiLast sends one multi-last request for keys keys and collects its
// replies, up to the end-of-batch marker.
func (e *engine) multiLast(ctx context.Context, subject string, req []byte, keys int, out map[string]record) error {
	inbox, replies, done, err := e.replies.open(keys + 1) // a message per key and the end
	if err != nil {
		return err
	}
	defer done()
	if err := e.js.Conn().PublishRequest(subject, inbox, req); err != nil {
		return err
	}
	for {
		m, err := nextReply(ctx, replies)
		if err != nil {
			return err
		}
		if status := m.Header.Get(hdrStatus); status != "" && len(m.Data) == 0 {
			switch {
			case status == "204" && m.Header.Get(hdrNumPending) == "0":
				return nil // the end of the batch
			case status == "204":
				return fmt.Errorf("kv: the values of the keys exceed the server's max_pending; read fewer at once")
			case status == "404" && len(out) == 0:
				return nil // no key holds anything
			case status == "503":
				return nats.ErrNoResponders
			}
			return fmt.Errorf("kv: direct get: %s %s", status, m.Header.Get(hdrDescription))
		}
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		subj := m.Header.Get(jetstream.SubjectHeader)
		if err != nil || !strings.HasPrefix(subj, e.prefix) {
			return fmt.Errorf("%w: direct get reply for %q at %q", jetstream.ErrInvalidJetStreamResponse, subj, m.Header.Get(jetstream.SequenceHeader))
		}
		out[subj[len(e.prefix):]] = recordOf(&jetstream.RawStreamMsg{Subject: subj, Sequence: seq, Header: m.Header, Data: m.Data})
	}
}
