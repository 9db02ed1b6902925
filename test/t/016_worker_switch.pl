# 016_worker_switch.pl: a worker switched on with signicat.start_worker() stays on across server
# restarts and crashes, one switched off stays off, and signicat.worker_status shows a database
# whose items wait with no worker.
#
# Before, a worker started with start_worker() was gone after a restart and nothing said so.

use strict;
use warnings FATAL => 'all';

use FindBin;
use lib $FindBin::RealBin;
use SignicatTest;
use Test::More;

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 3 });
my $node = new_node('switch');

my $worker_of = sub { worker_of($node, $_[0]) };
for my $db (qw(app idle))
{
	query($node, "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION signicat');
}
$node->safe_psql('app', 'SELECT signicat.start_worker()');
ok(wait_until('a worker runs for app', 30, sub { $worker_of->('app') }), 'start_worker() started a worker for app');
is($node->safe_psql('app', 'SELECT enabled FROM signicat.worker_switch'), 't', 'and switched it on');

# items wait in idle, where no worker runs: worker_status says so
my $seed = mock('POST', '/__mock/seed-processes', { count => 1, status => 'processing', provider => 'onfido' });
$node->safe_psql('idle', qq{SELECT signicat.watch_add('assure_process', '$seed->{processIds}[0]', '$seed->{dossierId}')});
is($node->safe_psql('idle', 'SELECT coalesce(pid::text, \'none\') || \' \' || items_active || \' \' || switched_on
	FROM signicat.worker_status'), 'none 1 false',
	'worker_status shows idle: one item waits, no worker, not switched on');

# a restart: app's worker comes back, idle stays without one
my $log1 = log_offset($node);
$node->restart;
ok(wait_until('the worker of app is back after a restart', 30, sub { $worker_of->('app') }),
	'after a restart, the worker switched on runs again');
ok(wait_for_log_after($node, $log1, qr/signicat launcher: 1 of 2 databases have their worker switched on/, 30),
	'the launcher looked at app and idle and started one worker');
is($worker_of->('idle'), undef, 'no worker for idle, which was never switched on');

# a crash: the same
my $pid = $worker_of->('app');
kill 'KILL', $pid;
ok(wait_until('the worker of app is back after a crash', 60, sub {
	my $p = eval { $worker_of->('app') };
	return defined $p && $p != $pid }), 'after a crash, the worker switched on runs again');

# switched off: stays off across a restart
$node->safe_psql('app', 'SELECT signicat.stop_worker()');
is($node->safe_psql('app', 'SELECT enabled FROM signicat.worker_switch'), 'f', 'stop_worker() switched it off');
my $log2 = log_offset($node);
$node->restart;
ok(wait_for_log_after($node, $log2, qr/signicat launcher: 0 of 2 databases have their worker switched on/, 30),
	'the launcher looked and started none');
is($worker_of->('app'), undef, 'after a restart, the worker switched off stays off');
ok($worker_of->('postgres'), 'the worker of signicat.worker_databases runs as before');

done_testing();
