package otlp

import (
	"encoding/binary"
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// This file writes spans in the protobuf wire format of OTLP's
// TracesData (opentelemetry-proto trace/v1, common/v1, resource/v1) with
// the few wire-format helpers of wire.go, as the SDK's otlptrace
// exporter would write them (encode_test.go holds the two side by side).
// The otlptrace exporter and the generated go.opentelemetry.io/proto/otlp
// types need the protobuf runtime, whose reflection and descriptors were
// 1.7 MB of a 14.3 MB function binary and part of its package
// initialisation: a container starts by reading its binary, and on an
// engine with fuse-overlayfs
// every page costs (README, "Cold start").

// Field numbers of the OTLP messages written here.
const (
	tracesDataResourceSpans = 1

	resourceSpansResource   = 1
	resourceSpansScopeSpans = 2
	resourceSpansSchemaURL  = 3

	resourceAttributes = 1

	scopeSpansScope     = 1
	scopeSpansSpans     = 2
	scopeSpansSchemaURL = 3

	scopeName       = 1
	scopeVersion    = 2
	scopeAttributes = 3

	spanTraceID           = 1
	spanSpanID            = 2
	spanTraceState        = 3
	spanParentSpanID      = 4
	spanName              = 5
	spanKind              = 6
	spanStart             = 7
	spanEnd               = 8
	spanAttributes        = 9
	spanDroppedAttributes = 10
	spanEvents            = 11
	spanDroppedEvents     = 12
	spanLinks             = 13
	spanDroppedLinks      = 14
	spanStatus            = 15
	spanFlags             = 16

	eventTime              = 1
	eventName              = 2
	eventAttributes        = 3
	eventDroppedAttributes = 4

	linkTraceID           = 1
	linkSpanID            = 2
	linkAttributes        = 4
	linkDroppedAttributes = 5
	linkFlags             = 6

	statusMessage = 2
	statusCode    = 3

	keyValueKey   = 1
	keyValueValue = 2

	anyString = 1
	anyBool   = 2
	anyInt    = 3
	anyDouble = 4
	anyArray  = 5
	anyKVList = 6
	anyBytes  = 7

	arrayValues  = 1
	kvListValues = 1
)

// Span flags: the low byte is the W3C trace flags; the exporter always
// says whether it knows the parent to be remote.
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// encodeSpans returns the TracesData of spans: one ResourceSpans per
// resource and in it one ScopeSpans per instrumentation scope, each in
// the order the spans first name it.
func encodeSpans(spans []sdktrace.ReadOnlySpan) []byte {
	type scopeKey struct {
		res   attribute.Distinct
		scope instrumentation.Scope
	}
	type group struct {
		span  sdktrace.ReadOnlySpan // the first, for the resource and scope
		spans []sdktrace.ReadOnlySpan
	}
	var resources []attribute.Distinct
	scopes := map[attribute.Distinct][]scopeKey{}
	groups := map[scopeKey]*group{}
	for _, s := range spans {
		if s == nil {
			continue
		}
		k := scopeKey{res: s.Resource().Equivalent(), scope: s.InstrumentationScope()}
		g := groups[k]
		if g == nil {
			if _, seen := scopes[k.res]; !seen {
				resources = append(resources, k.res)
			}
			g = &group{span: s}
			groups[k] = g
			scopes[k.res] = append(scopes[k.res], k)
		}
		g.spans = append(g.spans, s)
	}
	var out []byte
	for _, r := range resources {
		keys := scopes[r]
		first := groups[keys[0]].span
		out = appendMessage(out, tracesDataResourceSpans, func(b []byte) []byte {
			if res := first.Resource(); res != nil {
				b = appendMessage(b, resourceSpansResource, func(b []byte) []byte {
					it := res.Iter()
					for it.Next() {
						b = appendKeyValue(b, resourceAttributes, it.Attribute())
					}
					return b
				})
			}
			for _, k := range keys {
				b = appendMessage(b, resourceSpansScopeSpans, func(b []byte) []byte {
					return appendScopeSpans(b, k.scope, groups[k].spans)
				})
			}
			return appendString(b, resourceSpansSchemaURL, first.Resource().SchemaURL())
		})
	}
	return out
}

func appendScopeSpans(b []byte, scope instrumentation.Scope, spans []sdktrace.ReadOnlySpan) []byte {
	if scope != (instrumentation.Scope{}) {
		b = appendMessage(b, scopeSpansScope, func(b []byte) []byte {
			b = appendString(b, scopeName, scope.Name)
			b = appendString(b, scopeVersion, scope.Version)
			it := scope.Attributes.Iter()
			for it.Next() {
				b = appendKeyValue(b, scopeAttributes, it.Attribute())
			}
			return b
		})
	}
	for _, s := range spans {
		b = appendMessage(b, scopeSpansSpans, func(b []byte) []byte { return appendSpan(b, s) })
	}
	return appendString(b, scopeSpansSchemaURL, scope.SchemaURL)
}

func appendSpan(b []byte, s sdktrace.ReadOnlySpan) []byte {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendBytes(b, spanTraceID, tid[:])
	b = appendBytes(b, spanSpanID, sid[:])
	b = appendString(b, spanTraceState, sc.TraceState().String())
	parent := s.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		b = appendBytes(b, spanParentSpanID, psid[:])
	}
	b = appendString(b, spanName, s.Name())
	b = appendVarint(b, spanKind, uint64(kindOf(s.SpanKind())))
	b = appendFixed64(b, spanStart, unixNano(s.StartTime().UnixNano()))
	b = appendFixed64(b, spanEnd, unixNano(s.EndTime().UnixNano()))
	for _, kv := range s.Attributes() {
		b = appendKeyValue(b, spanAttributes, kv)
	}
	b = appendVarint(b, spanDroppedAttributes, clampUint32(s.DroppedAttributes()))
	for _, e := range s.Events() {
		b = appendMessage(b, spanEvents, func(b []byte) []byte {
			b = appendFixed64(b, eventTime, unixNano(e.Time.UnixNano()))
			b = appendString(b, eventName, e.Name)
			for _, kv := range e.Attributes {
				b = appendKeyValue(b, eventAttributes, kv)
			}
			return appendVarint(b, eventDroppedAttributes, clampUint32(e.DroppedAttributeCount))
		})
	}
	b = appendVarint(b, spanDroppedEvents, clampUint32(s.DroppedEvents()))
	for _, l := range s.Links() {
		b = appendMessage(b, spanLinks, func(b []byte) []byte {
			ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
			b = appendBytes(b, linkTraceID, ltid[:])
			b = appendBytes(b, linkSpanID, lsid[:])
			for _, kv := range l.Attributes {
				b = appendKeyValue(b, linkAttributes, kv)
			}
			b = appendVarint(b, linkDroppedAttributes, clampUint32(l.DroppedAttributeCount))
			return appendFixed32(b, linkFlags, flags(l.SpanContext.TraceFlags(), l.SpanContext))
		})
	}
	b = appendVarint(b, spanDroppedLinks, clampUint32(s.DroppedLinks()))
	st := s.Status()
	b = appendMessage(b, spanStatus, func(b []byte) []byte {
		b = appendString(b, statusMessage, st.Description)
		return appendVarint(b, statusCode, statusCodeOf(st.Code))
	})
	return appendFixed32(b, spanFlags, flags(sc.TraceFlags(), parent))
}

