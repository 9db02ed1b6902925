-- auth_rest: authentication sessions: create (every field reachable), poll to
-- each terminal status, cancel.
SELECT t.reset();

-- the required fields only; an empty attribute list is a valid list
SELECT s->>'status' AS status, s ? 'authenticationUrl' AS has_url
FROM signicat.auth_create_session('redirect', '{}') s;
SELECT t.sent('auth_create_session');

-- every documented field
SELECT signicat.auth_create_session('redirect', ARRAY['name', 'nin', 'dateOfBirth'],
    allowed_providers => ARRAY['nbid', 'sbid'],
    callback_urls => '{"success": "https://app.example/ok", "abort": "https://app.example/abort", "error": "https://app.example/error"}',
    prefilled_input => '{"nin": "01019012345", "firstName": "Kari"}',
    additional_parameters => '{"sbid_flow": "QR"}',
    requested_loa => 'substantial', tags => ARRAY['onboarding'], language => 'nb', theme_id => 'th1',
    external_reference => 'order-7', usage_reference => 'kyc', session_lifetime => 600,
    request_domain => 'login.app.example', expires_at => '2026-12-01 12:00:00+00')->>'id' AS sid \gset
SELECT t.sent('auth_create_session');
SELECT signicat.auth_create_session('embedded', '{name}', return_url => 'https://app.example/back',
    embedded_parent_domains => ARRAY['app.example'])->>'flow' AS flow;
SELECT signicat.auth_create_session('headless', '{nin}', allowed_providers => '{sbid}')->'idpData' ? 'autoStartToken' AS headless_token;

-- a required field is checked before sending; values outside the catalog's
-- enums are sent, and the server's refusal names the field
SELECT t.err($$SELECT signicat.auth_create_session('popup', '{}')$$);
SELECT t.err($$SELECT signicat.auth_create_session('redirect', NULL)$$);
SELECT t.err($$SELECT signicat.auth_create_session('redirect', '{}', requested_loa => 'extreme')$$);
-- the server's own limits come back naming the field
SELECT t.err($$SELECT signicat.auth_create_session('redirect', '{}', theme_id => 'a-very-long-theme')$$);

-- poll until SUCCESS: the subject holds the attributes
SELECT string_agg(signicat.auth_get_session(:'sid')->>'status', ' -> ' ORDER BY i) AS statuses
FROM generate_series(1, 3) i;
SELECT t.sent('auth_get_session');
SELECT signicat.auth_get_session(:'sid')->'subject'->'nin'->>'value' AS nin;

-- ERROR and ABORT, chosen through the external reference
SELECT signicat.auth_create_session('redirect', '{}', external_reference => 'x mock-final=ERROR')->>'id' AS e \gset
SELECT string_agg(s->>'status', ' -> ' ORDER BY i) AS statuses, bool_or(s ? 'error') AS has_error
FROM (SELECT i, signicat.auth_get_session(:'e') AS s FROM generate_series(1, 3) i) polls;
SELECT signicat.auth_create_session('redirect', '{}', external_reference => 'x mock-final=ABORT')->>'id' AS a \gset
SELECT string_agg(signicat.auth_get_session(:'a')->>'status', ' -> ' ORDER BY i) AS statuses
FROM generate_series(1, 3) i;

-- cancel: CANCELLED; cancelling a finished session is a conflict
SELECT signicat.auth_create_session('redirect', '{}')->>'id' AS c \gset
SELECT signicat.auth_cancel_session(:'c')->>'status' AS status;
SELECT t.sent('auth_cancel_session');
SELECT signicat.auth_get_session(:'c')->>'status' AS after_cancel;
SELECT t.err(format('SELECT signicat.auth_cancel_session(%L)', :'sid'));
SELECT t.err($$SELECT signicat.auth_get_session('00000000-0000-4000-8000-000000000000')$$);
