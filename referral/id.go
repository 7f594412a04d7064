package referral

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ID identifies every refkit record. It is a UUIDv7 (RFC 9562): the first 48 bits
// are a Unix millisecond timestamp, so IDs sort by creation time and make good
// primary keys and paging cursors. The zero ID means "unset".
type ID uuid.UUID

// NilID is the zero ID.
var NilID ID

// ParseID parses the canonical 36-character form of a UUIDv7
// ("0190a6f0-8a4b-7c3d-9e2f-0123456789ab"). Other UUID versions, the braced and URN
// forms, and anything malformed are rejected with an error wrapping ErrInvalid.
func ParseID(s string) (ID, error) {
	if len(s) != 36 {
		return NilID, invalid("id", "must be a UUID in canonical 36-character form")
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return NilID, invalid("id", "must be a UUID in canonical 36-character form")
	}
	if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		return NilID, invalid("id", "must be a version 7 UUID")
	}
	return ID(u), nil
}

// MustParseID is ParseID for constants in tests and examples; it panics on bad input.
func MustParseID(s string) ID {
	id, err := ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// IsZero reports whether the ID is unset.
func (id ID) IsZero() bool { return id == NilID }

// String returns the canonical form, or "" for the zero ID.
func (id ID) String() string {
	if id.IsZero() {
		return ""
	}
	return uuid.UUID(id).String()
}

// Time returns the creation time encoded in the ID, to the millisecond.
func (id ID) Time() time.Time {
	ms := int64(binary.BigEndian.Uint64(append([]byte{0, 0}, id[:6]...)))
	return time.UnixMilli(ms).UTC()
}

// Compare orders IDs byte-wise, which for UUIDv7 is creation order.
func (id ID) Compare(other ID) int {
	for i := range id {
		switch {
		case id[i] < other[i]:
			return -1
		case id[i] > other[i]:
			return 1
		}
	}
	return 0
}

// MarshalText encodes the canonical form; the zero ID encodes as "".
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses the canonical form. An empty text decodes to the zero ID so
// that absent optional references round-trip; required ones are caught by Validate.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = NilID
		return nil
	}
	parsed, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = parsed
	return nil
}

// validate reports a zero ID as missing.
func (id ID) required(field string) error {
	if id.IsZero() {
		return invalid(field, "is required")
	}
	return nil
}

// IDGenerator mints UUIDv7 IDs from an injected clock and entropy source, so tests
// and simulations get reproducible IDs. IDs from one generator are strictly
// increasing, even within one millisecond or if the clock steps back. Safe for
// concurrent use.
type IDGenerator struct {
	mu    sync.Mutex
	now   func() time.Time
	rand  io.Reader
	last  [16]byte
	buf   [10]byte
	valid bool
}

// NewIDGenerator returns a generator reading time from now and randomness from r.
// A nil now uses time.Now and a nil r uses crypto/rand.
func NewIDGenerator(now func() time.Time, r io.Reader) *IDGenerator {
	if now == nil {
		now = time.Now
	}
	if r == nil {
		r = rand.Reader
	}
	return &IDGenerator{now: now, rand: r}
}

// New returns the next ID. It fails only if the entropy source fails.
func (g *IDGenerator) New() (ID, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var id [16]byte
	ms := uint64(g.now().UnixMilli())
	binary.BigEndian.PutUint16(id[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(id[2:6], uint32(ms))
	if _, err := io.ReadFull(g.rand, g.buf[:]); err != nil {
		return NilID, fmt.Errorf("refkit: id entropy: %w", err)
	}
	copy(id[6:], g.buf[:])
	setVersion(&id)
	if g.valid && compareBytes(id, g.last) <= 0 {
		// Same millisecond (or a clock step back): keep the time prefix of the last
		// ID and count up in the random bits so order is still creation order.
		id = g.last
		increment(&id)
	}
	g.last, g.valid = id, true
	return ID(id), nil
}

// MustNew is New for sources that cannot fail (crypto/rand, math/rand wrappers).
func (g *IDGenerator) MustNew() ID {
	id, err := g.New()
	if err != nil {
		panic(err)
	}
	return id
}

var defaultIDs = NewIDGenerator(nil, nil)

// NewID returns a fresh UUIDv7 from the wall clock and crypto/rand. Library code
// that must be deterministic takes an *IDGenerator instead.
func NewID() ID { return defaultIDs.MustNew() }

func setVersion(id *[16]byte) {
	id[6] = (id[6] & 0x0f) | 0x70
	id[8] = (id[8] & 0x3f) | 0x80
}

// increment adds one to the 74 random bits (skipping version and variant bits).
func increment(id *[16]byte) {
	for i := 15; i >= 6; i-- {
		switch i {
		case 8:
			if id[8]&0x3f != 0x3f {
				id[8]++
				return
			}
			id[8] &^= 0x3f
			continue
		case 6:
			if id[6]&0x0f != 0x0f {
				id[6]++
				return
			}
			id[6] &^= 0x0f
			continue
		}
		id[i]++
		if id[i] != 0 {
			return
		}
	}
	// All random bits overflowed (2^74 IDs in one millisecond): carry into time.
	for i := 5; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	setVersion(id)
}

func compareBytes(a, b [16]byte) int { return ID(a).Compare(ID(b)) }

// Require reports a zero ID as a missing field.
func (id ID) Require(field string) error { return id.required(field) }
