# 001_worker_kill.pl: kill -9 the signicat worker in the middle of a round.
#
# 200 processing processes, each final after 6 GETs, GETs slowed to 30 ms by a mock fault so a
# round takes a while. Once some transitions are committed and polls are in flight, the worker
# is killed with SIGKILL: the postmaster reinitializes (crash recovery) and starts a new worker.
# Then every item must still end accepted with exactly one history row per transition.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;
use Time::HiRes qw(time usleep);

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 6 });
mock('POST', '/__mock/faults',
	{ operation => 'assure_get_process', delay_ms => 30, count => -1 });

my $node = new_node('worker_kill');
my $log0 = log_offset($node);

my $pid = undef;
wait_until('the worker runs', 30, sub { $pid = worker_pid($node) })
  or die('no signicat worker');
note "worker pid $pid";

my ($dossier, $pids) = seed_and_watch($node, 200);

# mid-round: some items done, others not, and polls in flight right now
wait_query($node, 'the worker is mid-round with some items done', 60, q{
	SELECT (SELECT count(*) FROM signicat.watch WHERE state = 'done') > 0
	   AND (SELECT count(*) FROM signicat.watch WHERE state <> 'done') > 0
	   AND (SELECT in_flight FROM signicat.worker_status) > 0})
  or die('the worker never got mid-round');

my $rows_before = query($node, 'SELECT count(*) FROM signicat.status_history');
my $before = query($node, q{
	SELECT (SELECT count(*) FROM signicat.status_history) || ' history rows, '
	    || (SELECT count(*) FROM signicat.watch WHERE state = 'done') || ' done, '
	    || (SELECT count(*) FROM signicat.watch WHERE claimed_until IS NOT NULL) || ' claimed'});
note "before the kill: $before";

my $log1 = log_offset($node);
ok(kill('KILL', $pid), "kill -9 the worker (pid $pid)");

my $recovered = wait_for_log_after($node, $log1, qr/terminated by signal 9/, 30)
  && wait_for_log_after($node, $log1, qr/all server processes terminated; reinitializing/, 30)
  && wait_query($node, 'the node accepts connections again', 60, 'SELECT true');
ok($recovered, 'the postmaster reinitialized and accepts connections');

my $new_pid;
wait_until('a new worker runs', 30, sub {
	my $p = worker_pid($node);
	$new_pid = $p if defined $p && $p != $pid;
	return defined $new_pid;
});
ok(defined $new_pid, 'the worker came back with a new pid (' . ($new_pid // 'none') . ')');

my $after = query($node, q{
	SELECT (SELECT count(*) FROM signicat.status_history) || ' history rows, '
	    || (SELECT count(*) FROM signicat.watch WHERE state = 'done') || ' done'});
note "after recovery: $after";
cmp_ok(query($node, 'SELECT count(*) FROM signicat.status_history'), '>=', $rows_before,
	'the history committed before the kill survived it');

mock('DELETE', '/__mock/faults');

wait_query($node, 'every item is done', 60,
	q{SELECT count(*) = 200 FROM signicat.watch WHERE state = 'done'});

# a short pause: nothing more may change once everything is done
usleep(500_000);
check_history($node, items => 200, final => 'accepted',
	# results lost in the crash may make the first status seen a final one
	paths => [ 'NULL>processing>accepted', 'NULL>accepted' ]);
is(query($node, "SELECT count(*) FROM signicat.watch WHERE status = 'accepted'"), 200,
	'all 200 final statuses are accepted');
check_no_crash($node, $log0, 1);

done_testing();
