# 019_odd_answers.pl: answers the database cannot store, in a LATIN1 database, by a call and by the
# worker; one bad answer never stalls the others of its round; a call ends when its client goes.
#
# 1. A call whose answer holds a character LATIN1 lacks, as a \u escape or as raw UTF-8, or \u0000:
#    22P05 naming the operation (before: 08P01 "malformed JSON" for the escapes).
# 2. The worker polls, in one round, items whose answers hold such characters, an answer nested too
#    deeply for the parser (54001, raised while the round is applied) and healthy items: each bad
#    item records its error, counts it and backs off; every healthy item of the round is recorded.
#    (Before, the round aborted on the first bad answer, only the server log said so, and the healthy
#    items stayed pending round after round.)
# 3. A call waiting before a retry (Retry-After) or for an answer that does not come ends soon after
#    its client has gone, not after the wait.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use JSON::PP;
use SignicatTest;
use Test::More;
use Time::HiRes qw(time);

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 3 });
my $node = new_node('odd', <<'EOC', extra => [ '--encoding=LATIN1', '--locale=C' ]);
signicat.poll_max_interval = '1s'
EOC
my $log0 = log_offset($node);
is(query($node, 'SHOW server_encoding'), 'LATIN1', 'the database is LATIN1');
query($node, q{CREATE FUNCTION err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE state text; msg text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN state || ': ' || msg;
END $$});

# ---- 1. a call -------------------------------------------------------------------------------
my $dossier = query($node, q{SELECT signicat.assure_create_dossier('latin1') ->> 'dossierId'});
my %bodies = (
	'a \u escape LATIN1 lacks' => '{"externalReference": "\u0416ukov"}',
	'the same character as raw UTF-8' => "{\"externalReference\": \"\x{416}ukov\"}",
	'\u0000' => '{"externalReference": "a\u0000b"}',
);
for my $what (sort keys %bodies)
{
	mock('POST', '/__mock/faults', { operation => 'assure_get_dossier', status => 200, body => $bodies{$what} });
	like(query($node, "SELECT err(\$\$SELECT signicat.assure_get_dossier('$dossier')\$\$)"),
		qr/^22P05: Signicat's answer to assure_get_dossier holds a character that database encoding "LATIN1" cannot store$/,
		"a call: $what is 22P05, naming the operation");
}
mock('POST', '/__mock/faults', { operation => 'assure_get_dossier', status => 200,
	body => '{"externalReference": "\u00e6\u00f8\u00e5"}' });
is(query($node, "SELECT signicat.assure_get_dossier('$dossier') ->> 'externalReference' = E'\\xe6\\xf8\\xe5'"), 't',
	'a call: characters LATIN1 has are stored');
mock('DELETE', '/__mock/faults');

# ---- 2. the worker: one round with bad and healthy answers -----------------------------------
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');
query($node, 'SELECT signicat.stop_worker()');
my ($d, $items) = seed_and_watch($node, 8, 'odd-round');
my %bad = (
	$items->[0] => [ 'a \u escape LATIN1 lacks', '{"status": "accepted", "name": "\u0416ukov"}', qr/cannot store/ ],
	$items->[1] => [ 'raw UTF-8 LATIN1 lacks', "{\"status\": \"accepted\", \"name\": \"\x{416}ukov\"}", qr/cannot store/ ],
	$items->[2] => [ '\u0000', '{"status": "accepted", "name": "a\u0000b"}', qr/cannot store/ ],
	$items->[3] => [ 'JSON nested too deeply', '{"status": "accepted", "x": ' . ('[' x 200000) . (']' x 200000) . '}',
		qr/stack depth limit exceeded.*54001/ ],
);
for my $item (keys %bad)
{
	mock('POST', '/__mock/faults', { operation => 'assure_get_process', path_contains => $item,
		status => 200, body => $bad{$item}[1], count => -1 });
}
query($node, 'SELECT signicat.start_worker()');
my @healthy = @{$items}[ 4 .. 7 ];
my $healthy_list = join(',', map { "'$_'" } @healthy);
wait_query($node, 'the healthy items of the round are followed to their end', 60,
	"SELECT count(*) = 4 FROM signicat.watch WHERE item_id IN ($healthy_list) AND state = 'done'");
for my $item (sort keys %bad)
{
	my ($what, undef, $re) = @{ $bad{$item} };
	wait_query($node, "the item whose answer has $what records an error", 30,
		"SELECT errors >= 1 FROM signicat.watch WHERE item_id = '$item'");
	my ($state, $errors, $last_error, $backs_off) = split /\|/, query($node,
		"SELECT state, errors, last_error, next_poll_at > now() FROM signicat.watch WHERE item_id = '$item'");
	is($state, 'active', "$what: the item is still followed");
	is($backs_off, 't', "$what: the item backs off (its next poll is later)");
	like($last_error, $re, "$what: last_error says why ($last_error)");
}
is(query($node, "SELECT count(*) FROM signicat.status_history h JOIN signicat.watch w ON w.id = h.watch_id
	WHERE w.item_id IN ($healthy_list)"), 8, 'the healthy items have their history, once per change');
like(log_after($node, $log0), qr/recording the round item by item/,
	'the server log says that a round was recorded item by item');
mock('DELETE', '/__mock/faults');
my $bad_list = join(',', map { "'$_'" } keys %bad);
wait_query($node, 'once the answers are good again, the bad items end too', 60,
	"SELECT count(*) = 4 FROM signicat.watch WHERE item_id IN ($bad_list) AND state = 'done'");

# ---- 3. a call ends when its client goes ----------------------------------------------------
# a psql of its own, killed while its call waits; the backend must end within a few seconds
# (before: after the whole wait)
sub call_then_kill_client
{
	my ($what, $fault, $sql) = @_;
	mock('POST', '/__mock/faults', $fault);
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$out, '2>', \$err);
	my $pid;
	wait_until("$what: the call waits", 30, sub {
		$pid = query($node, q{SELECT pid FROM pg_stat_activity
			WHERE query LIKE '%assure_get_dossier%' AND pid <> pg_backend_pid()});
		return $pid ne '';
	}) or return;
	my $t0 = time;
	$h->kill_kill;
	my $gone = wait_until("$what: the backend ends once its client is gone", 20, sub {
		query($node, "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") eq '0' });
	ok($gone, sprintf('%s: the backend ended %.1f s after its client went', $what, time - $t0));
	mock('DELETE', '/__mock/faults');
}
query($node, q{ALTER SYSTEM SET signicat.max_retry_wait = '10min'});
query($node, q{ALTER SYSTEM SET signicat.timeout = '10min'});
query($node, 'SELECT pg_reload_conf()');
call_then_kill_client('waiting 300 s before a retry',
	{ operation => 'assure_get_dossier', status => 503, retry_after => '300', count => -1 },
	"SELECT signicat.assure_get_dossier('$dossier')");
call_then_kill_client('waiting for an answer that does not come',
	{ operation => 'assure_get_dossier', hang => JSON::PP::true, count => -1 },
	"SELECT signicat.assure_get_dossier('$dossier')");
like(log_after($node, $log0), qr/connection to client lost/, 'the server log says the client was lost');

check_no_crash($node, $log0);
done_testing();
