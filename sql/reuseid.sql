-- reuseid: onboarding and step-up transactions; answers come without their
-- {"data": ...} envelope.
SELECT t.reset();

SELECT signicat.reuseid_start_onboarding(external_ref => 'customer-9', provider => 'signicatvideoid',
           videoid_provider_options => '{"docTypes": [1, 2], "defaultId": 1}') AS o \gset
SELECT :'o'::jsonb->>'status' AS status, :'o'::jsonb ? 'data' AS still_wrapped,
       length(:'o'::jsonb->>'activationCode') AS code_length;
SELECT t.sent('reuseid_start_onboarding');
SELECT :'o'::jsonb->>'transactionId' AS tx \gset
SELECT string_agg(signicat.reuseid_get_onboarding(:'tx')->>'status', ' -> ' ORDER BY i) AS statuses
FROM generate_series(1, 3) i;
SELECT t.sent('reuseid_get_onboarding');
SELECT o->'userData' ? 'firstName' AS has_user_data, o ? 'dossierId' AS has_dossier
FROM signicat.reuseid_get_onboarding(:'tx') o;

-- a failed onboarding
SELECT signicat.reuseid_start_onboarding(external_ref => 'x mock-final=Failed')->>'transactionId' AS f \gset
SELECT string_agg(signicat.reuseid_get_onboarding(:'f')->>'status', ' -> ' ORDER BY i) AS statuses
FROM generate_series(1, 3) i;

-- step-up needs the user and the device
SELECT signicat.reuseid_start_step_up((:'o'::jsonb->>'userId')::uuid, 'device-1')->>'transactionId' AS s \gset
SELECT t.sent('reuseid_start_step_up');
SELECT string_agg(signicat.reuseid_get_step_up(:'s')->>'status', ' -> ' ORDER BY i) AS statuses
FROM generate_series(1, 3) i;
SELECT t.sent('reuseid_get_step_up');
SELECT t.err($$SELECT signicat.reuseid_start_step_up(NULL, 'device-1')$$);
SELECT t.err($$SELECT signicat.reuseid_get_step_up('00000000-0000-4000-8000-000000000000')$$);
