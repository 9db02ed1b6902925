# 021_queue.pl: the after-commit queue (signicat.enqueue, signicat.queue) across the worker's death,
# a server restart, an unreachable upstream, and a real client waiting for an outcome.
#
# 1. kill -9 mid-send: a POST (assure_create_dossier) and a GET (assure_get_dossier) are held at
#    the mock (hang) while their rows are 'sending'; the worker is killed with SIGKILL and the
#    postmaster reinitializes. The POST becomes 'unknown' and is never sent again (the mock saw it
#    once); the GET is queued again and ends 'done' with 2 attempts (the mock saw it twice).
# 2. a server restart with a queue: 200 GETs and 20 POSTs queued in one transaction, answers slowed
#    by the mock (POSTs 1 s, well under the worker's 5 s drain); the server is restarted (fast)
#    while a POST is in flight. Every row ends 'done', none is lost, none was left 'sending' for the
#    next worker to settle, and the mock saw each POST exactly once.
# 3. the upstream down and back: signicat.base_url points at a closed port (connection refused);
#    a POST and a GET queued meanwhile are retried (queued again, attempts >= 2, never 'failed' or
#    'unknown'); once the URL is right again both end 'done', and the POST reached the mock once.
# 4. a real client that LISTENs: the Python example of README.md (between the listen-example
#    markers), run as written with Debian's python3-psycopg, waits for a create queued while the
#    worker is stopped: it LISTENs, finds the request unfinished, and must be woken by the
#    worker's NOTIFY signicat_queue once the worker is started; it prints "done {...}".
# 5. a fast shutdown while the worker waits for a synchronous standby that does not exist (the
#    claim of a POST commits synchronously): the worker ends, the POST it claimed is given back,
#    and is sent once after the restart.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use SignicatTest;
use Test::More;
use Time::HiRes qw(time usleep);

start_mock();
my $node = new_node('queue');
my $log0 = log_offset($node);
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');

