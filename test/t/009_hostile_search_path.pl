# 009_hostile_search_path.pl: no statement of the extension runs code from a schema on somebody's
# search_path, and the background worker is no superuser.
#
# A role with no grants but CREATE on schema public (as in clusters upgraded from PostgreSQL 14 or
# older) plants what would be run by a statement that resolves names through the search_path:
#   - operators that are exact matches where PostgreSQL has only near ones (bigint * interval, for
#     the worker's backoff arithmetic) or that shadow pg_catalog's when public comes first
#     (=, <=, + on the types the extension compares);
#   - functions with the names of pg_catalog's (now, pg_notify, current_setting, to_regclass);
#   - a domain public.uuid, so that a cast written ::uuid would check its hostile constraint;
#   - tables public.watch and public.status_history with triggers, for unqualified names.
# Each calls public.evil(), which logs who ran it and, run by a superuser, makes its author one.
# Then the database's default search_path puts public first (as a careless ALTER DATABASE would),
# an application role with that path drives every kind of call, and the worker follows items to
# their end. Nothing may have run public.evil, and the worker's statements run as signicat_worker.
# (Before this was fixed, the worker ran public.*(bigint, interval) as the bootstrap superuser in
# its first round, and auto-enrolment's $2::uuid ran the domain's check as the caller.)

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 3 });

my $node = new_node('hostile');
my $log0 = log_offset($node);
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');

