package screening

import (
	"cmp"
	"embed"
	"fmt"
	pathpkg "path"
	"slices"
	"sync"

	"github.com/refkit/refkit/referral"
)

//go:embed instruments/*.json
var builtinFiles embed.FS

// Registry holds instruments by id. It is safe for concurrent use. It keeps
// its own copies: Add stores a copy of the instrument it is given, and Lookup
// and List return copies, so no caller can change an instrument under another,
// the built-in ones included.
type Registry struct {
	mu   sync.RWMutex
	byID map[string]*Instrument
}

// NewRegistry returns a registry holding the given instruments.
func NewRegistry(instruments ...*Instrument) (*Registry, error) {
	r := &Registry{byID: map[string]*Instrument{}}
	for _, in := range instruments {
		if err := r.Add(in); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add registers an instrument; an id already registered is an error wrapping
// referral.ErrConflict.
func (r *Registry) Add(in *Instrument) error {
	if in == nil || in.byID == nil {
		return referral.Invalid("instrument", "must come from Parse")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byID[in.ID]; dup {
		return fmt.Errorf("screening: instrument %s is already registered: %w", in.ID, referral.ErrConflict)
	}
	r.byID[in.ID] = in.Clone()
	return nil
}

// Lookup returns a copy of the instrument with the id; an unknown id is an
// error wrapping referral.ErrNotFound.
func (r *Registry) Lookup(id string) (*Instrument, error) {
	r.mu.RLock()
	in, ok := r.byID[id]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("screening: unknown instrument %q: %w", id, referral.ErrNotFound)
	}
	return in.Clone(), nil
}

// List returns copies of the instruments, sorted by id.
func (r *Registry) List() []*Instrument {
	r.mu.RLock()
	out := make([]*Instrument, 0, len(r.byID))
	for _, in := range r.byID {
		out = append(out, in.Clone())
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Instrument) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

var builtins = sync.OnceValues(func() (*Registry, error) {
	entries, err := builtinFiles.ReadDir("instruments")
	if err != nil {
		return nil, err
	}
	r := &Registry{byID: map[string]*Instrument{}}
	for _, e := range entries {
		name := pathpkg.Join("instruments", e.Name())
		data, err := builtinFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		in, err := Parse(name, data)
		if err != nil {
			return nil, err
		}
		if err := r.Add(in); err != nil {
			return nil, err
		}
	}
	return r, nil
})

// Builtin returns a new registry holding the built-in instruments, parsed and
// validated once per process; a host may add its own to it without changing
// any other caller's registry. It fails only if an embedded definition is
// broken, which the package's tests rule out.
func Builtin() (*Registry, error) {
	b, err := builtins()
	if err != nil {
		return nil, err
	}
	return NewRegistry(b.List()...)
}

// Default returns a new registry holding the built-in instruments, to which a
// host may add its own. It panics if an embedded definition is broken: that is
// a defect of this package, not of any input.
func Default() *Registry {
	b, err := builtins()
	if err != nil {
		panic(err)
	}
	r, _ := NewRegistry(b.List()...)
	return r
}