// appendKeyValue appends kv as field num, a KeyValue.
func appendKeyValue(b []byte, num fieldNum, kv attribute.KeyValue) []byte {
	return appendMessage(b, num, func(b []byte) []byte {
		b = appendString(b, keyValueKey, string(kv.Key))
		return appendMessage(b, keyValueValue, func(b []byte) []byte { return appendAnyValue(b, kv.Value) })
	})
}

// appendAnyValue appends the fields of an AnyValue. Its value is a oneof,
// written even when it is the zero value (false, 0, ""): a oneof member
// is present when set, unlike a plain proto3 scalar.
func appendAnyValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.BOOL:
		return binary.AppendUvarint(appendTag(b, anyBool, varintType), boolVarint(v.AsBool()))
	case attribute.INT64:
		return binary.AppendUvarint(appendTag(b, anyInt, varintType), uint64(v.AsInt64()))
	case attribute.FLOAT64:
		return binary.LittleEndian.AppendUint64(appendTag(b, anyDouble, fixed64Type), math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		return appendLen(appendTag(b, anyString, bytesType), v.AsString())
	case attribute.BYTESLICE:
		return appendLen(appendTag(b, anyBytes, bytesType), v.AsByteSlice())
	case attribute.BOOLSLICE:
		return appendArray(b, len(v.AsBoolSlice()), func(i int) attribute.Value { return attribute.BoolValue(v.AsBoolSlice()[i]) })
	case attribute.INT64SLICE:
		return appendArray(b, len(v.AsInt64Slice()), func(i int) attribute.Value { return attribute.Int64Value(v.AsInt64Slice()[i]) })
	case attribute.FLOAT64SLICE:
		return appendArray(b, len(v.AsFloat64Slice()), func(i int) attribute.Value { return attribute.Float64Value(v.AsFloat64Slice()[i]) })
	case attribute.STRINGSLICE:
		return appendArray(b, len(v.AsStringSlice()), func(i int) attribute.Value { return attribute.StringValue(v.AsStringSlice()[i]) })
	case attribute.SLICE:
		return appendArray(b, len(v.AsSlice()), func(i int) attribute.Value { return v.AsSlice()[i] })
	case attribute.MAP:
		return appendMessage(b, anyKVList, func(b []byte) []byte {
			for _, kv := range v.AsMap() {
				b = appendKeyValue(b, kvListValues, kv)
			}
			return b
		})
	case attribute.EMPTY:
		return b
	default:
		return appendLen(appendTag(b, anyString, bytesType), "INVALID")
	}
}

