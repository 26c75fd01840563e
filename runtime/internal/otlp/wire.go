package otlp

import "encoding/binary"

// The protobuf wire format, as much of it as encode.go writes. It was
// google.golang.org/protobuf/encoding/protowire, whose package pulls in
// protobuf's internal/detrand: that package's initialisation opens the
// running binary and reads eight samples of it, on every start of every
// function whether it traces or not. GODEBUG=inittrace=1 put the two
// packages' initialisation at 0.46 ms of orders' start on the host (0.8
// ms in a container on fuse-overlayfs, where each read of the binary
// goes through the FUSE daemon); the helpers below are the whole of what
// encode.go used, and encode_test.go checks the output against the SDK's
// own otlptrace exporter.

// fieldNum is a protobuf field number.
type fieldNum int32

// Wire types.
const (
	varintType  = 0
	fixed64Type = 1
	bytesType   = 2
	fixed32Type = 5
)

// appendTag appends the key of field num with wire type typ.
func appendTag(b []byte, num fieldNum, typ uint64) []byte {
	return binary.AppendUvarint(b, uint64(num)<<3|typ)
}

// sizeVarint is the length of v as a varint.
func sizeVarint(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// appendLen appends s prefixed by its length, as a bytes field's value.
func appendLen[T ~string | ~[]byte](b []byte, s T) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// boolVarint is b as a varint's value.
func boolVarint(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
