# 008_upgrade.pl: ALTER EXTENSION signicat UPDATE gives the same objects as a fresh install, from
# every older version, and keeps the data.
#
# Database "upgraded" installs the oldest version (0.1.0), gets data (followed items, history,
# synced processes), then ALTER EXTENSION signicat UPDATE to the default version, through every
# update script in turn; database "fresh" installs the default version directly. Every other older
# version is installed in a database of its own and updated the same way (from_0_2_0 goes through
# signicat--0.2.0--0.3.0.sql alone). Every object of the extension (functions with their
# signatures, bodies, settings and grants; tables with columns, defaults, constraints, indexes and
# grants; views with their definitions; sequences; comments; the schema's grants) must be the same
# in both, the data must have survived, and the worker must work on the upgraded database (its role
# and grants came with the update).

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 2 });
my $node = new_node('upgrade');

my $default = query($node,
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'signicat'});
my @versions = split /\n/, query($node,
	q{SELECT version FROM pg_available_extension_versions WHERE name = 'signicat' ORDER BY 1});
note "versions: @versions, default $default";
cmp_ok(scalar @versions, '>=', 2, 'more than one version is installed (' . join(', ', @versions) . ')');
my $oldest = $versions[0];

# the objects of the extension, one line each, in a stable order
my $describe = q{
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'signicat'),
members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
    WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
acl(obj, acl) AS (
    SELECT obj, coalesce((SELECT string_agg(a::text, ' ' ORDER BY a::text) FROM unnest(acl) a), '-')
    FROM (SELECT p.oid::regprocedure::text, p.proacl FROM pg_proc p
          UNION ALL SELECT c.oid::regclass::text, c.relacl FROM pg_class c
          UNION ALL SELECT n.nspname, n.nspacl FROM pg_namespace n) x(obj, acl))
SELECT line FROM (
    SELECT 'function ' || p.oid::regprocedure || ' returns ' || pg_get_function_result(p.oid)
        || ' args ' || pg_get_function_arguments(p.oid) || ' lang ' || l.lanname
        || ' volatile ' || p.provolatile::text || ' strict ' || p.proisstrict
        || ' secdef ' || p.prosecdef || ' rows ' || p.prorows
        || ' config ' || coalesce(array_to_string(p.proconfig, ','), '-')
        || ' src ' || md5(p.prosrc) || ' bin ' || coalesce(p.probin, '-')
        || ' acl ' || (SELECT acl FROM acl WHERE obj = p.oid::regprocedure::text)
        || ' comment ' || coalesce(obj_description(p.oid, 'pg_proc'), '-') AS line
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    JOIN pg_language l ON l.oid = p.prolang
    UNION ALL
    SELECT 'relation ' || c.oid::regclass || ' kind ' || c.relkind::text
        || ' options ' || coalesce(array_to_string(c.reloptions, ','), '-')
        || ' acl ' || (SELECT acl FROM acl WHERE obj = c.oid::regclass::text)
        || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '-')
        || CASE WHEN c.relkind = 'v' THEN ' view ' || md5(pg_get_viewdef(c.oid)) ELSE '' END
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    SELECT 'column ' || c.oid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
        || ' notnull ' || a.attnotnull
        || ' default ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-')
        || ' comment ' || coalesce(col_description(c.oid, a.attnum), '-')
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT 'constraint ' || con.conrelid::regclass || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_constraint con ON con.conrelid = c.oid
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_index i ON i.indrelid = c.oid
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT 'row security ' || c.oid::regclass || ' ' || c.relrowsecurity || ' forced ' || c.relforcerowsecurity
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind = 'r'
    UNION ALL
    SELECT 'policy ' || pol.polname || ' on ' || pol.polrelid::regclass || ' for ' || pol.polcmd::text
        || ' permissive ' || pol.polpermissive
        || ' to ' || (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END, ',' ORDER BY 1) FROM unnest(pol.polroles) r)
        || ' using ' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '-')
        || ' check ' || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '-')
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_policy pol ON pol.polrelid = c.oid
    UNION ALL
    SELECT 'dumped with the data: ' || c::regclass
    FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'signicat'
    UNION ALL
    SELECT 'schema ' || n.nspname || ' acl ' || (SELECT acl FROM acl WHERE obj = n.nspname)
    FROM pg_namespace n WHERE n.nspname = 'signicat'
    UNION ALL
    SELECT 'role ' || r.rolname || ' login ' || r.rolcanlogin || ' member of '
        || coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members am
                     JOIN pg_roles g ON g.oid = am.roleid WHERE am.member = r.oid), '-')
    FROM pg_roles r WHERE r.rolname LIKE 'signicat\_%'
) all_lines ORDER BY line};

query($node, 'CREATE DATABASE upgraded');
query($node, 'CREATE DATABASE fresh');
my $in = sub {
	my ($db, $sql) = @_;
	return $node->safe_psql($db, $sql);
};