# --- the attacker -------------------------------------------------------------------------------
query($node, q{
	CREATE ROLE mallory LOGIN;
	GRANT CREATE ON SCHEMA public TO mallory;
	CREATE ROLE app LOGIN IN ROLE signicat_operator;
	-- a probe of the superuser's: who runs the worker's history inserts
	CREATE TABLE public.probe_log (who text, super text);
	GRANT INSERT ON public.probe_log TO PUBLIC;
	CREATE FUNCTION public.probe() RETURNS trigger LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp AS $$
	BEGIN
		-- (is_superuser describes the session; the rights are current_user's)
		INSERT INTO public.probe_log
		SELECT current_user, CASE WHEN rolsuper THEN 'on' ELSE 'off' END
		FROM pg_roles WHERE rolname = current_user;
		RETURN NULL;
	END $$;
	CREATE TRIGGER probe AFTER INSERT ON signicat.status_history
		FOR EACH ROW EXECUTE FUNCTION public.probe();
});

$node->safe_psql('postgres', <<'EOSQL', extra_params => [ '-U', 'mallory' ]);
CREATE TABLE public.evil_log (who text, what text, super text, at timestamptz DEFAULT clock_timestamp());
GRANT INSERT, SELECT ON public.evil_log TO PUBLIC;
CREATE FUNCTION public.evil(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.evil_log (who, what, super)
	VALUES (current_user, what, pg_catalog.current_setting('is_superuser'));
	-- (qualified: its own shadows of = must not call it again)
	IF pg_catalog.current_setting('is_superuser') OPERATOR(pg_catalog.=) 'on' THEN
		EXECUTE 'ALTER ROLE mallory SUPERUSER';
	END IF;
	RETURN true;
END $$;

-- operators: an exact match for bigint * interval (pg_catalog has only float8 * interval) ...
CREATE FUNCTION public.evil_mul(bigint, interval) RETURNS interval LANGUAGE plpgsql AS $$
BEGIN PERFORM public.evil('bigint * interval'); RETURN $2 OPERATOR(pg_catalog.*) $1::float8; END $$;
CREATE OPERATOR public.* (LEFTARG = bigint, RIGHTARG = interval, FUNCTION = public.evil_mul);
-- ... and shadows of pg_catalog's, found first when public comes first
CREATE FUNCTION public.evil_eq_text(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.evil('text = text'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.evil_eq_text);
CREATE FUNCTION public.evil_eq_uuid(uuid, uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.evil('uuid = uuid'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = public.evil_eq_uuid);
CREATE FUNCTION public.evil_le(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.evil('timestamptz <= timestamptz'); RETURN $1 OPERATOR(pg_catalog.<=) $2; END $$;
CREATE OPERATOR public.<= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = public.evil_le);
CREATE FUNCTION public.evil_plus(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM public.evil('timestamptz + interval'); RETURN $1 OPERATOR(pg_catalog.+) $2; END $$;
CREATE OPERATOR public.+ (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = public.evil_plus);

-- functions named like pg_catalog's
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM public.evil('now()'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION public.pg_notify(text, text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN PERFORM public.evil('pg_notify()'); END $$;
CREATE FUNCTION public.current_setting(text, boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM public.evil('current_setting()'); RETURN pg_catalog.current_setting($1, $2); END $$;
CREATE FUNCTION public.to_regclass(text) RETURNS regclass LANGUAGE plpgsql AS $$
BEGIN PERFORM public.evil('to_regclass()'); RETURN pg_catalog.to_regclass($1); END $$;

-- a type that a cast written ::uuid would find first
CREATE DOMAIN public.uuid AS text CHECK (public.evil('::uuid (a domain public.uuid)'));

-- tables for unqualified names
CREATE FUNCTION public.evil_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM public.evil('table ' || TG_TABLE_NAME); RETURN NULL; END $$;
CREATE TABLE public.watch (id bigint, kind text, item_id uuid, state text, next_poll_at timestamptz,
                           claimed_until timestamptz);
CREATE TABLE public.status_history (watch_id bigint, seq integer);
CREATE TRIGGER evil AFTER INSERT OR UPDATE OR DELETE ON public.watch
	FOR EACH STATEMENT EXECUTE FUNCTION public.evil_trigger();
CREATE TRIGGER evil AFTER INSERT OR UPDATE OR DELETE ON public.status_history
	FOR EACH STATEMENT EXECUTE FUNCTION public.evil_trigger();
EOSQL

# the planted code works: called directly, it logs (and would escalate a superuser)
$node->safe_psql('postgres', 'SELECT 1::bigint * interval \'1 s\'',
	extra_params => [ '-U', 'mallory' ]);
is(query($node, q{SELECT count(*) FROM public.evil_log}), 1,
	'the planted operator runs when a statement resolves to it');
query($node, 'TRUNCATE public.evil_log');

# --- every search_path of the database puts the attacker's schema first ---------------------------
query($node, q{ALTER DATABASE postgres SET search_path = public, pg_catalog});
# from now on the test's own queries, as a superuser, protect themselves
my $su = sub { query($node, "SET search_path = pg_catalog, pg_temp;\n$_[0]") };
# a worker started now connects with that default
$su->(q{SELECT signicat.stop_worker()});
isnt($su->(q{SELECT signicat.start_worker()}), '', 'a new worker started');

# --- an application drives the extension with that path --------------------------------------------
# (a call that fails is a failed test, and the test goes on to what was run meanwhile)
my $app = sub {
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "SET search_path = public, pg_catalog;\n$sql",
		extra_params => [ '-U', 'app' ], on_error_stop => 1);
	is($rc, 0, "the application's call works: $sql") or diag($err);
	return $out;
};
my $d = $app->(q{SELECT signicat.assure_create_dossier('hostile') ->> 'dossierId'});
like($d, qr/^[0-9a-f-]{36}$/, 'the application created a dossier');
my @created = map {
	$app->(qq{SELECT signicat.assure_create_process('$d', 'onfido', document_type => 'passport') ->> 'processId'})
} 1 .. 2;
is(scalar(grep { /^[0-9a-f-]{36}$/ } @created), 2, 'and two processes, enrolled automatically');
is($app->(qq{SELECT signicat.watch_drop('assure_process', '$created[1]')}), 't',
	'watch_drop with the hostile path');
# processes that are being verified, so that the worker records transitions
my $seed = mock('POST', '/__mock/seed-processes', { count => 2, status => 'processing', provider => 'onfido' });
my @p = @{ $seed->{processIds} };
is($app->(qq{SELECT count(signicat.watch_add('assure_process', p, '$seed->{dossierId}'))
	FROM unnest('{$p[0],$p[1]}'::pg_catalog.uuid[]) p}), 2, 'watch_add with the hostile path');
$app->(q{SELECT signicat.sync_processes(pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 hour')});
$app->(q{SELECT count(*) FROM signicat.stuck('0 seconds')});
$app->(q{SELECT count(*) FROM signicat.verifications});
$app->(q{SELECT count(*) FROM signicat.decision_times});
$app->(q{SELECT * FROM signicat.worker_status});
$app->(q{SELECT count(*) FROM signicat.stat_operations});

# --- the worker follows the items to their end ------------------------------------------------------
wait_until('the worker has followed both items to their end', 60, sub {
	$su->(qq{SELECT count(*) = 2 FROM signicat.watch
	         WHERE item_id IN ('$p[0]', '$p[1]') AND state = 'done'}) eq 't' });
# (the worker ran its housekeeping, expiry and retention, in its first round: with the hostile
# path too)

my $evil = $su->(q{SELECT count(*) FROM public.evil_log});
is($evil, 0, 'nothing the extension ran resolved to the planted operators, functions, types or tables')
  or diag($su->(q{SELECT who, what, super FROM public.evil_log ORDER BY at}));
is($su->(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'the attacker is not a superuser');
my $probe = $su->(q{SELECT string_agg(DISTINCT who || ' super=' || super, ', ') FROM public.probe_log});
is($probe, 'signicat_worker super=off',
	'the worker recorded every status change as signicat_worker, not as a superuser');
is($su->(q{SELECT count(*) >= 4 FROM public.probe_log}), 't',
	'(and it did record them: two changes of each of the two items)');
check_no_crash($node, $log0);

done_testing();
