# 013_dump_restore.pl: pg_dump and pg_restore keep what the extension keeps.
#
# A database follows items (some done, with history, some still processing), has synced
# processes and a dropped item; it is dumped with pg_dump -Fc and restored into a new database.
# Every row of signicat.watch, status_history and processes must come back, the sequences must go
# on after the restored ids, the grants of the extension's roles must be those of a fresh install,
# and a worker started on the restored database must follow its items on. Requests still queued
# (signicat.queue) come back too, but the restored database's worker holds them as 'unknown'
# instead of sending them again: they were queued in the original, whose worker may send them.
# (Before, the install script did not mark the tables as configuration tables: the extension came
# back with empty tables.)

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 4 });
my $node = new_node('dump');

my ($d_done, $done) = seed_and_watch($node, 3, 'dump-done');
wait_query($node, 'three items are done', 60,
	q{SELECT count(*) = 3 FROM signicat.watch WHERE state = 'done'});
# items still being followed: the worker stops before they end
query($node, 'SELECT signicat.stop_worker()');
my ($d_open, $open) = seed_and_watch($node, 2, 'dump-open');
query($node, qq{SELECT signicat.watch_drop('assure_process', '$open->[1]')});
query($node, q{SELECT signicat.sync_processes(now() - interval '1 day')});
# a create queued while no worker runs: still queued in the dump
my $queued = query($node, q{SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "dump-queued"}')});

my ($contents, $rows) = (data_summary_sql(), data_rows_sql());
my $before = query($node, $contents);
my $before_rows = query($node, $rows);
note "before: $before";

my $dump = $node->basedir . '/signicat.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump -Fc');
query($node, 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
	'pg_restore into a new database');

my $in = sub { $node->safe_psql('restored', $_[0]) };
is($in->($contents), $before, "every row came back ($before)");
is($in->($rows), $before_rows, 'row for row, the same items, history (with its times) and synced processes');
is($in->(q{SELECT nextval('signicat.watch_id_seq') > (SELECT max(id) FROM signicat.watch)
          AND nextval('signicat.status_history_id_seq') > (SELECT max(id) FROM signicat.status_history)}),
	't', 'the sequences go on after the restored ids');
is($in->(q{SELECT string_agg(a::text, ' ' ORDER BY a::text) FROM pg_class c, unnest(c.relacl) a
          WHERE c.oid = 'signicat.watch'::regclass}),
	query($node, q{SELECT string_agg(a::text, ' ' ORDER BY a::text) FROM pg_class c, unnest(c.relacl) a
          WHERE c.oid = 'signicat.watch'::regclass}),
	'the grants on signicat.watch are those of the original');

# the worker resumes on the restored database
isnt($in->('SELECT signicat.start_worker()'), '', 'a worker started on the restored database');
followed_on($in, $open, 'restored');
ok(wait_until('the restored queued request is held', 30, sub {
	$in->(qq{SELECT state FROM signicat.queue WHERE id = $queued}) eq 'unknown' }),
	'the request queued in the original is held as unknown in the restored database');
like($in->(qq{SELECT message FROM signicat.queue WHERE id = $queued}), qr/queued in another database/,
	'its message says where it was queued');
is(scalar(grep { ref $_->{body} eq 'HASH' && ($_->{body}{externalReference} // '') eq 'dump-queued' }
		@{ mock('GET', '/__mock/requests') }), 0, 'the restored database sent nothing of it');
$in->('SELECT signicat.stop_worker()');
# the original's worker sends it
query($node, 'SELECT signicat.start_worker()');
ok(wait_query($node, 'the original sent its queued request', 30,
	qq{SELECT state = 'done' FROM signicat.queue WHERE id = $queued}), 'the original database sent it');
query($node, 'SELECT signicat.stop_worker()');

done_testing();
