-- assure_dossiers: dossier lifecycle, user data and dossier files against the
-- mock; each step shows what was sent (method, path, body) and what came back.
SELECT t.reset();

-- create: body carries externalReference; answer is the dossier
SELECT signicat.assure_create_dossier('customer-1') AS d \gset
SELECT :'d'::jsonb ? 'dossierId' AS has_id, :'d'::jsonb->>'externalReference' AS external_reference;
SELECT :'d'::jsonb->>'dossierId' AS dossier_id \gset
SELECT t.sent('assure_create_dossier');
SELECT r->'headers'->>'content-type' AS content_type, r->'headers'->>'accept' AS accept,
       r->'headers'->>'authorization' AS authorization
FROM t.last_request('assure_create_dossier') r;

-- create without a reference: an empty JSON object is sent
SELECT signicat.assure_create_dossier() ? 'dossierId' AS created;
SELECT t.sent('assure_create_dossier');

-- get
SELECT jsonb_build_object('ref', g->'externalReference', 'processes', g->'processes')
FROM signicat.assure_get_dossier(:'dossier_id') g;
SELECT t.sent('assure_get_dossier');

-- list as typed rows
SELECT external_reference, pg_typeof(dossier_id) AS id_type, pg_typeof(created_at) AS created_type,
       raw ? 'dossierId' AS raw_has_id
FROM signicat.assure_list_dossiers() ORDER BY external_reference NULLS FIRST;
SELECT count(*) AS listed, count(*) FILTER (WHERE dossier_id = :'dossier_id') AS ours
FROM signicat.assure_list_dossiers();
SELECT t.sent('assure_list_dossiers');

-- user data: set (POST, 201), get, update (PUT merges, "" deletes), delete
SELECT signicat.assure_set_user_data(:'dossier_id',
    '{"firstName": "Kari", "lastName": "Nordmann", "dateOfBirth": "1990-01-31", "email": "kari@example.com"}');
SELECT t.sent('assure_set_user_data');
SELECT signicat.assure_get_user_data(:'dossier_id')->'userData' AS user_data;
SELECT t.err(format('SELECT signicat.assure_set_user_data(%L, ''{"firstName": "X"}'')', :'dossier_id'));
SELECT signicat.assure_update_user_data(:'dossier_id', '{"firstName": "Ola", "email": ""}');
SELECT t.sent('assure_update_user_data');
SELECT signicat.assure_get_user_data(:'dossier_id')->'userData' AS user_data;
SELECT signicat.assure_delete_user_data(:'dossier_id');
SELECT t.sent('assure_delete_user_data');
SELECT t.err(format('SELECT signicat.assure_get_user_data(%L)', :'dossier_id'));

-- dossier files: bytea in, dataURL on the wire (media type sniffed or given), bytes back
SELECT signicat.assure_set_dossier_files(:'dossier_id', front => t.png(1), back => t.jpeg());
SELECT left(r->'body'->>'front', 22) AS front_prefix, left(r->'body'->>'back', 23) AS back_prefix,
       r->'body' ? 'selfie' AS has_selfie
FROM t.last_request('assure_set_dossier_files') r;
SELECT signicat.assure_get_dossier_file(:'dossier_id', 'front') = t.png(1) AS front_round_trip,
       signicat.assure_get_dossier_file(:'dossier_id', 'back') = t.jpeg() AS back_round_trip;
SELECT t.sent('assure_get_dossier_file');
SELECT r->'headers'->>'accept' AS accept FROM t.last_request('assure_get_dossier_file') r;
SELECT signicat.assure_set_dossier_files(:'dossier_id', selfie => '\x00010203', media_type => 'image/png');
SELECT left(r->'body'->>'selfie', 30) AS selfie FROM t.last_request('assure_set_dossier_files') r;
SELECT signicat.assure_delete_dossier_files(:'dossier_id');
SELECT t.sent('assure_delete_dossier_files');
SELECT t.err(format('SELECT signicat.assure_get_dossier_file(%L, ''front'')', :'dossier_id'));

-- delete, then it is gone
SELECT signicat.assure_delete_dossier(:'dossier_id');
SELECT t.sent('assure_delete_dossier');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'dossier_id'));
SELECT t.err(format('SELECT signicat.assure_delete_dossier(%L)', :'dossier_id'));

-- delete all dossiers: refused without confirmation, and nothing is sent
SELECT t.err('SELECT signicat.assure_delete_all_dossiers(false)');
SELECT t.err('SELECT signicat.assure_delete_all_dossiers(NULL)');
SELECT count(*) AS delete_all_requests FROM t.requests('assure_delete_all_dossiers');
SELECT signicat.assure_delete_all_dossiers(confirm => true);
SELECT t.sent('assure_delete_all_dossiers');
SELECT count(*) AS dossiers_left FROM signicat.assure_list_dossiers();