# the mock's logged requests of one operation
my $requests = sub { @{ mock('GET', "/__mock/requests?operation=$_[0]") } };
# how many creates reached the mock with this external reference
my $creates_of = sub {
	my ($reference) = @_;
	return scalar grep { ref $_->{body} eq 'HASH' && ($_->{body}{externalReference} // '') eq $reference }
	  $requests->('assure_create_dossier');
};
# how many GETs of this dossier reached the mock
my $gets_of = sub {
	my ($dossier) = @_;
	return scalar grep { $_->{path} =~ /\Q$dossier\E/ } $requests->('assure_get_dossier');
};
my $row = sub {
	my ($id, $cols) = @_;
	return query($node, "SELECT $cols FROM signicat.queue WHERE id = $id");
};

# ---------------------------------------------------------------------------------------------
# 1. kill -9 while a POST and a GET are being sent
# ---------------------------------------------------------------------------------------------
my $d1 = query($node, q{SELECT signicat.assure_create_dossier('x')->>'dossierId'});
like($d1, qr/^[0-9a-f-]{36}$/, 'a dossier created synchronously');

# each held by the mock until its connection closes (the kill closes them)
mock('POST', '/__mock/faults', [
	{ operation => 'assure_create_dossier', hang => JSON::PP::true, count => 1 },
	{ operation => 'assure_get_dossier', hang => JSON::PP::true, count => 1 },
]);
my ($q_post, $q_get) = split /\n/, query($node, qq{BEGIN;
	SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "kill-post"}');
	SELECT signicat.enqueue('assure_get_dossier', '{"dossier_id": "$d1"}');
	COMMIT;});
ok($q_post && $q_get, "queued a POST ($q_post) and a GET ($q_get)");

ok(wait_until('both requests are sending and held at the mock', 60, sub {
	$row->($q_post, 'state') eq 'sending' && $row->($q_get, 'state') eq 'sending'
	  && $creates_of->('kill-post') == 1 && $gets_of->($d1) == 1;
}), 'both rows are sending and both requests reached the mock')
  or diag(query($node, "SELECT id, state, method, attempts, message FROM signicat.queue WHERE id IN ($q_post, $q_get)"));
is(query($node, "SELECT string_agg(method, ',' ORDER BY id) FROM signicat.queue WHERE id IN ($q_post, $q_get)"),
	'POST,GET', 'their methods are recorded');

my $pid = worker_pid($node);
my $log1 = log_offset($node);
ok(kill('KILL', $pid), "kill -9 the worker (pid $pid) mid-send");
ok(wait_for_log_after($node, $log1, qr/terminated by signal 9/, 30)
	  && wait_for_log_after($node, $log1, qr/all server processes terminated; reinitializing/, 30)
	  && wait_query($node, 'the node accepts connections again', 60, 'SELECT true'),
	'the postmaster reinitialized and accepts connections');
wait_until('a new worker runs', 30, sub { my $p = worker_pid($node); defined $p && $p != $pid });

ok(wait_query($node, 'the POST is unknown and the GET done', 60, qq{
	SELECT (SELECT state FROM signicat.queue WHERE id = $q_post) = 'unknown'
	   AND (SELECT state FROM signicat.queue WHERE id = $q_get) = 'done'}),
	'after the restart: the POST is settled, the GET sent again')
  or diag(query($node, "SELECT id, state, method, attempts, message FROM signicat.queue WHERE id IN ($q_post, $q_get)"));
# time enough for a wrong resend to happen
usleep(2_000_000);

is($row->($q_post, q{state || '|' || attempts || '|' || (finished_at IS NOT NULL) || '|' || coalesce(message, '')}),
	'unknown|1|true|the worker stopped while this request was being sent: it may or may not have reached Signicat',
	'the POST being sent when the worker died is unknown, with the reason');
is($creates_of->('kill-post'), 1, 'the POST reached the mock once and was never sent again');
is($row->($q_post, q{result IS NULL AND claimed_by IS NULL}), 't', 'the unknown POST has no result and no claim');
is($row->($q_get, q{state || '|' || attempts || '|' || http_status || '|' || (result->>'dossierId')}),
	"done|2|200|$d1", 'the GET being sent was sent again: done, 2 attempts, its result recorded');
is($gets_of->($d1), 2, 'the mock saw the GET twice');
like(log_after($node, $log1), qr/being sent when the worker stopped/,
	'the new worker logged that it settled the orphaned requests');
mock('DELETE', '/__mock/faults');

# ---------------------------------------------------------------------------------------------
# 2. a server restart with a queue, POSTs in flight
# ---------------------------------------------------------------------------------------------
my $d2 = query($node, q{SELECT signicat.assure_create_dossier('restart')->>'dossierId'});
mock('POST', '/__mock/faults', [
	{ operation => 'assure_get_dossier', delay_ms => 50, count => -1 },
	{ operation => 'assure_create_dossier', delay_ms => 1000, count => -1 },
]);
# 220 requests in one transaction: every 11th a create with its own reference
my ($first, $last) = split /\|/, query($node, qq{
	SELECT min(id) || '|' || max(id) FROM (
		SELECT CASE WHEN g % 11 = 0
		            THEN signicat.enqueue('assure_create_dossier', jsonb_build_object('external_reference', 'restart-' || g))
		            ELSE signicat.enqueue('assure_get_dossier', jsonb_build_object('dossier_id', '$d2'))
		       END AS id
		FROM generate_series(1, 220) g) q});
is($last - $first + 1, 220, "220 requests queued in one transaction ($first..$last)");
my $range = "id BETWEEN $first AND $last";

# wait for some answers recorded and a POST sent less than half a second ago (its answer comes 1 s
# after it arrived: it is in flight when the restart begins)
my %received_at;
my @in_flight;
my $t_restart;
ok(wait_until('some requests done and a POST in flight', 60, sub {
	return 0 unless query($node, "SELECT count(*) >= 20 FROM signicat.queue WHERE $range AND state = 'done'") eq 't';
	my %sending = map { ($_ => 1) } split /\n/, query($node,
		"SELECT arguments->>'external_reference' FROM signicat.queue WHERE $range AND method = 'POST' AND state = 'sending'");
	%received_at = map { ($_->{body}{externalReference} => $_->{received_at}) }
	  grep { ref $_->{body} eq 'HASH' && ($_->{body}{externalReference} // '') =~ /^restart-\d+$/ }
	  $requests->('assure_create_dossier');
	my $now = time;
	@in_flight = grep { $sending{$_} && $received_at{$_} > $now - 0.5 } keys %received_at;
	$t_restart = $now;
	return @in_flight > 0;
}), 'the worker is sending the queue, a POST in flight');
note 'before the restart: ' . query($node,
	"SELECT string_agg(state || ' ' || n, ', ') FROM (SELECT state, count(*) n FROM signicat.queue WHERE $range GROUP BY 1 ORDER BY 1) s");

my $log2 = log_offset($node);
$node->restart;
# POSTs whose answers came after the restart began: the worker waited for them
my @waited_for = grep { $received_at{$_} + 1.0 > $t_restart } @in_flight;
note 'POSTs in flight at the restart: ' . join(', ', sort @in_flight);

ok(wait_query($node, 'every queued request is finished after the restart', 120,
	"SELECT count(*) = 220 FROM signicat.queue WHERE $range AND state IN ('done', 'failed', 'unknown')"),
	'every request ended in a final state')
  or diag(query($node, "SELECT state, method, count(*), max(message) FROM signicat.queue WHERE $range GROUP BY 1, 2"));
usleep(500_000);

is(query($node, "SELECT count(*) FROM signicat.queue WHERE $range"), 220, 'no request was lost');
is(query($node, "SELECT coalesce(string_agg(method || ' ' || state || ': ' || n, ', '), 'none') FROM (
		SELECT method, state, count(*) n FROM signicat.queue WHERE $range AND state <> 'done' GROUP BY 1, 2) s"),
	'none', 'every request is done: no GET unknown, no POST unknown (the restart waited for the answers)');
is(query($node, "SELECT count(*) FROM signicat.queue WHERE $range AND method = 'POST'
		AND result->>'externalReference' IS DISTINCT FROM arguments->>'external_reference'"),
	0, 'each POST recorded its own dossier');
my @twice = grep { $creates_of->("restart-$_") != 1 } map { $_ * 11 } 1 .. 20;
is(scalar @twice, 0, 'the mock saw each of the 20 POSTs exactly once')
  or diag('not once: ' . join(', ', map { "restart-$_ x" . $creates_of->("restart-$_") } @twice));
cmp_ok($gets_of->($d2), '>=', 200, 'the mock saw the 200 GETs');
unlike(log_after($node, $log2), qr/being sent when the worker stopped/,
	'no request was left sending for the next worker to settle');
SKIP:
{
	skip 'no POST was still in flight when the restart began (slow test machine)', 1 unless @waited_for;
	my $list = join(',', map { "'$_'" } @waited_for);
	is(query($node, "SELECT string_agg(state || ' ' || attempts, ',') FROM (SELECT DISTINCT state, attempts
			FROM signicat.queue WHERE $range AND arguments->>'external_reference' IN ($list)) s"),
		'done 1', scalar(@waited_for) . ' POSTs in flight at the restart were waited for: done at their first attempt');
}
mock('DELETE', '/__mock/faults');

# ---------------------------------------------------------------------------------------------
# 3. the upstream down (connection refused), then back
# ---------------------------------------------------------------------------------------------
my $d3 = query($node, q{SELECT signicat.assure_create_dossier('down')->>'dossierId'});
# (a worker started anew reads the closed port from the configuration: no race with the reload)
query($node, 'SELECT signicat.stop_worker()');
query($node, q{ALTER SYSTEM SET signicat.base_url = 'http://127.0.0.1:1'});
query($node, 'SELECT pg_reload_conf()');
wait_query($node, 'the configuration names the closed port', 30,
	q{SELECT current_setting('signicat.base_url') = 'http://127.0.0.1:1'});
my ($q3_post, $q3_get) = split /\n/, query($node, qq{BEGIN;
	SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "down-post"}');
	SELECT signicat.enqueue('assure_get_dossier', '{"dossier_id": "$d3"}');
	COMMIT;});
query($node, 'SELECT signicat.start_worker()');

my %states_seen;
ok(wait_until('both requests were tried twice and queued again', 60, sub {
	my @rows = split /\n/, query($node,
		"SELECT state || '|' || attempts FROM signicat.queue WHERE id IN ($q3_post, $q3_get) ORDER BY id");
	my $ok = @rows == 2;
	for (@rows)
	{
		my ($state, $attempts) = split /\|/;
		$states_seen{$state}++;
		$ok &&= $state eq 'queued' && $attempts >= 2;
	}
	return $ok;
}), 'the POST and the GET were retried while the upstream was down')
  or diag(query($node, "SELECT id, state, attempts, message FROM signicat.queue WHERE id IN ($q3_post, $q3_get)"));
is(join(',', grep { !/^(queued|sending)$/ } sort keys %states_seen), '',
	'never failed nor unknown while down (connection refused: nothing was sent)');
is(query($node, "SELECT count(*) FROM signicat.queue WHERE id IN ($q3_post, $q3_get)
		AND finished_at IS NULL AND message IS NOT NULL AND result IS NULL"),
	2, 'each records its last error and is not finished');
note 'while down: ' . query($node, "SELECT string_agg(method || ': ' || message, ' | ') FROM signicat.queue WHERE id IN ($q3_post, $q3_get)");
is($creates_of->('down-post'), 0, 'nothing reached the mock meanwhile');

# the upstream is back
query($node, 'ALTER SYSTEM RESET signicat.base_url');
query($node, 'SELECT pg_reload_conf()');
ok(wait_query($node, 'both requests are done once the upstream is back', 60, qq{
	SELECT count(*) = 2 FROM signicat.queue WHERE id IN ($q3_post, $q3_get) AND state = 'done'}),
	'both ended done')
  or diag(query($node, "SELECT id, state, attempts, message FROM signicat.queue WHERE id IN ($q3_post, $q3_get)"));
usleep(1_000_000);
is($creates_of->('down-post'), 1, 'the POST reached the mock exactly once');
is($row->($q3_post, q{result->>'externalReference'}), 'down-post', 'the POST recorded its dossier');
is($row->($q3_get, q{result->>'dossierId'}), $d3, 'the GET recorded its answer');
cmp_ok($row->($q3_post, 'attempts'), '>=', 3, 'the POST took its retries and one more attempt');

# ---------------------------------------------------------------------------------------------
# 4. the README's Python client: LISTEN, look, wait for the notification
# ---------------------------------------------------------------------------------------------
my $readme = slurp_file("$FindBin::RealBin/../../README.md");
my ($code) = $readme =~ /^<!-- listen-example:begin -->\n```python\n(.*?)^```\n<!-- listen-example:end -->$/ms;
ok(defined $code && $code =~ /LISTEN signicat_queue/, 'README.md has the Python example between the listen-example markers')
  or BAIL_OUT('no listen-example in README.md');
my $dir = PostgreSQL::Test::Utils::tempdir('listen');
my $script = "$dir/example.py";
open(my $fh, '>', $script) or die "$script: $!";
print $fh $code;
close($fh);

query($node, 'SELECT signicat.stop_worker()');
ok(!defined worker_pid($node), 'the worker is stopped');
my $q4 = query($node, q{SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "listen-example"}')});

my ($out, $err) = ('', '');
my $client;
{
	local $ENV{SIGNICAT_DSN} = $node->connstr('postgres');
	local $ENV{PGAPPNAME} = 'signicat-listen-example';
	$client = IPC::Run::start([ '/usr/bin/python3', $script, $q4 ],
		'<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(120));
}
# the client has LISTENed and looked (the request is not finished: nothing sends it)
ok(wait_query($node, 'the client LISTENs and has looked at its request', 60, q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE application_name = 'signicat-listen-example' AND state = 'idle'
	  AND query LIKE 'SELECT finished_at IS NOT NULL FROM signicat.queue WHERE id%'}),
	'the client waits for a notification')
  or diag("client stdout: $out\nstderr: $err");
is($row->($q4, 'state') . '|' . (worker_pid($node) // 'no worker'), 'queued|no worker',
	'its request was still queued when it looked (it must be woken by the NOTIFY)');

query($node, 'SELECT signicat.start_worker()');
my $exited = wait_until('the client exits', 30, sub {
	$client->pump_nb if $client->pumpable;
	return !$client->pumpable;
});
if ($exited)
{
	$client->finish;
}
else
{
	$client->kill_kill;
}
is($exited ? $client->result(0) : 'still running', 0, 'the client exited 0') or diag("client stderr: $err");
my $dossier4 = $row->($q4, q{result->>'dossierId'});
like($out, qr/^done \{.*"dossierId": "\Q$dossier4\E".*\}\n\z/s, 'it printed done and the result, with its dossier')
  or diag("client stdout: $out\nstderr: $err");
note "the client printed: $out";
is($row->($q4, 'state'), 'done', 'the request is done');
is($creates_of->('listen-example'), 1, 'the create reached the mock once');

# ---------------------------------------------------------------------------------------------
# 5. a shutdown while the worker waits for a synchronous standby that is not there
# ---------------------------------------------------------------------------------------------
# The claim of a POST commits synchronously (whatever synchronous_commit says), so with a
# synchronous standby named that does not exist the worker waits in SyncRep. A fast shutdown must
# still end it (such a wait ends only with a backend's die), and the request, never sent, is
# given back to the queue and sent once after the restart.
# (in the configuration, and a restart: a reload could reach the worker after its claim)
# (a node made without allows_streaming has max_wal_senders = 0: no synchronous replication)
$node->append_conf('postgresql.conf', "wal_level = replica\nmax_wal_senders = 2\nsynchronous_standby_names = 'nostandby'");
$node->restart;
wait_until('the worker runs again', 30, sub { worker_pid($node) }) or die('no signicat worker');
my $q5 = query($node, q{SET synchronous_commit = local;
	SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "syncrep"}')});
ok(wait_query($node, 'the worker waits for the standby', 30,
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'signicat worker' AND wait_event = 'SyncRep'}),
	'the worker waits for a synchronous standby while claiming a POST');
my $t0 = time;
$node->stop('fast');
note sprintf('the fast shutdown took %.1f s', time - $t0);
pass('a fast shutdown ended the worker waiting for the missing standby');
$node->append_conf('postgresql.conf', "synchronous_standby_names = ''");
$node->start;
ok(wait_query($node, 'the request is sent after the restart', 60,
	qq{SELECT state = 'done' FROM signicat.queue WHERE id = $q5}), 'the request was sent after the restart')
  or diag(query($node, qq{SELECT state || ' ' || attempts || ' ' || coalesce(message, '') FROM signicat.queue WHERE id = $q5}));
is($creates_of->('syncrep'), 1, 'it reached the mock once');

check_no_crash($node, $log0, 1);
$node->stop;
done_testing();