# --- the oldest version, with data ------------------------------------------------------------------
$in->('upgraded', "CREATE EXTENSION signicat VERSION '$oldest'");
is($in->('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'signicat'}), $oldest,
	"installed $oldest");
my $seed = mock('POST', '/__mock/seed-processes', { count => 3, status => 'processing', provider => 'onfido' });
my ($dossier, @pids) = ($seed->{dossierId}, @{ $seed->{processIds} });
$in->('upgraded', qq{
	SELECT signicat.watch_add('assure_process', p::uuid, '$dossier') FROM unnest(ARRAY['$pids[0]', '$pids[1]']) p;
	INSERT INTO signicat.status_history (watch_id, seq, kind, item_id, dossier_id, old_status, new_status)
	SELECT id, 1, kind, item_id, dossier_id, NULL, 'processing' FROM signicat.watch;
	UPDATE signicat.watch SET status = 'processing';
	SELECT signicat.sync_processes(now() - interval '1 day');
});
my $data = q{SELECT (SELECT count(*) FROM signicat.watch) || ' watched, '
	|| (SELECT count(*) FROM signicat.status_history) || ' history rows, '
	|| (SELECT count(*) FROM signicat.processes) || ' synced'};
my $before = $in->('upgraded', $data);
note "data before the update: $before";

# the new library serves the old objects until the update (0.1.0's operations() has six columns)
is($in->('upgraded', q{SELECT count(*) || ' ' || count(DISTINCT method || ' ' || path) || ' ' || count(*) FILTER (WHERE idempotent) FROM signicat.operations()}), '82 82 53',
	"the library serves ${oldest}'s signicat.operations() before the update");

# --- update, and a fresh install ------------------------------------------------------------------
$in->('upgraded', 'ALTER EXTENSION signicat UPDATE');
is($in->('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'signicat'}), $default,
	"ALTER EXTENSION signicat UPDATE went from $oldest to $default");
$in->('fresh', 'CREATE EXTENSION signicat');

my @upgraded = split /\n/, $in->('upgraded', $describe);
my @fresh = split /\n/, $in->('fresh', $describe);
cmp_ok(scalar @fresh, '>', 150, 'the description covers the extension (' . scalar(@fresh) . ' lines)');
my %u = map { ($_ => 1) } @upgraded;
my %f = map { ($_ => 1) } @fresh;
my @only_upgraded = grep { !$f{$_} } @upgraded;
my @only_fresh = grep { !$u{$_} } @fresh;
is(scalar(@only_upgraded) + scalar(@only_fresh), 0,
	'the updated extension has exactly the objects of a fresh install')
  or diag("only after the update:\n  " . join("\n  ", @only_upgraded)
	  . "\nonly in a fresh install:\n  " . join("\n  ", @only_fresh));

is($in->('upgraded', $data), $before, "the data survived the update ($before)");

# --- every other older version, updated step by step, gives the same objects ------------------------
for my $v (grep { $_ ne $oldest && $_ ne $default } @versions)
{
	(my $db = "from_$v") =~ tr/./_/;
	query($node, "CREATE DATABASE $db");
	$in->($db, "CREATE EXTENSION signicat VERSION '$v'");
	$in->($db, 'ALTER EXTENSION signicat UPDATE');
	is($in->($db, q{SELECT extversion FROM pg_extension WHERE extname = 'signicat'}), $default,
		"ALTER EXTENSION signicat UPDATE went from $v to $default");
	my %from = map { ($_ => 1) } split /\n/, $in->($db, $describe);
	my @only_from = grep { !$f{$_} } sort keys %from;
	my @missing = grep { !$from{$_} } @fresh;
	is(scalar(@only_from) + scalar(@missing), 0,
		"updated from $v: exactly the objects of a fresh install")
	  or diag("only after the update from $v:\n  " . join("\n  ", @only_from)
		  . "\nonly in a fresh install:\n  " . join("\n  ", @missing));
}

# --- the worker works on the updated database ---------------------------------------------------------
isnt($in->('upgraded', 'SELECT signicat.start_worker()'), '', 'a worker started on the updated database');
wait_until('the worker followed the old items to their end', 60, sub {
	$in->('upgraded', q{SELECT count(*) = 2 FROM signicat.watch WHERE state = 'done'}) eq 't';
});
is($in->('upgraded', q{SELECT string_agg(new_status, ',' ORDER BY seq) FROM signicat.status_history
	GROUP BY watch_id LIMIT 1}), 'processing,accepted',
	'the history goes on where the old version left it');
# the queue the update brought: its worker sends it, a create's process is enrolled
my $q = $in->('upgraded', qq{SELECT signicat.enqueue('assure_get_process',
	'{"dossier_id": "$dossier", "process_id": "$pids[2]"}')});
wait_until('the worker sent the queued request', 60, sub {
	$in->('upgraded', qq{SELECT state = 'done' FROM signicat.queue WHERE id = $q}) eq 't';
});
is($in->('upgraded', qq{SELECT result->>'processId' FROM signicat.queue WHERE id = $q}), $pids[2],
	'a request queued on the updated database was sent, and its result recorded');
$in->('upgraded', 'SELECT signicat.stop_worker()');

done_testing();
