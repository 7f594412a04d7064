package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/refkit/refkit/matching"
	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/storage"
)

// readinessProbe is a network id no store holds: its version nibble says
// UUIDv7 but its time is the epoch, which no generator mints.
var readinessProbe = referral.MustParseID("00000000-0000-7000-8000-000000000001")

func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request, _ *call) error {
	writeJSON(w, http.StatusOK, statusBody{Status: "ok"})
	return nil
}

// readyz asks the store for a network that cannot exist: a store that
// answers "not found" is reachable and on the current schema; one that is
// unreachable, closed or behind on migrations answers with the error that
// says so (storage.ErrSchemaBehind, referral.ErrUnavailable, ...).
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request, _ *call) error {
	select {
	case <-h.done:
		return fmt.Errorf("the server is shutting down: %w", referral.ErrUnavailable)
	default:
	}
	_, err := h.store.GetNetwork(r.Context(), readinessProbe)
	if err != nil && !errors.Is(err, referral.ErrNotFound) {
		return err
	}
	writeJSON(w, http.StatusOK, statusBody{Status: "ready"})
	return nil
}

func (h *Handler) openapi(w http.ResponseWriter, _ *http.Request, _ *call) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(h.doc)
	return nil
}

func (h *Handler) getNetwork(w http.ResponseWriter, r *http.Request, c *call) error {
	n, err := h.store.GetNetwork(r.Context(), c.actor.Network)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

// putNetwork creates or renames the caller's own network: an admin token
// for a network that does not exist yet is how a network is started.
func (h *Handler) putNetwork(w http.ResponseWriter, r *http.Request, c *call) error {
	var body networkBody
	if err := h.decode(w, r, &body, false); err != nil {
		return err
	}
	n, err := h.store.GetNetwork(r.Context(), c.actor.Network)
	switch {
	case errors.Is(err, referral.ErrNotFound):
		n = referral.Network{ID: c.actor.Network, Created: h.now()}
	case err != nil:
		return err
	}
	n.Name = body.Name
	if err := h.store.PutNetwork(r.Context(), n); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

// own fills a record's id and network from the path and the actor, refusing
// a body that names others.
func own(id *referral.ID, network *referral.ID, pathID referral.ID, actor referral.Actor) error {
	if !id.IsZero() && *id != pathID {
		return referral.Invalid("id", "must be the id in the path")
	}
	if !network.IsZero() && *network != actor.Network {
		return referral.Invalid("network_id", "must be the caller's network")
	}
	*id, *network = pathID, actor.Network
	return nil
}

func (h *Handler) listOrganizations(w http.ResponseWriter, r *http.Request, c *call) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	orgs, next, err := h.store.ListOrganizations(r.Context(), c.actor.Network, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, organizationPage{Organizations: nonNil(orgs), Next: next})
	return nil
}

func (h *Handler) getOrganization(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	o, err := h.store.GetOrganization(r.Context(), c.actor.Network, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (h *Handler) putOrganization(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var o referral.Organization
	if err := h.decode(w, r, &o, false); err != nil {
		return err
	}
	if err := own(&o.ID, &o.Network, id, c.actor); err != nil {
		return err
	}
	stamp(&o.Created, &o.Updated, h.now())
	if err := h.store.PutOrganization(r.Context(), o); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

func (h *Handler) listServices(w http.ResponseWriter, r *http.Request, c *call) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	services, next, err := h.store.ListServices(r.Context(), c.actor.Network, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, servicePage{Services: nonNil(services), Next: next})
	return nil
}

func (h *Handler) getService(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	s, err := h.store.GetService(r.Context(), c.actor.Network, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

// mayEditService allows an admin anything in the network, and staff only the
// services of their own organization, both the one stored and the one
// written.
func (h *Handler) mayEditService(r *http.Request, actor referral.Actor, id, organization referral.ID) error {
	if actor.Role == referral.RoleAdmin {
		return nil
	}
	if !organization.IsZero() && organization != actor.Organization {
		return fmt.Errorf("staff may write only their own organization's services: %w", referral.ErrForbidden)
	}
	old, err := h.store.GetService(r.Context(), actor.Network, id)
	switch {
	case errors.Is(err, referral.ErrNotFound):
		return nil
	case err != nil:
		return err
	case old.Organization != actor.Organization:
		return fmt.Errorf("staff may write only their own organization's services: %w", referral.ErrForbidden)
	}
	return nil
}

// putService stores a service after checking its eligibility rule compiles
// within the rule cost limits, so no stored rule can break matching for the
// whole network.
func (h *Handler) putService(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var s referral.Service
	if err := h.decode(w, r, &s, false); err != nil {
		return err
	}
	if err := own(&s.ID, &s.Network, id, c.actor); err != nil {
		return err
	}
	if err := h.mayEditService(r, c.actor, id, s.Organization); err != nil {
		return err
	}
	if s.Eligibility != "" {
		if err := matching.CheckRule(s.Eligibility); err != nil {
			return err
		}
	}
	stamp(&s.Created, &s.Updated, h.now())
	if err := h.store.PutService(r.Context(), s); err != nil {
		return err
	}
	h.indexes.update(r.Context(), c.actor.Network, matching.Put(s))
	writeJSON(w, http.StatusOK, s)
	return nil
}

func (h *Handler) deleteService(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := h.mayEditService(r, c.actor, id, referral.NilID); err != nil {
		return err
	}
	if err := h.store.DeleteService(r.Context(), c.actor.Network, id); err != nil {
		return err
	}
	h.indexes.update(r.Context(), c.actor.Network, matching.Remove(id))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// stamp sets a record's creation time if unset, and its update time.
func stamp(created, updated *time.Time, now time.Time) {
	if created.IsZero() {
		*created = now
	}
	*updated = now
}

// pageOf reads the after and limit query parameters.
func pageOf(r *http.Request) (storage.Page, error) {
	after, err := queryID(r, "after")
	if err != nil {
		return storage.Page{}, err
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return storage.Page{}, err
	}
	return storage.Page{After: after, Limit: limit}, nil
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
