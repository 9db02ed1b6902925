-- assure_extra: watermark, redaction, document types, matching and capture.
SELECT t.reset();
SELECT (signicat.assure_create_dossier('extra')->>'dossierId') AS d \gset

-- watermark an image given as bytea: the image bytes come back
SELECT position('WATERMARK:Confidential'::bytea IN
       signicat.assure_watermark_image('{"title": "Confidential", "description": "KYC only", "date": "2026-11-26"}',
                                       image => t.png())) > 0 AS watermarked;
SELECT left(r->'body'->>'image', 22) AS image, r->'body'->'watermark' AS watermark
FROM t.last_request('assure_watermark_image') r;
-- or a stored dossier image
SELECT signicat.assure_set_dossier_files(:'d', front => t.jpeg());
SELECT substr(signicat.assure_watermark_image('{"title": "T", "description": "D", "date": "2026-11-26"}',
              dossier_id => :'d', image_depiction => 'front'), 1, 3) AS jpeg_magic;
SELECT t.sent('assure_watermark_image');
SELECT t.err($$SELECT signicat.assure_watermark_image(NULL, image => t.png())$$);
SELECT t.err(format('SELECT signicat.assure_watermark_image(%L, dossier_id => %L, image_depiction => %L)',
             '{"title": "T", "description": "D", "date": "2026-11-26"}', :'d', 'portrait'));

-- redaction: images in as bytea, redacted images out as bytea (decoded dataURLs)
SELECT redacted_front_image = t.png() || 'REDACTED'::bytea AS front_redacted,
       redacted_back_image IS NULL AS no_back, raw ? 'redactedFrontImage' AS raw_kept
FROM signicat.assure_redact_images('passport', 'NLD', ARRAY['personalIdentificationNumber', 'photo'], front_image => t.png());
SELECT r->'body'->'fieldsToRedact' AS fields, r->'body'->>'documentType' AS document_type,
       left(r->'body'->>'frontImage', 22) AS front
FROM t.last_request('assure_redact_images') r;
SELECT count(*) AS rows FROM signicat.assure_redact_images('passport', 'NLD', '{photo}', dossier_id => :'d');
SELECT t.sent('assure_redact_images');
SELECT t.err($$SELECT * FROM signicat.assure_redact_images('passport', 'NLD', NULL, front_image => t.png())$$);

-- document types per provider, as rows; eid answers 204: no rows
SELECT count(*) > 0 AS some_types, bool_and(type IS NOT NULL AND raw IS NOT NULL) AS typed
FROM signicat.assure_list_document_types('onfido');
SELECT t.sent('assure_list_document_types');
SELECT count(*) AS eid_types FROM signicat.assure_list_document_types('eid');
SELECT t.err($$SELECT count(*) FROM signicat.assure_list_document_types('acme')$$);

-- matching configurations: create, get, update, list, match, delete
SELECT signicat.assure_create_matching_configuration('kyc-names',
    '[{"id": "first", "sourceField": "firstName", "targetField": "firstName", "normalization": "upper", "algorithm": "levenshtein"}]') ? 'id' AS created;
SELECT t.sent('assure_create_matching_configuration');
SELECT t.err($$SELECT signicat.assure_create_matching_configuration('kyc-names', '[]')$$);
SELECT signicat.assure_get_matching_configuration('kyc-names')->>'id' AS id;
SELECT signicat.assure_update_matching_configuration('kyc-names',
    '[{"id": "last", "sourceField": "lastName", "targetField": "lastName", "normalization": "cleanUpper", "algorithm": "fuzzy"}]') IS NOT NULL AS updated;
SELECT t.sent('assure_update_matching_configuration');
SELECT id, created_at IS NOT NULL AS has_created FROM signicat.assure_list_matching_configurations();
SELECT t.sent('assure_list_matching_configurations');
-- perform matching of the dossier's user data against a process result
SELECT signicat.assure_set_user_data(:'d', '{"firstName": "JOHN", "lastName": "SMITH"}');
SELECT (signicat.assure_create_process(:'d', 'onfido', document_type => 'passport')->>'processId') AS p \gset
SELECT signicat.assure_set_process_images(:'d', :'p', front => t.png());
SELECT signicat.assure_start_verification(:'d', :'p') IS NOT NULL AS started;
SELECT count(signicat.assure_get_process(:'d', :'p')) AS polls FROM generate_series(1, 2);
SELECT signicat.assure_perform_matching(:'d', '{"dataNode": "userData"}',
           jsonb_build_object('dataNode', 'finalResult', 'processId', :'p'), 'kyc-names') IS NOT NULL AS matched;
SELECT t.sent('assure_perform_matching');
SELECT t.err(format('SELECT signicat.assure_perform_matching(%L, NULL, %L)', :'d', '{"dataNode": "userData"}'));
SELECT signicat.assure_delete_matching_configuration('kyc-names');
SELECT t.sent('assure_delete_matching_configuration');
SELECT t.err($$SELECT signicat.assure_get_matching_configuration('kyc-names')$$);

-- capture configurations and the hosted capture flow
SELECT signicat.assure_create_capture_configuration('brand-1',
    '{"pageTitle": "Verify", "primaryColor": "#5AAFFF", "languages": ["en", "nb"]}') IS NOT NULL AS created;
SELECT t.sent('assure_create_capture_configuration');
SELECT signicat.assure_get_capture_configuration('brand-1')->>'pageTitle' AS page_title;
SELECT signicat.assure_update_capture_configuration('brand-1', '{"pageTitle": "Verify you"}') IS NOT NULL AS updated;
SELECT t.sent('assure_update_capture_configuration');
SELECT id FROM signicat.assure_list_capture_configurations();
SELECT left(signicat.assure_start_capture_flow(:'d', '[{"provider": "onfido", "processType": "documentSelfie"}]',
                                               'native', 'https://customer.example/done',
                                               capture_parameters => '{"uiProfile": "brand-1"}')->>'url', 46) AS url;
SELECT t.sent('assure_start_capture_flow');
SELECT t.err(format('SELECT signicat.assure_start_capture_flow(%L, %L, %L, %L)', :'d', '[{"provider": "onfido"}]', 'web', 'https://x.example'));
SELECT signicat.assure_delete_capture_configuration('brand-1');
SELECT t.sent('assure_delete_capture_configuration');
SELECT count(*) AS capture_configurations FROM signicat.assure_list_capture_configurations();
