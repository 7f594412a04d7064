package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/refkit/refkit/referral"
	"github.com/refkit/refkit/screening"
	"github.com/refkit/refkit/storage"
)

// Persons, consents and screenings are personal data. The library has no
// per-person access rule, so the API's is: the network's staff and admins
// read and write them, and a delegate reads (and consents for) only the
// person they act for; any other person is not found for a delegate.

// mayActFor refuses a delegate acting for someone else, as not found.
func mayActFor(actor referral.Actor, person referral.ID) error {
	if actor.Role == referral.RoleDelegate && actor.Person != person {
		return fmt.Errorf("person %s: %w", person, referral.ErrNotFound)
	}
	return nil
}

// putPerson stores a person. An erased person stays erased: writing personal
// data back under its id is a conflict, since the erasure was the person's
// request.
func (h *Handler) putPerson(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var p referral.Person
	if err := h.decode(w, r, &p, false); err != nil {
		return err
	}
	if err := own(&p.ID, &p.Network, id, c.actor); err != nil {
		return err
	}
	if !p.Erased.IsZero() {
		return referral.Invalid("erased", "is set only by erasing the person")
	}
	old, err := h.store.GetPerson(r.Context(), c.actor.Network, id)
	switch {
	case err == nil && !old.Erased.IsZero():
		return fmt.Errorf("person %s was erased: %w", id, referral.ErrConflict)
	case err == nil:
		p.Created = old.Created
	case !errors.Is(err, referral.ErrNotFound):
		return err
	}
	stamp(&p.Created, &p.Updated, h.now())
	if err := h.store.PutPerson(r.Context(), p); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (h *Handler) getPerson(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := mayActFor(c.actor, id); err != nil {
		return err
	}
	p, err := h.store.GetPerson(r.Context(), c.actor.Network, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// erasePerson removes the person's personal data (storage.Eraser says
// what); referral counts and loop-closure metrics stay.
func (h *Handler) erasePerson(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	eraser, ok := h.store.(storage.Eraser)
	if !ok {
		return fmt.Errorf("erasing a person: %w", errNotImplemented)
	}
	res, err := eraser.ErasePerson(r.Context(), c.actor.Network, id, h.now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (h *Handler) listConsents(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := mayActFor(c.actor, id); err != nil {
		return err
	}
	if _, err := h.store.GetPerson(r.Context(), c.actor.Network, id); err != nil {
		return err
	}
	list, err := h.store.ListConsents(r.Context(), c.actor.Network, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, consentList{Consents: nonNil(list)})
	return nil
}

func (h *Handler) listScreenings(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := mayActFor(c.actor, id); err != nil {
		return err
	}
	if _, err := h.store.GetPerson(r.Context(), c.actor.Network, id); err != nil {
		return err
	}
	list, err := h.store.ListScreenings(r.Context(), c.actor.Network, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, screeningList{Screenings: nonNil(list)})
	return nil
}

// putConsent records a consent, or revokes one (the same consent with
// revoked set). A delegate records consents of their own person only, and
// may not move a consent to another person.
func (h *Handler) putConsent(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var consent referral.Consent
	if err := h.decode(w, r, &consent, false); err != nil {
		return err
	}
	if err := own(&consent.ID, &consent.Network, id, c.actor); err != nil {
		return err
	}
	if err := mayActFor(c.actor, consent.Person); err != nil {
		return err
	}
	old, err := h.store.GetConsent(r.Context(), c.actor.Network, id)
	switch {
	case err == nil:
		if err := mayActFor(c.actor, old.Person); err != nil {
			return err
		}
		consent.Created = old.Created
	case !errors.Is(err, referral.ErrNotFound):
		return err
	}
	if consent.Created.IsZero() {
		consent.Created = h.now()
	}
	if err := h.store.PutConsent(r.Context(), consent); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, consent)
	return nil
}

func (h *Handler) getConsent(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	consent, err := h.store.GetConsent(r.Context(), c.actor.Network, id)
	if err != nil {
		return err
	}
	if err := mayActFor(c.actor, consent.Person); err != nil {
		return fmt.Errorf("consent %s: %w", id, referral.ErrNotFound)
	}
	writeJSON(w, http.StatusOK, consent)
	return nil
}

// screenRequest is the body of POST /screenings: the answers as screening
// takes them ({"88122-7": "Often true", ...}), or a FHIR R4
// QuestionnaireResponse, which is mapped onto the instrument by linkId and
// code. Exactly one of the two.
type screenRequest struct {
	Person                referral.ID     `json:"person_id"`
	Instrument            string          `json:"instrument"`
	Answers               json.RawMessage `json:"answers,omitempty"`
	QuestionnaireResponse json.RawMessage `json:"questionnaire_response,omitempty"`
}

// screenResponse is the scored result and the stored screening's id; its
// needs point back to that id, ready for /matches and /referrals.
type screenResponse struct {
	Screening referral.ID      `json:"screening_id"`
	Needs     []referral.Need  `json:"needs"`
	Result    screening.Result `json:"result"`
}

func (h *Handler) screen(w http.ResponseWriter, r *http.Request, c *call) error {
	var req screenRequest
	if err := h.decode(w, r, &req, false); err != nil {
		return err
	}
	if err := req.Person.Require("person_id"); err != nil {
		return err
	}
	if req.Instrument == "" {
		return referral.Invalid("instrument", "is required")
	}
	if (len(req.Answers) == 0) == (len(req.QuestionnaireResponse) == 0) {
		return referral.Invalid("answers", "give either answers or questionnaire_response")
	}
	if p, err := h.store.GetPerson(r.Context(), c.actor.Network, req.Person); err != nil {
		return err
	} else if !p.Erased.IsZero() {
		return fmt.Errorf("person %s was erased: %w", req.Person, referral.ErrConflict)
	}
	in, err := h.instruments.Lookup(req.Instrument)
	if errors.Is(err, referral.ErrNotFound) {
		return referral.Invalid("instrument", "is not a known instrument")
	}
	if err != nil {
		return err
	}
	var resp *screening.Response
	if len(req.Answers) > 0 {
		resp, err = screening.ParseAnswers(in, append(append([]byte(`{"answers":`), req.Answers...), '}'))
	} else {
		resp, err = screening.ParseQuestionnaireResponse(in, req.QuestionnaireResponse)
	}
	if err != nil {
		return err
	}
	res := resp.Score()
	id, err := h.ids.New()
	if err != nil {
		return err
	}
	stored := res.Screening(id, c.actor.Network, req.Person, h.now())
	if err := h.store.PutScreening(r.Context(), stored); err != nil {
		return err
	}
	w.Header().Set("Location", "/screenings/"+id.String())
	writeJSON(w, http.StatusCreated, screenResponse{Screening: id, Needs: nonNil(stored.Needs), Result: res})
	return nil
}

func (h *Handler) getScreening(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	sc, err := h.store.GetScreening(r.Context(), c.actor.Network, id)
	if err != nil {
		return err
	}
	if err := mayActFor(c.actor, sc.Person); err != nil {
		return fmt.Errorf("screening %s: %w", id, referral.ErrNotFound)
	}
	writeJSON(w, http.StatusOK, sc)
	return nil
}
