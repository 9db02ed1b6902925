-- auth_tokens: one OAuth token shared by all backends, refreshed once on
-- 401, the token request itself, and the Signicat-AccountId header.
SELECT t.reset();

-- revoke every token: the next call gets 401, fetches a new token and retries
SELECT t.mock('POST', 'revoke-tokens') IS NOT NULL AS revoked;
SELECT t.tokens_issued() AS before \gset
SELECT count(signicat.assure_create_dossier('token-test')) AS calls FROM generate_series(1, 20);
SELECT t.tokens_issued() - :before AS new_tokens;
-- 21 requests: the refused one was sent again with the new token
SELECT count(*) AS create_requests FROM t.requests('assure_create_dossier');

-- the token request: client_secret_basic, form body, secret never logged by the mock
SELECT r->>'method' AS method, r->>'path' AS path, r->'headers'->>'authorization' AS authorization,
       r->'headers'->>'content-type' AS content_type, r->'body' AS body
FROM t.last_request('token') r;

-- another backend uses the same token (shared memory), no new token
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
                      current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT n AS other_backend_calls FROM dblink('other',
    'SELECT count(signicat.assure_create_dossier()) FROM generate_series(1, 5)') AS x(n bigint);
SELECT t.tokens_issued() - :before AS new_tokens;

-- a 401 after the refresh too: the error, no loop
SELECT t.fault('{"operation": "assure_list_dossiers", "status": 401, "count": 2}');
SELECT t.err('SELECT count(*) FROM signicat.assure_list_dossiers()');
SELECT count(*) AS list_requests FROM t.requests('assure_list_dossiers');
SELECT t.tokens_issued() - :before AS new_tokens;

-- client_secret_post: credentials in the form body (settings changed: new token)
SET signicat.token_auth_method = client_secret_post;
SELECT signicat.assure_create_dossier() ? 'dossierId' AS ok;
SELECT r->'headers'->>'authorization' AS authorization, r->'body' AS body FROM t.last_request('token') r;
RESET signicat.token_auth_method;

-- wrong secret: a clear error that never shows the secret
SET signicat.client_secret = 'not-the-secret';
SELECT t.err('SELECT signicat.assure_create_dossier()');
RESET signicat.client_secret;
SET signicat.client_id = '';
SELECT t.err('SELECT signicat.assure_create_dossier()');
RESET signicat.client_id;
-- the token endpoint down: the error says so
SELECT t.fault('{"operation": "token", "status": 503, "count": 1}');
SET signicat.scope = 'another-scope';
SELECT t.err('SELECT signicat.assure_create_dossier()');
RESET signicat.scope;

-- Signicat-AccountId: absent by default, per session, per transaction
SELECT count(*) >= 0 AS called FROM signicat.assure_list_dossiers();
SELECT r->'headers'->'signicat-accountid' AS account FROM t.last_request('assure_list_dossiers') r;
BEGIN;
SET LOCAL signicat.account_id = 'a-1234';
SELECT count(*) >= 0 AS called FROM signicat.assure_list_dossiers();
SELECT r->'headers'->'signicat-accountid' AS account FROM t.last_request('assure_list_dossiers') r;
COMMIT;
SELECT count(*) >= 0 AS called FROM signicat.assure_list_dossiers();
SELECT r->'headers'->'signicat-accountid' AS account FROM t.last_request('assure_list_dossiers') r;
SET signicat.account_id = E'a\r\nX-Injected: 1';
SELECT dblink_disconnect('other');
