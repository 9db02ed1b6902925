-- secure_share: shares, multipart uploads with per-file results, recipients.
SELECT t.reset();

SELECT signicat.share_create_share('{"name": "Case officer", "email": "officer@bank.example"}',
                                   title => 'Loan documents', tags => ARRAY['loan'],
                                   expires => '2026-12-31 00:00:00+00')->>'id' AS share \gset
SELECT t.sent('share_create_share');
SELECT t.err($$SELECT signicat.share_create_share(NULL)$$);

-- three files in one multipart/form-data request; each file is a row
SELECT name, status, size, message, id IS NOT NULL AS has_id
FROM signicat.share_upload_files(:'share',
        ARRAY['%PDF-1.4 contract'::bytea, 'X5O!P%@AP'::bytea, ''::bytea],
        ARRAY['contract.pdf', 'eicar.com', 'empty.txt'],
        ARRAY['application/pdf', 'application/octet-stream', 'text/plain'])
ORDER BY name;
SELECT r->>'method' AS method, t.mask(r->>'path') AS path,
       split_part(r->'headers'->>'content-type', ';', 1) AS content_type
FROM t.last_request('share_upload_files') r;
SELECT p->>'name' AS part, p->>'filename' AS filename, p->>'content_type' AS content_type, p->'size' AS size
FROM jsonb_array_elements(t.mock('GET', 'secure-share/last-upload')) p ORDER BY 2;
-- media types sniffed when not given
SELECT status FROM signicat.share_upload_files(:'share', ARRAY[t.png()], ARRAY['photo.png']);
SELECT p->>'content_type' AS sniffed FROM jsonb_array_elements(t.mock('GET', 'secure-share/last-upload')) p;
SELECT id AS file FROM signicat.share_upload_files(:'share', ARRAY['hello'::bytea], ARRAY['hello.txt'], ARRAY['text/plain']) \gset
-- bad uploads are refused before sending
SELECT t.err(format('SELECT * FROM signicat.share_upload_files(%L, %L, %L)', :'share', '{}', '{}'));
SELECT t.err(format('SELECT * FROM signicat.share_upload_files(%L, ARRAY[%L::bytea], ARRAY[%L, %L])', :'share', 'a', 'a.txt', 'b.txt'));
SELECT t.err(format('SELECT * FROM signicat.share_upload_files(%L, ARRAY[%L::bytea], ARRAY[%L])', :'share', 'a', E'a"\r\n.txt'));
SELECT t.err(format('SELECT * FROM signicat.share_upload_files(%L, ARRAY[%L::bytea], ARRAY[%L], ARRAY[%L])', :'share', 'a', 'a.txt', E'text/plain\r\nX: 1'));

-- recipients
SELECT signicat.share_create_recipient(:'share', '[{"identityProvider": "nbid", "nin": "01019012345"}]',
        email => 'kari@example.com', first_name => 'Kari', file_restrictions => ARRAY[:'file'::uuid],
        notification => '{"sendEmail": true, "sendSms": false, "language": "En"}')->>'id' AS recipient \gset
SELECT t.sent('share_create_recipient');
SELECT t.err(format('SELECT signicat.share_create_recipient(%L, %L, email => %L)', :'share', '[]', 'kari@example.com'));
SELECT t.err(format('SELECT signicat.share_create_recipient(%L, %L, email => %L)', :'share', '[{"identityProvider": "nbid"}]', 'not-an-email'));
SELECT r->>'email' AS email, r->>'firstName' AS first_name, jsonb_array_length(r->'fileRestrictions') AS restrictions
FROM signicat.share_get_recipient(:'share', :'recipient') r;
SELECT t.sent('share_get_recipient');
SELECT r->>'mobile' AS mobile, r->>'email' AS email
FROM signicat.share_update_recipient(:'share', :'recipient', mobile => '+4799999999') r;
SELECT t.sent('share_update_recipient');
SELECT signicat.share_send_reminder(:'share', :'recipient');
SELECT t.sent('share_send_reminder');
SELECT signicat.share_remove_recipient(:'share', :'recipient');
SELECT t.sent('share_remove_recipient');
SELECT t.err(format('SELECT signicat.share_get_recipient(%L, %L)', :'share', :'recipient'));

SELECT signicat.share_remove_file(:'share', :'file');
SELECT t.sent('share_remove_file');
SELECT t.err(format('SELECT signicat.share_remove_file(%L, %L)', :'share', :'file'));
SELECT t.err($$SELECT * FROM signicat.share_upload_files('00000000-0000-4000-8000-000000000000', ARRAY['x'::bytea], ARRAY['x.txt'])$$);
