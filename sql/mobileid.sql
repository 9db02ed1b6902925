-- mobileid: MobileID Admin for one account, chosen with signicat.account_id.
SELECT t.reset();

-- no account chosen: the API's account_id_missing problem, with a hint
SELECT t.err('SELECT signicat.mobileid_get_account()');
SELECT t.err_context('SELECT signicat.mobileid_get_account()') LIKE 'HTTP 400 from Signicat, problem code account_id_missing%' AS context_names_code;

SET signicat.account_id = 'a-sdge-mobileid-1';
SELECT t.err('SELECT signicat.mobileid_get_account()');
SELECT a->>'state' AS state, a ? 'id' AS has_id FROM signicat.mobileid_add_account() a;
SELECT t.sent('mobileid_add_account');
SELECT r->'headers'->>'signicat-accountid' AS account FROM t.last_request('mobileid_add_account') r;
SELECT signicat.mobileid_get_account() ? 'statistics' AS with_statistics,
       signicat.mobileid_get_account(statistics => false) ? 'statistics' AS without_statistics;
SELECT t.sent('mobileid_get_account');
SELECT signicat.mobileid_update_account('DISABLED') ? 'encapApiKey' AS has_api_key;
SELECT t.sent('mobileid_update_account');
SELECT t.err($$SELECT signicat.mobileid_update_account('PAUSED')$$);
SELECT signicat.mobileid_update_account('ENABLED') IS NOT NULL AS enabled;

-- APNs tokens
SELECT signicat.mobileid_add_apns_token('prod push', 'LS0tLS1CRUdJTi1QUklWQVRFLUtFWS0tLS0t', 'KEY123', 'TEAM42',
                                        description => 'production')->>'id' AS apns \gset
SELECT t.sent('mobileid_add_apns_token');
SELECT name, key_id, team_id, raw ? 'privateKey' AS leaks_private_key FROM signicat.mobileid_list_apns_tokens();
SELECT signicat.mobileid_get_apns_token(:'apns')->>'name' AS name;
SELECT t.sent('mobileid_get_apns_token');

-- application configuration
SELECT signicat.mobileid_get_application_config() IS NOT NULL AS has_config;
SELECT signicat.mobileid_get_application_config_state()->>'state' AS state;
SELECT signicat.mobileid_update_application_config_state('DISABLED')->>'state' AS state;
SELECT t.sent('mobileid_update_application_config_state');
SELECT t.err($$SELECT signicat.mobileid_update_application_config_state('OFF')$$);
SELECT signicat.mobileid_update_application_config_apns_uuid(:'apns')->>'apnsUuid' = :'apns' AS apns_set;
SELECT t.sent('mobileid_update_application_config_apns_uuid');
SELECT signicat.mobileid_get_application_config_apns_uuid()->>'apnsUuid' = :'apns' AS apns_read;
SELECT p->>'activationCodeType' AS activation_code_type, p->>'recoveryEnabled' AS recovery
FROM signicat.mobileid_update_application_config_properties('{"activationCodeType": "NUMERIC", "recoveryEnabled": "true"}') p;
SELECT t.sent('mobileid_update_application_config_properties');
SELECT signicat.mobileid_get_application_config_properties()->>'activationCodeType' AS activation_code_type;
SELECT t.err($$SELECT signicat.mobileid_update_application_config_properties('{"maximumSessionExpiry": "10"}')$$);

-- signing certificates, filtered by state
SELECT state, activated_at IS NOT NULL AS activated FROM signicat.mobileid_list_signing_certificates() ORDER BY state;
SELECT count(*) AS active FROM signicat.mobileid_list_signing_certificates('ACTIVE');
SELECT t.sent('mobileid_list_signing_certificates');
SELECT t.err($$SELECT count(*) FROM signicat.mobileid_list_signing_certificates('EXPIRED')$$);

-- end-to-end keys
SELECT k->>'state' AS state, k ? 'publicKey' AS has_public_key
FROM signicat.mobileid_create_e2e_key('backend key', description => 'for the app backend') k;
SELECT t.sent('mobileid_create_e2e_key');
SELECT id AS key FROM signicat.mobileid_list_e2e_keys() WHERE name = 'backend key' \gset
SELECT signicat.mobileid_get_e2e_key(:'key')->>'name' AS name;
SELECT signicat.mobileid_update_e2e_key_state(:'key', 'DISABLED')->>'state' AS state;
SELECT t.sent('mobileid_update_e2e_key_state');
SELECT name, state FROM signicat.mobileid_list_e2e_keys('DISABLED');
SELECT t.sent('mobileid_list_e2e_keys');
SELECT signicat.mobileid_delete_e2e_key(:'key');
SELECT t.sent('mobileid_delete_e2e_key');
SELECT t.err(format('SELECT signicat.mobileid_get_e2e_key(%L)', :'key'));

-- risk indicators
SELECT signicat.mobileid_update_risk_indicators('{"allowedNrOfUsersWithSameDeviceHash": "3"}')
       #>> '{riskIndicatorsConfiguration,allowedNrOfUsersWithSameDeviceHash}' AS allowed;
SELECT t.sent('mobileid_update_risk_indicators');
SELECT signicat.mobileid_get_risk_indicators() #>> '{riskIndicatorsConfiguration,allowedNrOfUsersWithSameDeviceHash}' AS allowed;

-- statistics
SELECT signicat.mobileid_get_statistics_by_days(30) IS NOT NULL AS by_days;
SELECT t.sent('mobileid_get_statistics_by_days');
SELECT t.err('SELECT signicat.mobileid_get_statistics_by_days(0)');
SELECT signicat.mobileid_get_statistics_by_date_range('2026-11-01', '2026-11-26') IS NOT NULL AS by_range;
SELECT t.sent('mobileid_get_statistics_by_date_range');
SELECT t.err($$SELECT signicat.mobileid_get_statistics_by_date_range('2026-11-26', '2026-11-01')$$);
SELECT signicat.mobileid_get_detailed_device_statistics('allbasic', platform => 'Android') IS NOT NULL AS detailed;
SELECT t.sent('mobileid_get_detailed_device_statistics');
SELECT signicat.mobileid_get_device_hash_statistics(2, detailed => true) IS NOT NULL AS hashes;
SELECT t.sent('mobileid_get_device_hash_statistics');
-- a hash with '+', '/' and '=': one query value, escaped, one row per user
SELECT user_id, jsonb_array_length(devices) AS devices
FROM signicat.mobileid_list_devices_by_device_hash('k3+Jd9/VwYt1mQ0c2ZfR8sLxB7nEoHaP4uGiTjKlMnA=') ORDER BY 1;
SELECT t.sent('mobileid_list_devices_by_device_hash');
SELECT signicat.mobileid_lock_devices_by_device_hash('k3+Jd9/VwYt1mQ0c2ZfR8sLxB7nEoHaP4uGiTjKlMnA=') ? 'lockedDevices' AS locked;
SELECT t.sent('mobileid_lock_devices_by_device_hash');

-- deleting the APNs token
SELECT signicat.mobileid_delete_apns_token(:'apns');
SELECT t.sent('mobileid_delete_apns_token');
SELECT t.err(format('SELECT signicat.mobileid_get_apns_token(%L)', :'apns'));
RESET signicat.account_id;
