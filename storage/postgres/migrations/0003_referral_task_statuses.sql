-- 0003_referral_task_statuses: referral statuses are the SDOH Clinical Care
-- IG's referral Task statuses, which leave out FHIR's "received". A referral
-- the receiver had acknowledged becomes requested with business status
-- acknowledged, and its events say requested where they said received, so its
-- history still replays to its status.
UPDATE referrals
SET status = 'requested',
    doc = doc || '{"status": "requested", "business_status": "acknowledged"}'::jsonb
WHERE status = 'received';
UPDATE events SET doc = jsonb_set(doc, '{from}', '"requested"') WHERE doc->>'from' = 'received';
UPDATE events SET doc = jsonb_set(doc, '{to}', '"requested"') WHERE doc->>'to' = 'received';
