package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// maxBody bounds every request body: the largest legitimate one, a screening
// with free-text answers, is a few kilobytes.
const maxBody = 64 << 10

// errorBody is every error response: a message safe to show (refkit's errors
// never hold personal data) and, for invalid input, the JSON field at fault.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// writeError is the one place an error becomes a status code. refkit wraps a
// sentinel in every error it returns, so errors.Is decides whatever layer (the
// screening parser, the lifecycle engine, the store) produced it.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		status = http.StatusInternalServerError
		body   = errorBody{Error: "internal error"}
		tooBig *http.MaxBytesError
		ve     *referral.ValidationError
	)
	switch {
	case errors.Is(err, referral.ErrUnavailable), errors.Is(err, storage.ErrClosed), errors.Is(err, storage.ErrSchemaBehind):
		// The store could not do the work now (connection lost, server or
		// database shutting down, a lock held too long), or is closed because
		// this server is shutting down: the client may retry, with its
		// Idempotency-Key or version making the retry safe. The details are
		// for the operator.
		s.log.WarnContext(r.Context(), "store unavailable", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		w.Header().Set("Retry-After", "1")
		status, body.Error = http.StatusServiceUnavailable, "storage is unavailable; retry later"
	case errors.Is(err, errUnauthenticated):
		status, body.Error = http.StatusUnauthorized, errUnauthenticated.Error()
	case errors.As(err, &tooBig):
		status, body.Error = http.StatusRequestEntityTooLarge, "request body is too large"
	case errors.Is(err, referral.ErrInvalid):
		status, body.Error = http.StatusBadRequest, err.Error()
		if errors.As(err, &ve) {
			body.Field = ve.Field
		}
	case errors.Is(err, referral.ErrNotFound):
		status, body.Error = http.StatusNotFound, err.Error()
	case errors.Is(err, referral.ErrConflict), errors.Is(err, referral.ErrInvalidTransition):
		status, body.Error = http.StatusConflict, err.Error()
	case errors.Is(err, referral.ErrNoConsent), errors.Is(err, referral.ErrForbidden):
		status, body.Error = http.StatusForbidden, err.Error()
	default:
		// Anything else is the host's problem, not the client's: log it for
		// the operator and tell the client nothing about the internals.
		s.log.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	writeJSON(w, status, body)
}

// writeJSON writes v as the whole response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status is sent; a failed write means the client went away.
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads the request body into v strictly: one JSON value, no unknown
// fields, no member named twice, at most maxBody bytes. An empty body is
// allowed when optional (the referral commands that take nothing). Malformed
// JSON is invalid input, so it gets a 400 naming the field where that is known.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return jsonError(err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if optional {
			return nil
		}
		return referral.Invalid("body", "is required")
	}
	if err := noRepeatedMembers(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return referral.Invalid("body", "must hold one JSON value")
	}
	return nil
}

// noRepeatedMembers refuses a body that names a member twice in one object.
// encoding/json would keep the last (and matches names in any letter case),
// while a proxy or log in front of the API may read the first: two readers
// must never disagree about what a request says.
func noRepeatedMembers(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var value func() error
	value = func() error {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		switch tok {
		case json.Delim('{'):
			names := map[string]bool{}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return jsonError(err)
				}
				name, _ := tok.(string)
				if names[fold(name)] {
					return referral.Invalid("body", "names a member twice")
				}
				names[fold(name)] = true
				if err := value(); err != nil {
					return err
				}
			}
		case json.Delim('['):
			for dec.More() {
				if err := value(); err != nil {
					return err
				}
			}
		default:
			return nil
		}
		_, err = dec.Token() // the closing delimiter
		return jsonError(err)
	}
	return value()
}

// fold spells a name the one way every spelling encoding/json matches to it
// folds to (it compares names as strings.EqualFold does).
func fold(name string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, name)
}

// jsonError turns encoding/json's errors into refkit's shape. Their messages
// can quote the input, so only the field name is kept.
func jsonError(err error) error {
	if err == nil {
		return nil
	}
	var (
		typeErr *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig), errors.Is(err, referral.ErrInvalid):
		return err
	case errors.As(err, &typeErr):
		return referral.Invalid(typeErr.Field, "has the wrong JSON type")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for this one.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return referral.Invalid(field, "is not a known field")
	}
	return referral.Invalid("body", "is not valid JSON")
}
