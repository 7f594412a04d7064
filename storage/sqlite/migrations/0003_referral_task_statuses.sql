-- refkit schema, version 3: referral statuses are the SDOH Clinical Care IG's
-- referral Task statuses, which leave out FHIR's "received". A referral the
-- receiver had acknowledged becomes requested with business status
-- acknowledged, and its events say requested where they said received, so its
-- history still replays to its status.
UPDATE referrals
SET status = 'requested',
	data = json_set(data, '$.status', 'requested', '$.business_status', 'acknowledged')
WHERE status = 'received';
UPDATE events SET from_status = 'requested' WHERE from_status = 'received';
UPDATE events SET to_status = 'requested' WHERE to_status = 'received';
