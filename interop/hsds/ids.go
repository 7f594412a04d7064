package hsds

import (
	"crypto/sha256"
	"strings"

	"github.com/refkit/refkit/referral"
)

// ids maps HSDS ids to refkit IDs for one import.
type ids struct {
	network referral.ID
}

func newIDs(network referral.ID) *ids { return &ids{network: network} }

// of returns the refkit ID for the HSDS id raw of the given record type. A UUIDv7
// is kept as is (upper case is accepted); anything else is hashed, with the
// network and record type, into the bits of a UUIDv7, so that the same dataset
// always gets the same IDs and two networks importing it never share one.
func (m *ids) of(record, raw string) referral.ID {
	if id, err := referral.ParseID(strings.ToLower(raw)); err == nil {
		return id
	}
	return derive(m.network, record, raw)
}

// source is the id to keep as the record's SourceID: raw when refkit derived
// the ID from it, "" when the ID is raw itself.
func (m *ids) source(raw string) string {
	if id, err := referral.ParseID(strings.ToLower(raw)); err == nil && id.String() == raw {
		return ""
	}
	return raw
}

func derive(network referral.ID, record, raw string) referral.ID {
	h := sha256.New()
	h.Write([]byte("refkit/hsds\x00"))
	h.Write(network[:])
	h.Write([]byte(record))
	h.Write([]byte{0})
	h.Write([]byte(raw))
	var id referral.ID
	copy(id[:], h.Sum(nil))
	id[6] = id[6]&0x0f | 0x70 // version 7
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return id
}
