-- assure_processes: the process lifecycle of an Onfido verification, and the
-- process side operations (images, external id, video, result zip, fail).
SELECT t.reset();
SELECT t.config('{"process_polls_until_final": 2, "final_status": "accepted"}');

SELECT (signicat.assure_create_dossier('process-test')->>'dossierId')::uuid AS dossier_id \gset

-- create: typed arguments become body fields, NULL ones are left out
SELECT signicat.assure_create_process(:'dossier_id', 'onfido', process_type => 'documentSelfie',
                                      document_type => 'passport',
                                      process_parameters => '{"location": {"countryOfResidence": "NOR"}}') AS p \gset
SELECT :'p'::jsonb->>'status' AS status, :'p'::jsonb->>'provider' AS provider,
       :'p'::jsonb->>'processType' AS process_type, :'p'::jsonb ? 'authorization' AS has_sdk_token;
SELECT t.sent('assure_create_process');
SELECT (:'p'::jsonb->>'processId')::uuid AS process_id \gset

-- body merges a raw jsonb under the typed arguments (typed arguments win)
SELECT (signicat.assure_create_process(:'dossier_id', 'signicatpaper', document_country => 'NLD',
                                       redact => ARRAY['mrz', 'photo'],
                                       body => '{"provider": "ignored", "eventTags": ["t1"]}')->>'provider') AS provider;
SELECT t.sent('assure_create_process');

-- images, JSON dataURLs: not multipart
SELECT signicat.assure_set_process_images(:'dossier_id', :'process_id', front => t.png(1), back => t.png(2), selfie => t.jpeg());
SELECT r->>'method' AS method, t.mask(r->>'path') AS path, r->'headers'->>'content-type' AS content_type,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(r->'body') k) AS fields
FROM t.last_request('assure_set_process_images') r;
SELECT signicat.assure_get_process_image(:'dossier_id', :'process_id', 'back') = t.png(2) AS back_round_trip;
SELECT t.sent('assure_get_process_image');

-- before start: no video, no result yet (204 -> NULL)
SELECT signicat.assure_download_process_result(:'dossier_id', :'process_id') IS NULL AS result_not_ready;
SELECT t.sent('assure_download_process_result');

-- start verification: POST on the process itself; then poll until final
SELECT signicat.assure_start_verification(:'dossier_id', :'process_id')->>'status' AS status;
SELECT t.sent('assure_start_verification');
SELECT signicat.assure_get_process(:'dossier_id', :'process_id')->>'status' AS poll_1;
SELECT signicat.assure_get_process(:'dossier_id', :'process_id')->>'status' AS poll_2;
SELECT t.sent('assure_get_process');
SELECT p->'finalResult'->>'documentType' AS document_type, p->'depictions' AS depictions
FROM signicat.assure_get_process(:'dossier_id', :'process_id') p;
-- immutable after start
SELECT t.err(format('SELECT signicat.assure_set_process_images(%L, %L, front => t.png())', :'dossier_id', :'process_id'));
-- fail is allowed only from pending
SELECT t.err(format('SELECT signicat.assure_fail_process(%L, %L)', :'dossier_id', :'process_id'));

SELECT signicat.assure_get_process_external_id(:'dossier_id', :'process_id') ? 'externalId' AS has_external_id;
SELECT t.sent('assure_get_process_external_id');
SELECT substr(signicat.assure_get_process_video(:'dossier_id', :'process_id'), 5, 8) AS video_box;
SELECT t.sent('assure_get_process_video');
SELECT substr(signicat.assure_download_process_result(:'dossier_id', :'process_id'), 1, 4) AS zip_magic;
SELECT substr(signicat.assure_download_process_result(:'dossier_id', :'process_id', include_timestamps => true), 1, 4) AS zip_magic;
SELECT t.sent('assure_download_process_result');

-- start verification on a readid process answers 204: NULL
SELECT (signicat.assure_create_process(:'dossier_id', 'readid')->>'processId')::uuid AS readid_id \gset
SELECT signicat.assure_start_verification(:'dossier_id', :'readid_id') IS NULL AS no_content;

-- facetec: the optional body of start verification
SELECT (signicat.assure_create_process(:'dossier_id', 'facetec')->>'processId')::uuid AS facetec_id \gset
SELECT signicat.assure_set_process_images(:'dossier_id', :'facetec_id', front => t.png());
SELECT signicat.assure_start_verification(:'dossier_id', :'facetec_id', facetec_enrollment => '{"faceScan": "abc"}',
                                          image_depiction => 'selfie')->>'status' AS status;
SELECT t.sent('assure_start_verification');

-- fail a pending process
SELECT (signicat.assure_create_process(:'dossier_id', 'onfido')->>'processId')::uuid AS pending_id \gset
SELECT f->>'status' AS status, f->'reason'->>'reason' AS reason
FROM signicat.assure_fail_process(:'dossier_id', :'pending_id') f;
SELECT t.sent('assure_fail_process');

-- the dossier lists its processes
SELECT p->>'provider' AS provider, p->>'status' AS status
FROM jsonb_array_elements(signicat.assure_get_dossier(:'dossier_id')->'processes') p
ORDER BY 1, 2;

-- delete a process, then it is gone
SELECT signicat.assure_delete_process(:'dossier_id', :'pending_id');
SELECT t.sent('assure_delete_process');
SELECT t.err(format('SELECT signicat.assure_get_process(%L, %L)', :'dossier_id', :'pending_id'));

-- a rejected final status, chosen through the dossier's reference
SELECT (signicat.assure_create_dossier('order-7 mock-final=rejected')->>'dossierId')::uuid AS d2 \gset
SELECT (signicat.assure_create_process(:'d2', 'onfido', document_type => 'passport')->>'processId')::uuid AS p2 \gset
SELECT signicat.assure_set_process_images(:'d2', :'p2', front => t.png());
SELECT signicat.assure_start_verification(:'d2', :'p2')->>'status' AS status;
SELECT string_agg(signicat.assure_get_process(:'d2', :'p2')->>'status', ' -> ' ORDER BY i) AS statuses
FROM generate_series(1, 3) i;

SELECT signicat.assure_delete_dossier(:'d2');
