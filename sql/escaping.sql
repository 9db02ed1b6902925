-- escaping: values never change the request's path or query string.
SELECT t.reset();

-- configuration ids are free text: path values are percent-encoded, dots too
SELECT t.err($$SELECT signicat.assure_get_matching_configuration('../x')$$) IS NOT NULL AS called;
SELECT r->>'raw_path' AS raw_path, r->>'operation' AS operation FROM t.last_request() r;
SELECT t.err($$SELECT signicat.assure_get_matching_configuration('..')$$) IS NOT NULL AS called;
SELECT r->>'raw_path' AS raw_path, r->>'operation' AS operation FROM t.last_request() r;
SELECT t.err($$SELECT signicat.assure_get_matching_configuration('a b?c=d#e%f/g')$$) IS NOT NULL AS called;
SELECT r->>'raw_path' AS raw_path, r->>'operation' AS operation FROM t.last_request() r;
SELECT t.err($$SELECT signicat.assure_get_matching_configuration('')$$) AS empty_id;
SELECT t.err($$SELECT signicat.assure_get_matching_configuration(NULL)$$) AS null_id;

-- query values are escaped too: one parameter, one value
SELECT t.err($$SELECT count(*) FROM signicat.assure_list_processes('2026-01-01', "order" => 'a&limit=1#x')$$) IS NOT NULL AS called;
SELECT r->'query' AS query FROM t.last_request('assure_list_processes') r;

-- signicat.request: the path must stay a plain absolute path
SELECT t.err($$SELECT signicat.request('GET', '/assure/../auth/open/connect/token')$$);
SELECT t.err($$SELECT signicat.request('GET', '/assure/./dossiers')$$);
SELECT t.err($$SELECT signicat.request('GET', '//evil.example/x')$$);
SELECT t.err($$SELECT signicat.request('GET', 'http://evil.example/x')$$);
SELECT t.err($$SELECT signicat.request('GET', '/assure/dossiers?x=1')$$);
SELECT t.err($$SELECT signicat.request('GET', E'/assure/dossiers\r\nHost: evil')$$);
SELECT t.err($$SELECT signicat.request('TRACE', '/assure/dossiers')$$);
-- and its query argument is escaped
SELECT signicat.request('get', '/assure/processes',
                        query => '{"startCreationDate": "2026-01-01T00:00:00Z", "status": ["accepted", "rejected"], "limit": 5, "order": "createdAtAscending"}') ? 'processes' AS listed;
SELECT r->'query' AS query FROM t.last_request('assure_list_processes') r;
SELECT t.err($$SELECT signicat.request('GET', '/assure/processes', query => '{"a": {"b": 1}}')$$);
SELECT t.err($$SELECT signicat.request('GET', '/assure/processes', query => '[1]')$$);
-- request sends a body with any method
SELECT signicat.request('POST', '/assure/dossiers', '{"externalReference": "via request"}')->>'externalReference' AS created;
SELECT t.sent('assure_create_dossier');
