package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// ProblemType is the base of every problem's type URI: the type of a
// problem is ProblemType followed by its slug (urn:refkit:problem:not-found).
// The URIs are stable: clients may branch on them. They are URNs, so no
// client ever dereferences them; docs/serve.md lists them.
const ProblemType = "urn:refkit:problem:"

// Problem is an RFC 9457 problem details object, the body of every error
// response (Content-Type application/problem+json). Detail is the refkit
// error's message, which never holds personal data (the library's rule), or a
// fixed sentence when the failure is the server's.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Field is the JSON path of the invalid input, for invalid-input problems.
	Field string `json:"field,omitempty"`
	// RequestID is the request's id, as in the X-Request-Id response header.
	RequestID string `json:"request_id,omitempty"`
}

// problemKind is one row of the error mapping.
type problemKind struct {
	slug   string
	title  string
	status int
}

// The problems the API answers. Every refkit error wraps one sentinel, so
// errors.Is picks the row whatever layer failed.
var (
	probUnauthenticated   = problemKind{"unauthenticated", "Authentication required", http.StatusUnauthorized}
	probForbidden         = problemKind{"forbidden", "Forbidden", http.StatusForbidden}
	probNoConsent         = problemKind{"no-consent", "No consent", http.StatusForbidden}
	probNotFound          = problemKind{"not-found", "Not found", http.StatusNotFound}
	probInvalid           = problemKind{"invalid", "Invalid input", http.StatusBadRequest}
	probConflict          = problemKind{"conflict", "Conflict", http.StatusConflict}
	probInvalidTransition = problemKind{"invalid-transition", "Invalid transition", http.StatusConflict}
	probPrecondition      = problemKind{"precondition-failed", "Precondition failed", http.StatusPreconditionFailed}
	probTooLarge          = problemKind{"too-large", "Request body too large", http.StatusRequestEntityTooLarge}
	probUnsupportedMedia  = problemKind{"unsupported-media-type", "Unsupported media type", http.StatusUnsupportedMediaType}
	probMethod            = problemKind{"method-not-allowed", "Method not allowed", http.StatusMethodNotAllowed}
	probUnavailable       = problemKind{"unavailable", "Service unavailable", http.StatusServiceUnavailable}
	probNotImplemented    = problemKind{"not-implemented", "Not implemented", http.StatusNotImplemented}
	probInternal          = problemKind{"internal", "Internal server error", http.StatusInternalServerError}
)

// problemKinds lists every kind, for the OpenAPI document and the docs test.
var problemKinds = []problemKind{
	probUnauthenticated, probForbidden, probNoConsent, probNotFound, probInvalid, probConflict,
	probInvalidTransition, probPrecondition, probTooLarge, probUnsupportedMedia, probMethod,
	probUnavailable, probNotImplemented, probInternal,
}

// ProblemTypes lists every problem the API can answer, with its type URI,
// title and status, for documentation and clients that enumerate them.
func ProblemTypes() []Problem {
	out := make([]Problem, len(problemKinds))
	for i, k := range problemKinds {
		out[i] = Problem{Type: ProblemType + k.slug, Title: k.title, Status: k.status}
	}
	return out
}

// ErrUnauthenticated is what an Authenticator returns (wrapped or as is) when
// the request carries no credentials, or ones it does not accept: the API
// answers 401 with a WWW-Authenticate challenge. Its message, and anything
// wrapped around it, is logged for the operator but never sent: the client
// learns only that it is not authenticated, not why.
var ErrUnauthenticated = errors.New("refkit api: not authenticated")

// errPrecondition marks a conditional command (If-Match) that found the
// referral at another version.
var errPrecondition = errors.New("refkit api: the referral is not at the version If-Match names")

// errUnsupportedMedia marks a body of a media type the route does not take.
var errUnsupportedMedia = errors.New("refkit api: unsupported media type")

// errNotImplemented marks a route the store cannot serve.
var errNotImplemented = errors.New("refkit api: the store does not support this")

// classify picks the problem for err. internal reports whether the failure
// is the server's (its message stays in the log).
func classify(err error) (k problemKind, internal bool) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return probUnauthenticated, true
	case errors.As(err, &tooBig):
		return probTooLarge, false
	case errors.Is(err, errUnsupportedMedia):
		return probUnsupportedMedia, false
	case errors.Is(err, errPrecondition):
		return probPrecondition, false
	case errors.Is(err, errNotImplemented):
		return probNotImplemented, false
	case errors.Is(err, referral.ErrUnavailable), errors.Is(err, storage.ErrClosed),
		errors.Is(err, storage.ErrSchemaBehind), errors.Is(err, storage.ErrNewerSchema):
		// The store could not do the work now, or this server is shutting down
		// or on the wrong schema: the operator reads why in the log; the client
		// retries, its Idempotency-Key or If-Match making the retry safe.
		return probUnavailable, true
	case errors.Is(err, context.DeadlineExceeded):
		return probUnavailable, true
	case errors.Is(err, referral.ErrInvalid):
		return probInvalid, false
	case errors.Is(err, referral.ErrNotFound):
		return probNotFound, false
	case errors.Is(err, referral.ErrInvalidTransition):
		return probInvalidTransition, false
	case errors.Is(err, referral.ErrConflict):
		return probConflict, false
	case errors.Is(err, referral.ErrNoConsent):
		return probNoConsent, false
	case errors.Is(err, referral.ErrForbidden):
		return probForbidden, false
	}
	return probInternal, true
}

// problemFor builds the problem err maps to.
func problemFor(err error, requestID string) Problem {
	k, internal := classify(err)
	p := Problem{Type: ProblemType + k.slug, Title: k.title, Status: k.status, RequestID: requestID}
	switch {
	case k == probUnauthenticated:
		p.Detail = "a valid bearer token is required"
	case k == probUnavailable:
		p.Detail = "the service cannot do this now; retry later"
	case internal:
		p.Detail = "the server failed; the request id identifies the failure in its log"
	default:
		p.Detail = err.Error()
	}
	var ve *referral.ValidationError
	if k == probInvalid && errors.As(err, &ve) {
		p.Field = ve.Field
	}
	return p
}

// writeProblem writes p as the response.
func writeProblem(w http.ResponseWriter, p Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	switch p.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="refkit"`)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(p.Status)
	// The status is sent; a failed write means the client went away.
	_ = json.NewEncoder(w).Encode(p)
}
