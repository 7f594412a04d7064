package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/refkit/refkit/referral"
)

// blob is an ID as its 16 bytes, the form every id column holds; byte order is
// ID.Compare order.
func blob(id referral.ID) []byte { return id[:] }

// toID reads an id column.
func toID(b []byte) (referral.ID, error) {
	var id referral.ID
	if len(b) != len(id) {
		return id, fmt.Errorf("sqlite: stored id has %d bytes: %w", len(b), ErrNotDatabase)
	}
	copy(id[:], b)
	return id, nil
}

// optionalID is an optional id column: the zero ID is NULL.
func optionalID(id referral.ID) []byte {
	if id.IsZero() {
		return nil
	}
	return id[:]
}

// toOptionalID reads an optional id column.
func toOptionalID(b []byte) (referral.ID, error) {
	if b == nil {
		return referral.NilID, nil
	}
	return toID(b)
}

// The instants Unix nanoseconds in an int64 can hold.
var (
	minNanos = time.Unix(0, math.MinInt64)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// nanos is t for a time column: Unix nanoseconds, saturated at the ends of
// int64 so order is kept (ties aside) for any time; the zero time is NULL.
func nanos(t time.Time) sql.NullInt64 {
	switch {
	case t.IsZero():
		return sql.NullInt64{}
	case t.Before(minNanos):
		return sql.NullInt64{Int64: math.MinInt64, Valid: true}
	case t.After(maxNanos):
		return sql.NullInt64{Int64: math.MaxInt64, Valid: true}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// nullText is s for a nullable text column: the empty string is NULL.
func nullText(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// encode is the JSON a data column holds.
func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		// Validated records encode; what does not (a NaN, say) is bad input.
		return "", fmt.Errorf("sqlite: encode record: %w",
			referral.Invalid("record", "has a value that cannot be stored, such as a number that is not finite"))
	}
	return string(b), nil
}

// decode reads a data column into v.
func decode(data string, v any) error {
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return fmt.Errorf("sqlite: stored record does not decode: %w", ErrNotDatabase)
	}
	return nil
}
