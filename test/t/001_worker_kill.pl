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

interrupt_mid_round('worker_kill', 'the kill', sub {
	my ($node, $pid) = @_;
	my $log1 = log_offset($node);

	ok(kill('KILL', $pid), "kill -9 the worker (pid $pid)");
	my $recovered = wait_for_log_after($node, $log1, qr/terminated by signal 9/, 30)
	  && wait_for_log_after($node, $log1, qr/all server processes terminated; reinitializing/, 30)
	  && wait_query($node, 'the node accepts connections again', 60, 'SELECT true');
	ok($recovered, 'the postmaster reinitialized and accepts connections');
}, 1);

done_testing();
