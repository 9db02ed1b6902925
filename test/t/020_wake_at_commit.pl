# 020_wake_at_commit.pl: enrolling an item wakes the worker when the transaction commits.
#
# With a long signicat.worker_naptime, the worker sleeps between looks for due items; watch_add
# must wake it once the new row is visible, i.e. at commit. Woken at the INSERT itself (before the
# commit), it looked, found nothing due, and slept the whole naptime: every item created through SQL
# waited up to a naptime for its first poll.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;
use Time::HiRes qw(time usleep);

start_mock();
my $node = new_node('wake', "signicat.worker_naptime = '60s'\n");
wait_until('the worker runs', 30, sub { worker_pid($node) }) or die('no signicat worker');
# let it finish its first look and go to sleep
usleep(1_000_000);

my $seed = mock('POST', '/__mock/seed-processes', { count => 2, status => 'processing', provider => 'onfido' });
my ($dossier, @pids) = ($seed->{dossierId}, @{ $seed->{processIds} });

# enrolled in a transaction that commits a while later
my $t0 = time;
query($node, qq{BEGIN;
	SELECT signicat.watch_add('assure_process', '$pids[0]', '$dossier');
	SELECT pg_sleep(1);
	COMMIT;});
my $committed = time;
ok(wait_query($node, 'the item enrolled in a transaction is polled', 20,
	qq{SELECT last_polled_at IS NOT NULL FROM signicat.watch WHERE item_id = '$pids[0]'}),
	'polled after the commit');
my $after = time - $committed;
cmp_ok($after, '<', 10, sprintf('first poll %.1f s after the commit (naptime 60 s)', $after));

# a rolled-back enrolment leaves nothing to poll, and does not disturb the next one
query($node, qq{BEGIN; SELECT signicat.watch_add('assure_process', '$pids[1]', '$dossier'); ROLLBACK;});
is(query($node, qq{SELECT count(*) FROM signicat.watch WHERE item_id = '$pids[1]'}), 0, 'rolled back: not enrolled');
$committed = time;
query($node, qq{SELECT signicat.watch_add('assure_process', '$pids[1]', '$dossier')});
ok(wait_query($node, 'the item enrolled on its own is polled', 20,
	qq{SELECT last_polled_at IS NOT NULL FROM signicat.watch WHERE item_id = '$pids[1]'}),
	'polled after its own commit');
$after = time - $committed;
cmp_ok($after, '<', 10, sprintf('first poll %.1f s after the commit', $after));

$node->stop;
done_testing();
