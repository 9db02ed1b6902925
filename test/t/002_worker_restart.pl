# 002_worker_restart.pl: restart the server (fast shutdown) in the middle of a worker round.
#
# As 001_worker_kill.pl, but the worker is ended by a fast shutdown (SIGTERM) while polls are in
# flight, and the server then starts again: the new worker must void the old leases, and every
# item must still end accepted with exactly one history row per transition.

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

my $node = new_node('worker_restart');
my $log0 = log_offset($node);

my $pid;
wait_until('the worker runs', 30, sub { $pid = worker_pid($node) })
  or die('no signicat worker');
note "worker pid $pid";

seed_and_watch($node, 200);

wait_query($node, 'the worker is mid-round with some items done', 60, q{
	SELECT (SELECT count(*) FROM signicat.watch WHERE state = 'done') > 0
	   AND (SELECT count(*) FROM signicat.watch WHERE state <> 'done') > 0
	   AND (SELECT in_flight FROM signicat.worker_status) > 0})
  or die('the worker never got mid-round');

my $rows_before = query($node, 'SELECT count(*) FROM signicat.status_history');
note 'before the restart: ' . query($node, q{
	SELECT (SELECT count(*) FROM signicat.status_history) || ' history rows, '
	    || (SELECT count(*) FROM signicat.watch WHERE state = 'done') || ' done, '
	    || (SELECT count(*) FROM signicat.watch WHERE claimed_until IS NOT NULL) || ' claimed'});

my $t0 = time;
$node->restart;    # pg_ctl restart: fast shutdown
my $took = time - $t0;
note sprintf('restart took %.1f s', $took);
cmp_ok($took, '<', 15, 'the worker let a fast shutdown finish promptly');

my $new_pid;
wait_until('a new worker runs', 30, sub {
	my $p = worker_pid($node);
	$new_pid = $p if defined $p && $p != $pid;
	return defined $new_pid;
});
ok(defined $new_pid, 'the worker came back with a new pid (' . ($new_pid // 'none') . ')');
cmp_ok(query($node, 'SELECT count(*) FROM signicat.status_history'), '>=', $rows_before,
	'the history committed before the restart survived it');

mock('DELETE', '/__mock/faults');

wait_query($node, 'every item is done', 60,
	q{SELECT count(*) = 200 FROM signicat.watch WHERE state = 'done'});

usleep(500_000);
check_history($node, items => 200, final => 'accepted',
	paths => [ 'NULL>processing>accepted', 'NULL>accepted' ]);
is(query($node, "SELECT count(*) FROM signicat.watch WHERE status = 'accepted'"), 200,
	'all 200 final statuses are accepted');
check_no_crash($node, $log0);

done_testing();
