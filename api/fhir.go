package api

import (
	"fmt"
	"net/http"

	"github.com/refkit/refkit/interop/fhir"
	"github.com/refkit/refkit/referral"
)

func (h *Handler) exportBundle(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	b, err := h.exchange.Export(r.Context(), c.actor, id)
	if err != nil {
		return err
	}
	writeTyped(w, http.StatusOK, mediaFHIR, b)
	return nil
}

// task returns the referral's Task, as the bundle export renders it.
func (h *Handler) task(r *http.Request, actor referral.Actor, id referral.ID) (*fhir.Task, error) {
	b, err := h.exchange.Export(r.Context(), actor, id)
	if err != nil {
		return nil, err
	}
	for _, e := range b.Entry {
		if t, ok := e.Resource.(*fhir.Task); ok {
			return t, nil
		}
	}
	return nil, fmt.Errorf("the export of referral %s has no Task", id)
}

func (h *Handler) getTask(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, err := h.task(r, c.actor, id)
	if err != nil {
		return err
	}
	if t.Meta != nil {
		w.Header().Set("ETag", `"`+t.Meta.VersionID+`"`)
	}
	writeTyped(w, http.StatusOK, mediaFHIR, t)
	return nil
}

// applyTask applies a partner's Task update through the lifecycle
// (fhir.Exchange.ApplyTask): the Task must be about the referral in the path,
// and its meta.versionId, when set, is the version it was written against.
func (h *Handler) applyTask(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	data, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	t, err := fhir.ParseTask(data)
	if err != nil {
		return err
	}
	if focus, err := t.ReferralID(); err != nil {
		return err
	} else if focus != id {
		return referral.Invalid("focus", "must name the referral in the path")
	}
	if _, err := h.exchange.ApplyTask(r.Context(), c.actor, t); err != nil {
		return err
	}
	return h.getTask(w, r, c)
}