// appendArray appends an ArrayValue of n values.
func appendArray(b []byte, n int, at func(int) attribute.Value) []byte {
	return appendMessage(b, anyArray, func(b []byte) []byte {
		for i := range n {
			b = appendMessage(b, arrayValues, func(b []byte) []byte { return appendAnyValue(b, at(i)) })
		}
		return b
	})
}

// appendMessage appends field num holding the message fill writes: fill
// appends to b past a one-byte length, which is widened afterwards when
// the message is 128 bytes or longer.
func appendMessage(b []byte, num fieldNum, fill func([]byte) []byte) []byte {
	b = appendTag(b, num, bytesType)
	at := len(b)
	b = append(b, 0)
	b = fill(b)
	n := len(b) - at - 1
	if n < 0x80 {
		b[at] = byte(n)
		return b
	}
	size := sizeVarint(uint64(n))
	b = append(b, make([]byte, size-1)...)
	copy(b[at+size:], b[at+1:at+1+n])
	binary.AppendUvarint(b[:at], uint64(n))
	return b
}

// The scalar fields below follow proto3: a zero value is not written.

func appendString(b []byte, num fieldNum, s string) []byte {
	if s == "" {
		return b
	}
	return appendLen(appendTag(b, num, bytesType), s)
}

func appendBytes(b []byte, num fieldNum, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return appendLen(appendTag(b, num, bytesType), v)
}

func appendVarint(b []byte, num fieldNum, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.AppendUvarint(appendTag(b, num, varintType), v)
}

func appendFixed64(b []byte, num fieldNum, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.LittleEndian.AppendUint64(appendTag(b, num, fixed64Type), v)
}

func appendFixed32(b []byte, num fieldNum, v uint32) []byte {
	if v == 0 {
		return b
	}
	return binary.LittleEndian.AppendUint32(appendTag(b, num, fixed32Type), v)
}

func unixNano(ns int64) uint64 { return uint64(max(0, ns)) }

func clampUint32(v int) uint64 { return uint64(min(max(v, 0), math.MaxUint32)) }

// flags are a span's or a link's flags: the trace flags, and whether
// parent (for a link, the linked span) is remote.
func flags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf) | flagHasIsRemote
	if parent.IsRemote() {
		f |= flagIsRemote
	}
	return f
}

// kindOf is OTLP's Span.SpanKind for k.
func kindOf(k trace.SpanKind) int {
	switch k {
	case trace.SpanKindInternal:
		return 1
	case trace.SpanKindServer:
		return 2
	case trace.SpanKindClient:
		return 3
	case trace.SpanKindProducer:
		return 4
	case trace.SpanKindConsumer:
		return 5
	default:
		return 0
	}
}

// statusCodeOf is OTLP's Status.StatusCode for c.
func statusCodeOf(c codes.Code) uint64 {
	switch c {
	case codes.Ok:
		return 1
	case codes.Error:
		return 2
	default:
		return 0
	}
}
