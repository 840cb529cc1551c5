package principals

import (
	"encoding/hex"
	"net/netip"

	"github.com/google/uuid"
)

// The index keeps ids and digests as bytes: at 100,000 tokens, strings
// would double its memory.

func digestBytes(hexDigest string) ([32]byte, bool) {
	var d [32]byte
	if len(hexDigest) != 64 {
		return d, false
	}
	_, err := hex.Decode(d[:], []byte(hexDigest))
	return d, err == nil
}

func idBytes(id string) [16]byte {
	u, _ := uuid.Parse(id) // ids the service made are UUIDs; anything else is the zero id
	return u
}

func uuidString(b [16]byte) string { return uuid.UUID(b).String() }

func prefixes(cidrs []string) []netip.Prefix {
	if len(cidrs) == 0 {
		return nil
	}
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p)
		}
	}
	return out
}
