-- input: bad arguments are refused before any request, with an error that
-- names the argument.
SELECT t.reset();
SELECT (signicat.assure_create_dossier('input')->>'dossierId') AS d \gset
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;

-- ids are uuid: PostgreSQL refuses a malformed one
SELECT t.err($$SELECT signicat.assure_get_dossier('not-a-uuid')$$);
SELECT t.err($$SELECT signicat.assure_get_dossier(NULL)$$);
-- a required argument left out, or NULL
SELECT t.err(format('SELECT signicat.assure_create_process(%L)', :'d'));
SELECT t.err(format('SELECT signicat.assure_create_process(%L, NULL)', :'d'));
SELECT t.err(format('SELECT signicat.assure_get_process_image(%L, %L, NULL)', :'d', :'d'));
SELECT t.err(format('SELECT signicat.assure_create_process(%L, %L, redact => ARRAY[NULL])', :'d', 'signicatpaper'));
-- body must be an object
SELECT t.err(format('SELECT signicat.assure_create_process(%L, %L, body => %L)', :'d', 'onfido', '[1]'));
-- images: empty, unknown media type, invalid media type
SELECT t.err(format('SELECT signicat.assure_set_dossier_files(%L, front => %L)', :'d', '\x'));
SELECT t.err(format('SELECT signicat.assure_set_dossier_files(%L, front => %L)', :'d', '\x00112233'));
SELECT t.err(format('SELECT signicat.assure_set_dossier_files(%L, front => t.png(), media_type => %L)', :'d', E'image/png\r\nX: y'));
-- nothing above reached the server
SELECT count(*) AS requests_sent FROM t.requests();

-- a value outside the catalog's enumeration is sent as given: Signicat adds
-- providers and options, and decides itself (its 400 names the field)
SELECT t.err(format('SELECT signicat.assure_create_process(%L, %L)', :'d', 'Onfido'));
SELECT t.err(format('SELECT signicat.assure_create_process(%L, %L, process_type => %L)', :'d', 'onfido', 'selfie'));
SELECT t.err(format('SELECT signicat.assure_create_process(%L, %L, document_type => %L)', :'d', 'onfido', 'library card'));
SELECT t.err(format('SELECT signicat.assure_create_process(%L, %L, redact => ARRAY[%L])', :'d', 'signicatpaper', 'shoeSize'));
SELECT t.err(format('SELECT signicat.assure_get_process_image(%L, %L, %L)', :'d', :'d', 'side'));
SELECT t.err(format('SELECT signicat.assure_get_dossier_file(%L, %L)', :'d', 'portrait'));
SELECT t.err(format('SELECT signicat.assure_start_verification(%L, %L, image_depiction => %L)', :'d', :'d', 'back'));
SELECT r->>'operation' AS operation, t.mask(r->>'path') AS path,
       (SELECT string_agg(e.value, ', ') FROM jsonb_each_text(
            CASE jsonb_typeof(r->'body') WHEN 'object' THEN r->'body' END) e
        WHERE e.key IN ('provider', 'processType', 'documentType', 'redact', 'imageDepiction')) AS body_values,
       r->'query' AS query
FROM t.requests() r;

-- the server's validation still applies where the API decides
SELECT t.err(format('SELECT signicat.assure_create_process(%L, %L)', :'d', 'signicatpaper'));
SELECT t.err(format('SELECT signicat.assure_set_user_data(%L, %L)', :'d', '{"gender": "X"}'));
-- required fields can also come in body
SELECT signicat.assure_create_process(:'d', NULL, body => '{"provider": "onfido"}')->>'provider' AS provider;
